"""Build roots: root filesystems carried as archives, and processes that run inside them.

A toolchain stage produces a root (rules/toolchain). Pants digests keep only file content and
the executable bit, so a root travels as one deterministic `.tar.zst` file, whose sha256 is part
of the cache key of every action run in it. scripts/enter_root.sh unpacks each archive once per
machine into a named cache keyed by that sha256, then gives every action its own throw-away
overlay of it inside bubblewrap: owners, modes, setuid bits and the rpm database survive, and
set-up costs milliseconds, not a copy of the root. Build actions run here or on remote execution
workers (rules/sandbox/workers.py), in the same root, to the same bytes.
"""
from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pants.engine.addresses import Address
from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.engine.environment import EnvironmentName
from pants.engine.process import FallibleProcessResult, Process, ProcessExecutionFailure
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.option.global_options import KeepSandboxes
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.core.zstd import host_zstd_command
from rules.sandbox.bwrap import BUILD_DIR
from rules.sandbox.workers import LOCAL, BuildEnvironment

ARCHIVE_NAME = "root.tar.zst"
ROOT_TOOLS = (
    "bash", "unshare", "mount", "umount", "bwrap", "tar", "zstd", "flock",
    "mktemp", "rm", "rmdir", "mkdir", "mv", "touch", "true",
)
_ENTER_ROOT = (Path(__file__).parent / "scripts" / "enter_root.sh").read_bytes()
# How long a remote cache lookup may take before the action also starts here (see in_root_process).
REMOTE_CACHE_SPECULATION_DELAY_MS = 2000
# Inside the root: its own tools, a fixed home, locale and time zone.
ROOT_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"


@dataclass(frozen=True)
class RootArchive:
    """A root filesystem as one deterministic tar.zst (ARCHIVE_NAME in `digest`)."""

    digest: Digest
    sha256: str
    size: int


@dataclass(frozen=True)
class BuildRootRequest:
    """Which root `address` (an rpm_package) is built in; answered by rules/toolchain."""

    address: Address


@dataclass(frozen=True)
class BuildRoot:
    archive: RootArchive
    description: str  # e.g. "the root of //toolchain:official"
    # RPMs installed before the package's own BuildRequires closure (for a toolchain stage's
    # package: those built before it in the stage).
    preinstalled: Digest
    # rpm_package targets whose RPMs the root already holds or `preinstalled` brings.
    in_root: frozenset[Address]
    # For a package of a toolchain stage: that stage. Its BuildRequires may then only be met by
    # the root and the packages before it in the stage.
    stage: Address | None
    run_check: bool  # rpmbuild runs %check (the stage's `run_check`)
    env: FrozenDict[str, str]  # the stage's `build_env`


@dataclass(frozen=True)
class SpecRootRequest:
    """Which root `address` (an rpm_package) is read in by rpmspec, and with which macros;
    answered by rules/toolchain."""

    address: Address


@dataclass(frozen=True)
class SpecRoot:
    """Specs are read by the rpm of the root they are built in, with its macro files, so
    `%{_libdir}`, `%configure` and a distribution's own macros mean there what they mean in the
    build. A stage's own packages are read in its base root."""

    archive: RootArchive
    description: str
    # Macros a toolchain stage defines for its packages (`--define`), before the target's own.
    defines: tuple[tuple[str, str], ...]
    # Capability names the root holds without any target (see StageRoot.capabilities).
    capabilities: frozenset[str]
    env: FrozenDict[str, str]  # the stage's `build_env`


@dataclass(frozen=True)
class InRootProcess:
    """Run `argv` inside `root`, with `input_digest` at BUILD_DIR, the working directory.

    `env` is all the command sees. With `pack`, the root as the command left it is written to
    that file as a new root archive. With `read_only`, the command sees the root read-only and
    no overlay is set up (for queries such as rpmspec, which change nothing).
    """

    root: RootArchive
    argv: tuple[str, ...]
    input_digest: Digest
    description: str
    source_date_epoch: int
    env: FrozenDict[str, str] = FrozenDict()
    output_files: tuple[str, ...] = ()
    output_directories: tuple[str, ...] = ()
    pack: str | None = None
    read_only: bool = False
    level: LogLevel = LogLevel.INFO
    # May run on remote execution workers ([keel-execution].environment). Spec queries say no:
    # they plan the build, and are many and small.
    on_workers: bool = True


