"""Build one rpm_package inside its build root: sources + the RPMs of its BuildRequires
closure -> RPMs and SRPM."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from pants.engine.addresses import Address
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import FallibleProcessResult, Process, ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.option.global_options import GlobalOptions
from pants.util.logging import LogLevel

from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.util_rules import build_log
from rules.rpm.util_rules.package_graph import RpmPackageGraph, TargetPackageGraphRequest
from rules.rpm.util_rules.rpmbuild_env import REPRODUCIBLE_MACROS
from rules.rpm.util_rules.spec_info import RpmSpecInfo, RpmSpecInfoRequest, RpmSpecInput, macro_args
from rules.sandbox.root import BuildRoot, BuildRootRequest, InRootProcess
from rules.sources.fetch import SpecSources, SpecSourcesRequest

_BUILD_SCRIPT = (Path(__file__).parent.parent / "scripts" / "build_rpm.sh").read_bytes()
_RPM_FLAGS = (Path(__file__).parent.parent / "scripts" / "rpm_flags.sh").read_bytes()


class RpmBuildError(Exception):
    """rpmbuild failed for `address`; `log` is its whole output, kept at `log_path`."""

    def __init__(self, message: str, *, address: Address, log: str = "", log_path: str | None = None):
        super().__init__(message)
        self.address = address
        self.log = log
        self.log_path = log_path


class ToolchainOrderError(Exception):
    pass


def check_stage_order(address, info, root, closure_packages, graph) -> None:
    """A toolchain stage's package may only BuildRequire what its base root and the packages
    listed before it supply."""
    late = sorted({str(p.address) for p in closure_packages if p.address not in root.in_root})
    if late:
        raise ToolchainOrderError(
            f"{address} ({info.name}) is built by toolchain stage {root.stage}, but its "
            f"BuildRequires need {', '.join(late)}, which the stage does not list before it. "
            f"Move them before {address} in the `packages` of {root.stage}."
        )


@dataclass(frozen=True)
class BuildRpmRequest:
    address: Address


@dataclass(frozen=True)
class BuiltRpms:
    """A target's RPMs, as rpmbuild lays them out: RPMS/<arch>/*.rpm and SRPMS/*.src.rpm."""

    address: Address
    info: RpmSpecInfo
    digest: Digest
    rpms: tuple[str, ...]
    srpm: str
    sources: tuple[tuple[str, str], ...]  # (file name, sha256) of every Source and Patch
    # How rpmbuild's result was obtained (ran, cache hit...): not part of equality.
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)


def source_date_epoch(info: RpmSpecInfo, rpm: RpmSubsystem) -> int:
    """From the newest %changelog entry, never from the clock."""
    return info.changelog_time if info.changelog_time is not None else rpm.default_source_date_epoch


