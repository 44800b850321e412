"""Build one rpm_package inside its build root: sources + the RPMs of its BuildRequires
closure -> RPMs and SRPM; or take its RPMs from the package seed (`[rpm].seed`, util_rules/seed.py)
when they were built from exactly these inputs."""
from __future__ import annotations

import dataclasses
import logging
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
from pants.engine.process import Process, ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.option.global_options import GlobalOptions
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.origin import TargetInputError
from rules.core.report import BuildReportEntryRequest
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.util_rules import build_log
from rules.rpm.util_rules.package_graph import (
    Provider,
    RpmPackageGraph,
    TargetPackageGraphRequest,
    unreadable_note,
)
from rules.rpm.util_rules.rpmbuild_env import REPRODUCIBLE_MACROS
from rules.rpm.util_rules.seed import PackageSeed, SeededRpm, SeedError, build_inputs_key
from rules.rpm.util_rules.spec_info import (
    RpmSpecInfo,
    RpmSpecInfoRequest,
    RpmSpecInput,
    SpecInputRead,
    SpecRead,
    macro_args,
)
from rules.sandbox.root import BuildRoot, BuildRootRequest, InRootProcess, InRootResult
from rules.sources.fetch import (
    FetchedSource,
    FetchSourceRequest,
    ResolvedSources,
    SourceError,
    SourcesAvailability,
    SpecSources,
    SpecSourcesRequest,
)
from rules.sources.subsystems import RpmSourcesSubsystem

logger = logging.getLogger(__name__)

_BUILD_SCRIPT = (Path(__file__).parent.parent / "scripts" / "build_rpm.sh").read_bytes()
_RPM_FLAGS = (Path(__file__).parent.parent / "scripts" / "rpm_flags.sh").read_bytes()


class RpmBuildError(Exception):
    """rpmbuild failed for `address`; `log` is its whole output, kept at `log_path`."""

    def __init__(self, message: str, *, address: Address, log: str = "", log_path: str | None = None):
        super().__init__(message)
        self.address = address
        self.log = log
        self.log_path = log_path


class ToolchainOrderError(TargetInputError):
    pass


def check_stage_order(address, info, root, closure_packages) -> None:
    """A toolchain stage's package may only BuildRequire what its base root and the packages
    listed before it supply."""
    late = sorted({str(p.address) for p in closure_packages if p.address not in root.in_root})
    if late:
        raise ToolchainOrderError(
            f"{address} ({info.name}) is built by toolchain stage {root.stage}, but its "
            f"BuildRequires need {', '.join(late)}, which the stage does not list before it. "
            f"Move them before {address} in the `packages` of {root.stage}.",
            owner=root.stage,
        )


@dataclass(frozen=True)
class BuildRpmRequest:
    address: Address


@dataclass(frozen=True)
class BuiltRpms:
    """A target's RPMs, as rpmbuild lays them out: RPMS/<arch>/*.rpm and SRPMS/*.src.rpm; or,
    seeded, the binary RPMs of the seed (no SRPM)."""

    address: Address
    info: RpmSpecInfo
    digest: Digest
    rpms: tuple[str, ...]
    srpm: str | None  # None when seeded
    sources: tuple[tuple[str, str], ...]  # (file name, sha256) of every Source and Patch
    # The build inputs key (seed.build_inputs_key) of the rpmbuild that made the RPMs.
    build_key: str
    # RPMS/... path -> sha256 of the file as rpmbuild wrote it: the file's own sha256 when built
    # here; a seeded RPM's from the seed (it may have been signed since). Dependents' build inputs
    # name their BuildRequires RPMs by it.
    as_built: FrozenDict[str, str]
    seed: str | None = None  # the `[rpm].seed` it was taken from, or None: built
    # How rpmbuild's result was obtained (ran, cache hit...): not part of equality.
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)
    # The remote execution worker that ran rpmbuild, if one did: not part of equality either.
    worker: str | None = dataclasses.field(compare=False, default=None)

    def seed_records(self, published: dict[str, str]) -> dict[str, SeededRpm]:
        """keel-seed.json's records of those RPMs that are `published` (file name -> sha256)."""
        return {
            name: SeededRpm(published[name], self.as_built[path], self.build_key, str(self.address))
            for path in self.rpms
            if (name := os.path.basename(path)) in published
        }

    def report_request(self, outputs: tuple[str, ...]) -> BuildReportEntryRequest:
        """The build report's question about these RPMs: how they were obtained."""
        return BuildReportEntryRequest(
            "rpm", str(self.address), outputs, self.process, seeded=self.seed is not None, worker=self.worker
        )