def root_env(source_date_epoch: int, extra: Mapping[str, str] = FrozenDict()) -> FrozenDict[str, str]:
    return FrozenDict(
        {
            "PATH": ROOT_PATH,
            "HOME": f"{BUILD_DIR}/home",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            "SOURCE_DATE_EPOCH": str(source_date_epoch),
            **extra,
        }
    )


@rule(desc="Prepare a process in a build root", level=LogLevel.DEBUG)
async def in_root_process(request: InRootProcess, host: HostSettings) -> Process:
    where = await Get(BuildEnvironment) if request.on_workers else LOCAL
    tools_request = HostToolsRequest(ROOT_TOOLS, host.search_path)
    tools, script = await MultiGet(
        # On workers, their tools: the paths in argv and the identity in the key are theirs.
        Get(HostTools, {tools_request: HostToolsRequest, where.name: EnvironmentName})
        if where.remote
        else Get(HostTools, HostToolsRequest, tools_request),
        Get(Digest, CreateDigest([FileContent("enter_root.sh", _ENTER_ROOT, is_executable=True)])),
    )
    inner_env = root_env(request.source_date_epoch, request.env)
    env = {
        **inner_env,
        # enter_root.sh itself runs on the host, with host tools.
        "PATH": host.path_env,
        "KEEL_ROOT_PATH": inner_env["PATH"],
        "KEEL_ROOT_ENV": " ".join(sorted(inner_env)),
        "KEEL_HOST_TOOLS": tools.identity,
    }
    if where.remote:
        # enter_root.sh names the machine it ran on, for the build report (never here: a local
        # result's output holds no host name).
        env["KEEL_NAME_WORKER"] = "1"
    immutable = {".keel/root": request.root.digest, ".keel/bin": script}
    pack_args: tuple[str, ...] = ()
    if request.pack:
        env["KEEL_COMPRESS"] = shlex.join(host_zstd_command(tools["zstd"]))
        pack_args = ("--pack", request.pack)
    if request.read_only:
        pack_args = ("--read-only",)
    return Process(
        argv=(
            tools["bash"],
            ".keel/bin/enter_root.sh",
            f".keel/root/{ARCHIVE_NAME}",
            request.root.sha256,
            *pack_args,
            "--",
            *request.argv,
        ),
        input_digest=request.input_digest,
        immutable_input_digests=FrozenDict(immutable),
        append_only_caches=FrozenDict({"keel_roots": ".keel/roots"}),
        env=FrozenDict(env),
        output_files=(*request.output_files, *((request.pack,) if request.pack else ())),
        output_directories=request.output_directories,
        description=request.description,
        level=request.level,
        timeout_seconds=None,
        # With a remote cache, Pants starts the local run at once, racing the lookup (its
        # default delay is 0): on a machine whose results are all in the cache, every action
        # would take a process slot, set up a sandbox and start rpmbuild only to be cancelled.
        # A lookup answers within milliseconds, hit or miss, so a miss is not held up.
        remote_cache_speculation_delay_millis=REMOTE_CACHE_SPECULATION_DELAY_MS,
    )


WORKER_MARKER = b"@@KEEL-WORKER "


@dataclass(frozen=True)
class InRootResult:
    """How an InRootProcess ended; `worker` is the remote execution worker it ran on, as
    enter_root.sh named it (None for a local run). Not part of equality, like Pants' metadata."""

    result: FallibleProcessResult
    worker: str | None = dataclasses.field(compare=False, default=None)


@rule(desc="Run a process in a build root", level=LogLevel.DEBUG)
async def run_in_root(request: InRootProcess) -> InRootResult:
    where = await Get(BuildEnvironment) if request.on_workers else LOCAL
    process = await Get(Process, InRootProcess, request)
    if not where.remote:
        return InRootResult(await Get(FallibleProcessResult, Process, process))
    result = await Get(FallibleProcessResult, {process: Process, where.name: EnvironmentName})
    marker = next((line for line in result.stderr.splitlines() if line.startswith(WORKER_MARKER)), b"")
    return InRootResult(result, marker[len(WORKER_MARKER):].decode(errors="replace").strip() or None)


def succeeded(ran: InRootResult, request: InRootProcess) -> FallibleProcessResult:
    """The result, or the error Pants raises for a failed ProcessResult."""
    result = ran.result
    if result.exit_code != 0:
        raise ProcessExecutionFailure(
            result.exit_code, result.stdout, result.stderr, request.description, keep_sandboxes=KeepSandboxes.never
        )
    return result


def rules():
    return collect_rules()
