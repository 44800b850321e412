"""The raw disk rule's failures, with the process mocked: one it explains, one it hands to Pants."""
from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, EMPTY_FILE_DIGEST, CreateDigest, Digest, MergeDigests
from pants.engine.process import FallibleProcessResult, ProcessExecutionFailure
from pants.option.global_options import KeepSandboxes
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from rules.core.failure import KeelProcessFailure
from rules.image.subsystems import AssemblySpace, ImageSubsystem
from rules.image.target_types import DEFAULT_PARTITIONS
from rules.image.util_rules.disk import AssemblyMemoryError, DiskTooSmallError, RawDiskRequest, raw_disk
from rules.image.util_rules.image_root import ImageRoot, ImagerRoot
from rules.image.util_rules.layout import disk_layout
from rules.sandbox.root import InRootProcess, InRootResult, RootArchive

ADDRESS = Address("images/core", target_name="raw")


def make_disk(exit_code: int, stdout: str, stderr: str) -> None:
    layout = disk_layout(ADDRESS, "64M", DEFAULT_PARTITIONS, "seed")
    request = RawDiskRequest(ImageRoot(EMPTY_DIGEST, "0" * 64, 0), layout, ADDRESS)

    def run(process: InRootProcess) -> InRootResult:
        assert process.description == "Make a 64 MiB disk with 2 partitions"
        result = FallibleProcessResult(
            stdout=stdout.encode(),
            stdout_digest=EMPTY_FILE_DIGEST,
            stderr=stderr.encode(),
            stderr_digest=EMPTY_FILE_DIGEST,
            exit_code=exit_code,
            output_digest=EMPTY_DIGEST,
            metadata=None,
        )
        return InRootResult(result)

    run_rule_with_mocks(
        raw_disk,
        rule_args=[request, create_subsystem(ImageSubsystem, assembly=AssemblySpace.memory, assembly_memory_mib=0)],
        mock_gets=[
            MockGet(output_type=ImagerRoot, input_types=(), mock=lambda: ImagerRoot(RootArchive(EMPTY_DIGEST, "0" * 64, 0))),
            MockGet(output_type=Digest, input_types=(CreateDigest,), mock=lambda _: EMPTY_DIGEST),
            MockGet(output_type=Digest, input_types=(MergeDigests,), mock=lambda _: EMPTY_DIGEST),
            MockGet(output_type=InRootResult, input_types=(InRootProcess,), mock=run),
            MockGet(output_type=KeepSandboxes, input_types=(), mock=lambda: KeepSandboxes.never),
        ],
    )


def test_a_partition_too_small_for_its_files_is_a_field_error() -> None:
    with pytest.raises(DiskTooSmallError, match=r"The `partitions` field of images/core:raw: partition root \(31 MiB\) cannot hold its 40 MiB"):
        make_disk(3, "KEEL-TOO-SMALL root 31 40\n", "")


def test_an_assembly_larger_than_its_memory_says_how_much_it_needs() -> None:
    with pytest.raises(AssemblyMemoryError) as error:
        make_disk(4, "KEEL-NO-ROOM 90 40 30\n", "")
    message = str(error.value)
    assert "Making the disk of images/core:raw needs about 90 MiB of memory" in message
    assert "has 40 MiB free" in message and "`[image].assembly_memory_mib`" in message
    assert '`[image].assembly = "disk"` (then about 30 MiB' in message


def test_any_other_failure_is_a_process_execution_failure_with_the_whole_log() -> None:
    log = "".join(f"mkfs line {i}\n" for i in range(500))
    with pytest.raises(ProcessExecutionFailure) as error:
        make_disk(1, log, "mkfs.ext4: No space left on device\n")
    assert isinstance(error.value, KeelProcessFailure) and error.value.exit_code == 1
    message = str(error.value)
    assert message.splitlines()[0] == "Making the disk of images/core:raw failed."
    assert "Process 'Make a 64 MiB disk with 2 partitions' failed with exit code 1." in message
    # Every line, not a tail; and Pants' hint on keeping the sandbox.
    assert "mkfs line 0\n" in message and "mkfs line 499\n" in message
    assert "mkfs.ext4: No space left on device" in message
    assert "--keep-sandboxes=on_failure" in message
