"""From an image root to the raw disk, then to the requested format.

The raw disk depends only on the root and the layout, so a `vhd` and a `vhdx` of the same image
share it (and everything before it) from cache; only the conversion differs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pants.engine.addresses import Address
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.process import FallibleProcessResult, Process, ProcessResult, ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.failure import check_process
from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.origin import TargetInputError
from rules.core.subsystems import HostSettings
from rules.image.subsystems import ImageSubsystem
from rules.image.util_rules.image_root import ImagerRoot, ImageRoot
from rules.image.util_rules.layout import DiskLayout
from rules.sandbox.root import InRootProcess, InRootResult, succeeded

_SCRIPTS = Path(__file__).parent.parent / "scripts"
MAKE_DISK_SCRIPT = (_SCRIPTS / "make_disk.sh").read_bytes()  # also run by update.py
_VHD_VHDX = (_SCRIPTS / "vhd_vhdx.py").read_bytes()
RAW_NAME = "disk.raw"


class DiskTooSmallError(TargetInputError):
    pass


class AssemblyMemoryError(Exception):
    pass


def too_small_error(
    result: FallibleProcessResult, address: Address
) -> DiskTooSmallError | AssemblyMemoryError | None:
    """What scripts/make_disk.sh says when a partition cannot hold its files, as a field error,
    or when the assembly would not fit in the memory it may take."""
    if result.exit_code == 0:
        return None
    for line in result.stdout.decode(errors="replace").splitlines():
        if line.startswith("KEEL-NO-ROOM "):
            need, free, files = (int(n) for n in line.split()[1:])
            return AssemblyMemoryError(
                f"Making the disk of {address} needs about {need} MiB of memory, and the imager "
                f"root's /tmp (a tmpfs) has {free} MiB free. Allow more with "
                f"`[image].assembly_memory_mib` (0: half the machine's memory), or make the "
                f"filesystem images on disk with `[image].assembly = \"disk\"` (then about "
                f"{files} MiB of memory, for the image's files)."
            )
        if line.startswith("KEEL-TOO-SMALL "):
            _, name, size, content = line.split()
            return DiskTooSmallError(
                f"The `partitions` field of {address}: partition {name} "
                f"({size} MiB) cannot hold its {content} MiB of files. Give it a larger "
                "`size` (and the disk a larger `size` if needed)."
            )
    return None


@dataclass(frozen=True)
class RawDiskRequest:
    root: ImageRoot
    layout: DiskLayout
    address: Address  # only for the message when files do not fit; not in the action's key


@dataclass(frozen=True)
class RawDisk:
    digest: Digest  # RAW_NAME
    seed: str  # what derived identifiers of later formats hang on
    source_date_epoch: int
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)
    worker: str | None = dataclasses.field(compare=False, default=None)  # InRootResult.worker


@rule(desc="Make a raw disk", level=LogLevel.DEBUG)
async def raw_disk(request: RawDiskRequest, image: ImageSubsystem) -> RawDisk:
    imager = await Get(ImagerRoot)
    inputs = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("make_disk.sh", MAKE_DISK_SCRIPT, is_executable=True),
                FileContent("plan.tsv", request.layout.plan().encode()),
                FileContent("gpt.sfdisk", request.layout.sfdisk_script().encode()),
            ]
        ),
    )
    process = InRootProcess(
        root=imager.archive,
        argv=("/bin/bash", "make_disk.sh", str(request.layout.size_mib)),
        input_digest=await Get(Digest, MergeDigests([inputs, request.root.digest])),
        description=f"Make a {request.layout.size_mib} MiB disk with {len(request.layout.partitions)} partitions",
        source_date_epoch=request.root.source_date_epoch,
        env=FrozenDict(image.assembly_env()),
        output_files=(RAW_NAME,),
    )
    ran = await Get(InRootResult, InRootProcess, process)
    result = ran.result
    too_small = too_small_error(result, request.address)
    if too_small:
        raise too_small
    await check_process(result, process.description, f"Making the disk of {request.address} failed.")
    return RawDisk(
        result.output_digest, request.layout.disk_guid, request.root.source_date_epoch, result.metadata, ran.worker
    )


@dataclass(frozen=True)
class ConvertDiskRequest:
    raw: RawDisk
    format: str


@dataclass(frozen=True)
class ConvertedDisk:
    digest: Digest
    filename: str
    # The last step's: what the build report says of the image.
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)
    worker: str | None = dataclasses.field(compare=False, default=None)  # InRootResult.worker


@rule(desc="Convert a disk image", level=LogLevel.DEBUG)
async def convert_disk(request: ConvertDiskRequest, host: HostSettings) -> ConvertedDisk:
    if request.format == "raw":
        return ConvertedDisk(request.raw.digest, RAW_NAME, request.raw.process, request.raw.worker)
    out = f"disk.{request.format}"
    if request.format == "qcow2":
        # qemu-img writes qcow2 without clock or random values (checked by the tests).
        imager = await Get(ImagerRoot)
        process = InRootProcess(
            root=imager.archive,
            argv=("qemu-img", "convert", "-f", "raw", "-O", "qcow2", RAW_NAME, out),
            input_digest=request.raw.digest,
            description="Convert a disk to qcow2",
            source_date_epoch=request.raw.source_date_epoch,
            output_files=(out,),
        )
        ran = await Get(InRootResult, InRootProcess, process)
        result = succeeded(ran, process)
        return ConvertedDisk(result.output_digest, out, result.metadata, ran.worker)
    tools, script = await MultiGet(
        Get(HostTools, HostToolsRequest(("python3",), host.search_path)),
        Get(Digest, CreateDigest([FileContent("vhd_vhdx.py", _VHD_VHDX)])),
    )
    extra = (str(request.raw.source_date_epoch),) if request.format == "vhd" else ()
    result = await Get(
        ProcessResult,
        Process(
            argv=(tools["python3"], "vhd_vhdx.py", request.format, RAW_NAME, out, request.raw.seed, *extra),
            input_digest=await Get(Digest, MergeDigests([script, request.raw.digest])),
            env={"KEEL_HOST_TOOLS": tools.identity},
            output_files=(out,),
            description=f"Write the {request.format.upper()} container",
            level=LogLevel.INFO,
        ),
    )
    return ConvertedDisk(result.output_digest, out, result.metadata)


def rules():
    return collect_rules()