def source_date_epoch(info: RpmSpecInfo, rpm: RpmSubsystem) -> int:
    """From the newest %changelog entry, never from the clock."""
    return info.changelog_time if info.changelog_time is not None else rpm.default_source_date_epoch


async def _seeded(
    address: Address,
    info: RpmSpecInfo,
    build_key: str,
    sources: tuple[tuple[str, str], ...],
    seed: PackageSeed,
    options: RpmSourcesSubsystem,
) -> BuiltRpms | None:
    """The package's RPMs from the seed, if it has every one its spec names, built from
    `build_key`; else None (the package is built)."""
    filenames = [p.filename for p in info.packages]  # <arch>/N-V-R.<arch>.rpm
    pins = [seed.rpms.get(os.path.basename(f)) for f in filenames]
    if not pins or any(pin is None for pin in pins):
        return None
    if any(pin.inputs != build_key for pin in pins):
        # The same file names, other inputs: worth a word, the user expected it seeded.
        logger.info(
            f"{address} is built, not seeded: {seed.location} has its RPMs, built from other inputs "
            "(its spec, sources, BuildRequires RPMs, toolchain root or host tools differ)."
        )
        return None
    owner = f"{info.spec_path} (target {address}), seeded from `[rpm].seed`"
    try:
        fetched = await MultiGet(
            Get(
                FetchedSource,
                FetchSourceRequest(
                    filename=os.path.basename(f),
                    sha256=pin.sha256,
                    candidates=seed.candidates(os.path.basename(f), pin.sha256, options),
                    owner=owner,
                    signatures_path=seed.manifest,
                    noun="the seeded RPM",
                    remedy=(
                        f"The seed's manifest and its RPMs do not agree: package the repository "
                        f"again (`./pants package` of the rpm_repository) and publish all of it, or "
                        f"unset `[rpm].seed` (`--rpm-seed=`) to build {address}."
                    ),
                ),
            )
            for f, pin in zip(filenames, pins)
        )
    except SourceError as e:
        raise SeedError(str(e)) from e
    entries = await MultiGet(Get(DigestEntries, Digest, f.digest) for f in fetched)
    digest = await Get(
        Digest,
        CreateDigest(
            FileEntry(f"RPMS/{f}", next(e for e in found if isinstance(e, FileEntry)).file_digest)
            for f, found in zip(filenames, entries)
        ),
    )
    return BuiltRpms(
        address=address,
        info=info,
        digest=digest,
        rpms=tuple(sorted(f"RPMS/{f}" for f in filenames)),
        srpm=None,
        sources=sources,
        build_key=build_key,
        as_built=FrozenDict({f"RPMS/{f}": pin.built_sha256 for f, pin in zip(filenames, pins)}),
        seed=seed.location,
    )


@dataclass(frozen=True)
class BuildPlanRequest:
    address: Address


@dataclass(frozen=True)
class BuildPlan:
    """What a package's build takes from the package graph: its spec, and the binary packages
    of its build closure with their paths under RPMS/. A rule of its own: an edit elsewhere in
    the graph gives an equal plan, and Pants then does not run the package's build rule again
    (with pantsd, a leaf edit re-ran every package's)."""

    info: RpmSpecInfo
    closure: tuple[tuple[Provider, str], ...]
    # Specs of the graph rpmspec could not read: one of them might provide a BuildRequires the
    # root lacks (named in that error, not in the build's key).
    unreadable: tuple[Address, ...] = ()