@rule(desc="Build an RPM", level=LogLevel.DEBUG)
async def build_rpm(
    request: BuildRpmRequest, rpm: RpmSubsystem, global_options: GlobalOptions
) -> BuiltRpms:
    spec_input, root = await MultiGet(
        Get(RpmSpecInput, RpmSpecInfoRequest(request.address)),
        Get(BuildRoot, BuildRootRequest(request.address)),
    )
    graph = await Get(RpmPackageGraph, TargetPackageGraphRequest(request.address))
    info = graph.info(request.address)
    graph.check_no_build_cycle(request.address)
    closure = graph.build_closure(request.address)
    owner = f"{info.spec_path} (target {request.address})"

    if root.stage is not None:
        check_stage_order(request.address, info, root, closure.packages, graph)
    # What the root already holds is not installed again.
    to_install = [p for p in closure.packages if p.address not in root.in_root]
    dep_addresses = sorted({p.address for p in to_install})
    built_deps = await MultiGet(Get(BuiltRpms, BuildRpmRequest(a)) for a in dep_addresses)
    built_by_address = dict(zip(dep_addresses, built_deps))

    dep_digests = await MultiGet(
        Get(
            Digest,
            DigestSubset(
                built_by_address[p.address].digest,
                PathGlobs([f"RPMS/{graph.infos[p.address].package(p.package).filename}"]),
            ),
        )
        for p in to_install
    )
    signatures_path = os.path.join(
        spec_input.source_dir, Path(spec_input.spec_path).stem + ".signatures.json"
    )
    sources_digest = await Get(
        Digest, DigestSubset(spec_input.snapshot_digest, PathGlobs(spec_input.local_files))
    )
    sources = await Get(
        SpecSources,
        SpecSourcesRequest(
            owner=owner,
            signatures_path=signatures_path,
            local_digest=sources_digest,
            wanted=info.sources,
        ),
    )
    spec_entries = await Get(
        DigestEntries, DigestSubset(spec_input.snapshot_digest, PathGlobs([spec_input.spec_path]))
    )
    spec_file = next(e for e in spec_entries if isinstance(e, FileEntry))
    spec_name = os.path.basename(spec_input.spec_path)
    deps_digest = await Get(Digest, MergeDigests([*dep_digests, root.preinstalled]))
    inputs = await MultiGet(
        Get(Digest, CreateDigest([FileEntry(f"SPECS/{spec_name}", spec_file.file_digest)])),
        Get(
            Digest,
            CreateDigest(
                [FileContent("build_rpm.sh", _BUILD_SCRIPT), FileContent("rpm_flags.sh", _RPM_FLAGS)]
            ),
        ),
        Get(Digest, AddPrefix(sources.digest, "SOURCES")),
        Get(Digest, AddPrefix(deps_digest, "deps")),
    )
    input_digest = await Get(Digest, MergeDigests(inputs))

    process = await Get(
        Process,
        InRootProcess(
            root=root.archive,
            argv=(
                "/bin/bash",
                "build_rpm.sh",
                f"SPECS/{spec_name}",
                *(() if root.run_check else ("--nocheck",)),
                *macro_args(REPRODUCIBLE_MACROS),
                *macro_args(spec_input.defines),
            ),
            input_digest=input_digest,
            env=root.env,
            output_directories=("top/RPMS", "top/SRPMS"),
            source_date_epoch=source_date_epoch(info, rpm),
            description=f"rpmbuild {info.name}-{info.version}-{info.release} ({request.address})",
        ),
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        # build_rpm.sh sends everything to stdout, in order.
        log = (result.stdout + result.stderr).decode(errors="replace")
        log_path = build_log.write_log(
            global_options.pants_workdir, request.address.path_safe_spec, log
        )
        hint = ""
        if "Failed build dependencies" in log:
            hint = (
                "\nA BuildRequires is met by no rpm_package and not by "
                f"{root.description}: add a spec that provides it, or add it to the toolchain "
                "(its seed's `seed_packages`/`provides`, or a toolchain stage's `packages`). "
                f"`./pants rpm-requires {request.address}` shows what meets each one."
            )
        raise RpmBuildError(
            f"rpmbuild failed for {owner} in {root.description} (exit {result.exit_code}):\n"
            f"{build_log.excerpt(log)}\n"
            f"The whole log: {log_path} (or run with `--keep-sandboxes=on_failure` to keep the "
            f"build's sandbox).{hint}",
            address=request.address,
            log=log,
            log_path=log_path,
        )
    digest = await Get(Digest, RemovePrefix(result.output_digest, "top"))
    entries = await Get(DigestEntries, Digest, digest)
    files = sorted(e.path for e in entries if isinstance(e, FileEntry))
    srpms = [f for f in files if f.startswith("SRPMS/")]
    rpms = tuple(f for f in files if f.startswith("RPMS/"))
    if len(srpms) != 1 or not rpms:
        raise RpmBuildError(
            f"rpmbuild for {owner} succeeded but wrote {len(rpms)} binary RPMs and {len(srpms)} "
            "SRPMs; a spec needs at least one package with a %files section.",
            address=request.address,
        )
    source_entries = await Get(DigestEntries, Digest, sources.digest)
    source_sums = tuple(
        sorted((e.path, e.file_digest.fingerprint) for e in source_entries if isinstance(e, FileEntry))
    )
    return BuiltRpms(request.address, info, digest, rpms, srpms[0], source_sums, result.metadata)


def rules():
    return collect_rules()