@rule(desc="Plan an RPM build", level=LogLevel.DEBUG)
async def build_plan(request: BuildPlanRequest) -> BuildPlan:
    graph = await Get(RpmPackageGraph, TargetPackageGraphRequest(request.address))
    info = graph.info(request.address)
    graph.check_no_build_cycle(request.address)
    return BuildPlan(
        info,
        tuple(
            (p, f"RPMS/{graph.infos[p.address].package(p.package).filename}")
            for p in graph.build_closure(request.address).packages
        ),
        tuple(sorted(graph.unreadable)),
    )


async def spec_sources_request(
    address: Address, spec_input: RpmSpecInput, info: RpmSpecInfo
) -> SpecSourcesRequest:
    """What a package's build fetches: its spec's Sources and Patches, local or pinned."""
    signatures_path = os.path.join(
        spec_input.source_dir, Path(spec_input.spec_path).stem + ".signatures.json"
    )
    sources_digest = await Get(
        Digest, DigestSubset(spec_input.snapshot_digest, PathGlobs(spec_input.local_files))
    )
    return SpecSourcesRequest(
        owner=f"{info.spec_path} (target {address})",
        signatures_path=signatures_path,
        local_digest=sources_digest,
        wanted=info.sources,
        address=address,
    )


@dataclass(frozen=True)
class PackageSourcesRequest:
    address: Address


@rule(desc="Check an RPM's sources", level=LogLevel.DEBUG)
async def package_sources_availability(request: PackageSourcesRequest) -> SourcesAvailability:
    """Whether the sources of an rpm_package's build can all be had, before building anything
    (`rpm-compat`: a spec without sources is not built, nor are the specs that need it)."""
    spec_read, input_read = await MultiGet(
        Get(SpecRead, RpmSpecInfoRequest(request.address)),
        Get(SpecInputRead, RpmSpecInfoRequest(request.address)),
    )
    if spec_read.info is None or input_read.spec_input is None:
        # Its callers ask about specs the package graph could read; the read's own error, as
        # data, rather than an exception, should another one ask.
        return SourcesAvailability(error=spec_read.error or input_read.error)
    sources_request = await spec_sources_request(request.address, input_read.spec_input, spec_read.info)
    return await Get(SourcesAvailability, SpecSourcesRequest, sources_request)


@rule(desc="Build an RPM", level=LogLevel.DEBUG)
async def build_rpm(
    request: BuildRpmRequest,
    rpm: RpmSubsystem,
    sources_options: RpmSourcesSubsystem,
    global_options: GlobalOptions,
) -> BuiltRpms:
    spec_input, root = await MultiGet(
        Get(RpmSpecInput, RpmSpecInfoRequest(request.address)),
        Get(BuildRoot, BuildRootRequest(request.address)),
    )
    plan = await Get(BuildPlan, BuildPlanRequest(request.address))
    info = plan.info
    owner = f"{info.spec_path} (target {request.address})"

    if root.stage is not None:
        check_stage_order(request.address, info, root, [p for p, _ in plan.closure])
    # What the root already holds is not installed again.
    to_install = [(p, path) for p, path in plan.closure if p.address not in root.in_root]
    dep_addresses = sorted({p.address for p, _ in to_install})
    built_deps = await MultiGet(Get(BuiltRpms, BuildRpmRequest(a)) for a in dep_addresses)
    built_by_address = dict(zip(dep_addresses, built_deps))

    dep_files = [(built_by_address[p.address], path) for p, path in to_install]
    dep_digests = await MultiGet(
        Get(Digest, DigestSubset(built.digest, PathGlobs([path]))) for built, path in dep_files
    )
    sources_request = await spec_sources_request(request.address, spec_input, info)
    spec_entries, resolved, preinstalled = await MultiGet(
        Get(DigestEntries, DigestSubset(spec_input.snapshot_digest, PathGlobs([spec_input.spec_path]))),
        Get(ResolvedSources, SpecSourcesRequest, sources_request),
        Get(DigestEntries, Digest, root.preinstalled),
    )
    spec_file = next(e for e in spec_entries if isinstance(e, FileEntry))
    spec_name = os.path.basename(spec_input.spec_path)
    # Which inputs of the SRPM are executable in the checkout. Not left to the sandbox's file
    # modes: Pants hard-links large files into a local sandbox read-only and executable, whatever
    # their digest says, and a remote worker gives them the digest's mode (a fetched source is
    # never executable); the SRPM records each file's mode.
    local_sources = await Get(DigestEntries, Digest, resolved.local)
    executable = sorted(
        [
            *((f"SPECS/{spec_name}",) if spec_file.is_executable else ()),
            *(f"SOURCES/{e.path}" for e in local_sources if isinstance(e, FileEntry) and e.is_executable),
        ]
    )
    spec_and_scripts = await Get(
        Digest,
        CreateDigest(
            [
                FileEntry(f"SPECS/{spec_name}", spec_file.file_digest),
                FileContent("build_rpm.sh", _BUILD_SCRIPT),
                FileContent("rpm_flags.sh", _RPM_FLAGS),
                FileContent("executable_inputs", "".join(f"{path}\n" for path in executable).encode()),
            ]
        ),
    )

    def rpmbuild(input_digest: Digest) -> InRootProcess:
        return InRootProcess(
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
        )

    # What this build is made from: the rpmbuild action itself, with its sources and
    # BuildRequires RPMs named by sha256 (the RPMs as rpmbuild wrote them: a seeded one may have
    # been signed since) instead of carried. Known before any source is fetched.
    named = sorted(
        [
            *(f"SOURCES/{name} {sha256}" for name, sha256 in resolved.sums),
            *(f"deps/{path} {built.as_built[path]}" for built, path in dep_files),
            *(f"deps/{e.path} {e.file_digest.fingerprint}" for e in preinstalled if isinstance(e, FileEntry)),
        ]
    )
    named_inputs = await Get(
        Digest,
        MergeDigests(
            [
                spec_and_scripts,
                await Get(Digest, CreateDigest([FileContent("inputs.sha256", "\n".join(named).encode())])),
            ]
        ),
    )
    build_key = build_inputs_key(await Get(Process, InRootProcess, rpmbuild(named_inputs)))
    # A toolchain stage's own packages are taken from its `prebuilt` pins, not from the seed.
    if root.stage is None:
        seed = await Get(PackageSeed)
        seeded = await _seeded(request.address, info, build_key, resolved.sums, seed, sources_options)
        if seeded is not None:
            return seeded

    sources = await Get(SpecSources, SpecSourcesRequest, sources_request)
    deps_digest = await Get(Digest, MergeDigests([*dep_digests, root.preinstalled]))
    inputs = await MultiGet(
        Get(Digest, AddPrefix(sources.digest, "SOURCES")),
        Get(Digest, AddPrefix(deps_digest, "deps")),
    )
    input_digest = await Get(Digest, MergeDigests([spec_and_scripts, *inputs]))
    ran = await Get(InRootResult, InRootProcess, rpmbuild(input_digest))
    result = ran.result
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
                + unreadable_note(plan.unreadable)
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
    sums = {e.path: e.file_digest.fingerprint for e in entries if isinstance(e, FileEntry)}
    return BuiltRpms(
        address=request.address,
        info=info,
        digest=digest,
        rpms=rpms,
        srpm=srpms[0],
        sources=resolved.sums,
        build_key=build_key,
        as_built=FrozenDict({path: sums[path] for path in rpms}),
        process=result.metadata,
        worker=ran.worker,
    )


def rules():
    return collect_rules()
