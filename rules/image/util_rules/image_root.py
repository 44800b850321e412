"""An image's root: its packages resolved over the package graph, installed with rpm.

Requests hold only what decides the bytes (the RPM files and the settings), not the target's
address: images that share packages and settings share one root, computed once.
"""
from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
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
)
from pants.engine.process import Process, ProcessResult, ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import UnexpandedTargets
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.failure import check_process
from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.origin import TargetInputError
from rules.core.subsystems import HostSettings
from rules.core.report import BuildReportEntry, BuildReportEntryRequest
from rules.image.subsystems import ImageSubsystem
from rules.image.target_types import (
    DiskImagePackagesField,
    ImageBaseField,
    PackageSetPackagesField,
    PackageSetTarget,
    image_package_entries,
)
from rules.image.util_rules.accounts import Accounts
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms, source_date_epoch
from rules.rpm.util_rules.package_graph import (
    AmbiguousProviderError,
    Provider,
    RpmPackageGraph,
    RpmPackageGraphRequest,
    closure,
)
from rules.rpm.util_rules.versions import Evr, evr_order
from rules.sandbox.root import InRootProcess, InRootResult, RootArchive
from rules.toolchain.util_rules.roots import StageRoot, StageRootRequest

_SCRIPTS = Path(__file__).parent.parent / "scripts"
_MAKE_ROOT = (_SCRIPTS / "make_root.sh").read_bytes()
_RPM_FLAGS = (Path(__file__).parent.parent.parent / "rpm" / "scripts" / "rpm_flags.sh").read_bytes()


class ImagePackagesError(TargetInputError):
    pass


class ImageOwnersError(Exception):
    pass


class PostInstallError(TargetInputError):
    pass


@dataclass(frozen=True)
class ImagePackagesRequest:
    address: Address
    packages: tuple[str, ...]


@dataclass(frozen=True)
class InstalledRpm:
    """What an SBOM says of one installed RPM."""

    name: str
    version: str
    release: str
    arch: str
    license: str
    sha256: str
    target: str
    sources: tuple[tuple[str, str], ...]  # (file name, sha256)


@dataclass(frozen=True)
class ImagePackages:
    """The install closure: RPM files (RPMS/<arch>/...) and the newest SOURCE_DATE_EPOCH."""

    digest: Digest
    files: tuple[str, ...]
    source_date_epoch: int
    rpms: tuple[InstalledRpm, ...]


@dataclass(frozen=True)
class RpmHeadersRequest:
    digest: Digest
    files: tuple[str, ...]


@dataclass(frozen=True)
class RpmHeaders:
    """Provides and Requires as the built RPMs' headers record them."""

    provides: FrozenDict[str, tuple[str, ...]]
    requires: FrozenDict[str, tuple[str, ...]]
    # name, version, release, arch, license
    tags: FrozenDict[str, tuple[str, str, str, str, str]]

    def install_closure(
        self, chosen: set[str], target_of: dict[str, Address], by_version: bool = False
    ) -> set[str]:
        """`chosen` plus the RPMs that provide what they require, transitively. What none
        provides (the C library of a seed, /bin/sh) is left to the image's other content; what
        RPMs of two targets provide is an error, as in the package graph, unless the stage
        chooses `by_version`: then the newest RPM, and a tie is the error."""
        by_capability: dict[str, list[str]] = defaultdict(list)
        for rpm_file in sorted(self.provides):
            for capability in self.provides[rpm_file]:
                by_capability[capability].append(rpm_file)

        def providers(rpm_file: str) -> list[str]:
            found = []
            for requirement in self.requires.get(rpm_file, ()):
                candidates = by_capability.get(requirement, [])
                if not candidates or any(c in chosen for c in candidates):
                    continue
                if by_version and len({target_of[c] for c in candidates}) > 1:
                    order = {c: evr_order(Evr(None, *self.tags[c][1:3])) for c in candidates}
                    top = max(order.values())
                    candidates = [c for c in candidates if not order[c] < top]
                targets = sorted({target_of[c] for c in candidates})
                if len(targets) > 1:
                    raise AmbiguousProviderError(
                        f"{rpm_file} requires `{requirement}`, which RPMs of two targets provide: "
                        + " and ".join(f"{t} ({', '.join(c for c in candidates if target_of[c] == t)})" for t in targets)
                        + ". Name the one the image should hold in its `packages`."
                    )
                found.append(candidates[0])
            return found

        return set(closure(sorted(chosen), providers))


@rule(desc="Read RPM headers", level=LogLevel.DEBUG)
async def rpm_headers(request: RpmHeadersRequest, host: HostSettings) -> RpmHeaders:
    tools = await Get(HostTools, HostToolsRequest(("rpm",), host.search_path))
    result = await Get(
        ProcessResult,
        Process(
            argv=(
                tools["sh"],
                "-c",
                'for f in "$@"; do rpm -qp --qf "H\\t%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{LICENSE}\\n[P\\t%{PROVIDENAME}\\n][R\\t%{REQUIRENAME}\\n]" "$f" | sed "s|^|$f\\t|"; done',
                "sh",
                *request.files,
            ),
            input_digest=request.digest,
            env={"PATH": host.path_env, "KEEL_HOST_TOOLS": tools.identity},
            description=f"Read the headers of {len(request.files)} RPMs",
            level=LogLevel.DEBUG,
        ),
    )
    provides: dict[str, list[str]] = {f: [] for f in request.files}
    requires: dict[str, list[str]] = {f: [] for f in request.files}
    tags: dict[str, tuple[str, str, str, str, str]] = {}
    for line in result.stdout.decode().splitlines():
        rpm_file, kind, rest = line.split("\t", 2)
        if kind == "H":
            name, version, release, arch, license_ = rest.split("\t", 4)
            tags[rpm_file] = (name, version, release, arch, license_)
        else:
            (provides if kind == "P" else requires)[rpm_file].append(rest)
    return RpmHeaders(
        FrozenDict((f, tuple(v)) for f, v in provides.items()),
        FrozenDict((f, tuple(v)) for f, v in requires.items()),
        FrozenDict(tags),
    )


def _is_address(entry: str) -> bool:
    return "/" in entry or ":" in entry


class PackageSetError(TargetInputError):
    pass


@dataclass(frozen=True)
class PackageEntry:
    """One package an image or a repository names, its `package_set`s expanded: an rpm_package
    target or a binary package name, and whose `packages` field lists it (for messages)."""

    address: Address | None
    name: str | None
    listed_by: Address


@dataclass(frozen=True)
class ExpandPackagesRequest:
    address: Address  # the image, repository or package_set whose `packages` these are
    packages: tuple[str, ...]


@dataclass(frozen=True)
class ExpandedPackages:
    entries: tuple[PackageEntry, ...]  # the ordered union
    sets: tuple[Address, ...]  # every package_set (and base image) reached


@rule(desc="Expand package sets", level=LogLevel.DEBUG)
async def expand_packages(request: ExpandPackagesRequest) -> ExpandedPackages:
    """Depth first, in the order written: a set's packages stand where the set is listed, and a
    package is kept where it first appears. An image stands for its packages, its base's first:
    that is how an image with a `base` gets the base's packages."""
    found: dict[tuple[Address | None, str | None], PackageEntry] = {}
    sets: dict[Address, None] = {}
    # (whose field, its remaining entries, the chain of sets that led there)
    stack = [(request.address, list(request.packages), (request.address,))]
    while stack:
        owner, pending, chain = stack[-1]
        if not pending:
            stack.pop()
            continue
        entry = pending.pop(0)
        if not _is_address(entry):
            found.setdefault((None, entry), PackageEntry(None, entry, owner))
            continue
        addresses = await Get(
            Addresses,
            UnparsedAddressInputs([entry], owning_address=owner, description_of_origin=f"the `packages` of {owner}"),
        )
        targets = await Get(UnexpandedTargets, Addresses, addresses)
        for target in targets:
            if isinstance(target, PackageSetTarget):
                included = tuple(target[PackageSetPackagesField].value or ())
            elif target.has_field(ImageBaseField):
                included = image_package_entries(target[ImageBaseField].value, target[DiskImagePackagesField].value)
            else:
                found.setdefault((target.address, None), PackageEntry(target.address, None, owner))
                continue
            if target.address in chain:
                loop = " -> ".join(str(a) for a in (*chain[chain.index(target.address):], target.address))
                raise PackageSetError(
                    f"The `packages` field of {owner} lists {target.address}, which includes it: "
                    f"{loop}. Remove one of these entries.",
                    owner=owner,
                )
            sets[target.address] = None
            stack.append((target.address, list(included), (*chain, target.address)))
    return ExpandedPackages(tuple(found.values()), tuple(sets))


@dataclass(frozen=True)
class ImagePackageRootsRequest:
    address: Address
    packages: tuple[str, ...]


@dataclass(frozen=True)
class ImagePackageRoots:
    """What an image's `packages` field names: binary packages of rpm_package targets, in the
    package graph of `[rpm].toolchain` (images hold packages built in the default toolchain)."""

    graph: RpmPackageGraph
    toolchain: Address
    roots: tuple[Provider, ...]
    sets: tuple[Address, ...] = ()  # the package_sets (and base images) it reached


@rule(desc="Resolve the packages an image names", level=LogLevel.DEBUG)
async def image_package_roots(request: ImagePackageRootsRequest, rpm: RpmSubsystem) -> ImagePackageRoots:
    toolchain = await Get(
        Addresses,
        UnparsedAddressInputs([rpm.toolchain], owning_address=None, description_of_origin="`[rpm].toolchain`"),
    )
    graph, expanded = await MultiGet(
        Get(RpmPackageGraph, RpmPackageGraphRequest(toolchain[0])),
        Get(ExpandedPackages, ExpandPackagesRequest(request.address, request.packages)),
    )

    def origin(entry: PackageEntry) -> str:
        used = f" (which {request.address} uses)" if entry.listed_by != request.address else ""
        return f"The `packages` field of {entry.listed_by}{used}"

    roots: list[Provider] = []
    for entry in expanded.entries:
        if entry.address is not None:
            if entry.address in graph.unreadable:
                graph.info(entry.address)  # raises its spec's error
            if entry.address not in graph.infos:
                raise ImagePackagesError(
                    f"{origin(entry)} lists {entry.address}, which is not an rpm_package target "
                    f"built in {toolchain[0]} (`[rpm].toolchain`), where images take their "
                    "packages from, nor a package_set.",
                    owner=entry.listed_by,
                )
            roots.extend(Provider(entry.address, p.name) for p in graph.infos[entry.address].packages)
            continue
        provider = graph.provider_of(entry.name, origin(entry))
        if provider is None:
            raise ImagePackagesError(
                f"{origin(entry)} lists {entry.name!r}, but no rpm_package "
                "builds or provides it. Check the name (`./pants list ::` shows the targets), or "
                "add a spec that provides it." + graph.unreadable_note,
                owner=entry.listed_by,
            )
        roots.append(provider)
    return ImagePackageRoots(graph, toolchain[0], tuple(dict.fromkeys(roots)), expanded.sets)


@rule(desc="Resolve an image's packages", level=LogLevel.DEBUG)
async def image_packages(request: ImagePackagesRequest, rpm: RpmSubsystem) -> ImagePackages:
    named = await Get(ImagePackageRoots, ImagePackageRootsRequest(request.address, request.packages))
    graph, roots = named.graph, named.roots
    packages, unresolved = graph.install_closure(tuple(roots))
    if unresolved:
        listed = "; ".join(
            f"{p.package} ({graph.infos[p.address].spec_path}, target {p.address}) Requires {r}"
            for p, r in unresolved
        )
        raise ImagePackagesError(
            f"The `packages` of {request.address} cannot be installed: {listed}, which no "
            "rpm_package provides. Add a spec that provides it, or drop the requirement from that spec."
            + graph.unreadable_note
        )
    # Requirements rpm generated from the built files (a linked library's soname) are only in
    # the RPM headers. A library a package links comes from a target it depends on, so the
    # candidates are the RPMs of every target the closure depends on, transitively.
    addresses = graph.reachable_targets(p.address for p in packages)
    built = await MultiGet(Get(BuiltRpms, BuildRpmRequest(a)) for a in addresses)
    # Every RPM an image needed is in the build report too, not only the ones packaged by name
    # (those write no file to dist/ here: no outputs).
    await MultiGet(
        Get(BuildReportEntry, BuildReportEntryRequest, b.report_request(())) for b in built
    )
    all_rpms = await Get(Digest, MergeDigests(b.digest for b in built))
    headers = await Get(RpmHeaders, RpmHeadersRequest(all_rpms, tuple(f for b in built for f in b.rpms)))
    chosen = {f"RPMS/{graph.infos[p.address].package(p.package).filename}" for p in packages}
    files = tuple(
        sorted(headers.install_closure(chosen, {f: b.address for b in built for f in b.rpms}, graph.by_version))
    )
    digest = await Get(Digest, DigestSubset(all_rpms, PathGlobs(list(files))))
    by_file = {f: b for b in built for f in b.rpms}
    epoch = max(
        (source_date_epoch(by_file[f].info, rpm) for f in files), default=rpm.default_source_date_epoch
    )
    entries = await Get(DigestEntries, Digest, digest)
    sums = {e.path: e.file_digest.fingerprint for e in entries if isinstance(e, FileEntry)}
    installed = tuple(
        InstalledRpm(*headers.tags[f], sha256=sums[f], target=str(by_file[f].address), sources=by_file[f].sources)
        for f in files
    )
    return ImagePackages(digest, files, epoch, installed)


@dataclass(frozen=True)
class ImagerRoot:
    archive: RootArchive


@rule(desc="Find the image tools root", level=LogLevel.DEBUG)
async def imager_root(image: ImageSubsystem) -> ImagerRoot:
    addresses = await Get(
        Addresses,
        UnparsedAddressInputs([image.toolchain], owning_address=None, description_of_origin="`[image].toolchain`"),
    )
    root = await Get(StageRoot, StageRootRequest(addresses[0]))
    return ImagerRoot(root.archive)


@dataclass(frozen=True)
class ImageRootRequest:
    packages: ImagePackages
    hostname: str
    kernel_cmdline: str
    rpm_db: bool
    accounts: Accounts
    extra_files: Digest  # extra/<path in the image>
    post_install: Digest  # post/NNN-name.sh
    # A layered root: installed on this root (base/rootfs.tar); `packages` then holds (in its
    # digest and files) only the RPMs the base lacks, and the fields above only what it adds.
    base: ImageRoot | None = None
    # For messages only: images with the same content share one root, whoever asked first.
    address: Address = dataclasses.field(compare=False, default=None)
    post_install_paths: tuple[str, ...] = dataclasses.field(compare=False, default=())  # NNN -> path


@dataclass(frozen=True)
class ImageRoot:
    """rootfs.tar: the installed system, a deterministic tar with owners and modes."""

    digest: Digest
    sha256: str
    source_date_epoch: int
    # How the install was obtained (the build report): not part of equality, as in Pants.
    process: ProcessResultMetadata | None = dataclasses.field(compare=False, default=None)


@rule(desc="Install an image root", level=LogLevel.DEBUG)
async def image_root(request: ImageRootRequest) -> ImageRoot:
    imager = await Get(ImagerRoot)
    inputs = await MultiGet(
        Get(Digest, AddPrefix(request.packages.digest, "rpms")),
        Get(
            Digest,
            CreateDigest(
                [
                    FileContent("make_root.sh", _MAKE_ROOT, is_executable=True),
                    FileContent("rpm_flags.sh", _RPM_FLAGS),
                    FileContent("cmdline", (request.kernel_cmdline + "\n").encode()),
                    FileContent("accounts/passwd", request.accounts.passwd.encode()),
                    FileContent("accounts/group", request.accounts.group.encode()),
                    FileContent("accounts/shadow", request.accounts.shadow.encode()),
                    FileContent("accounts/group-replace", request.accounts.group_replace.encode()),
                    FileContent("accounts/homes", request.accounts.homes.encode()),
                ]
            ),
        ),
    )
    inputs = (*inputs, request.extra_files, request.post_install)
    if request.base is not None:
        inputs = (*inputs, await Get(Digest, AddPrefix(request.base.digest, "base")))
    process = InRootProcess(
        root=imager.archive,
        argv=("/bin/bash", "make_root.sh", request.hostname, "1" if request.rpm_db else "0"),
        input_digest=await Get(Digest, MergeDigests(inputs)),
        description=(
            f"Install {len(request.packages.files)} RPMs into an image root"
            + (" on its base's root" if request.base is not None else "")
        ),
        source_date_epoch=request.packages.source_date_epoch,
        output_files=("rootfs.tar",),
    )
    result = (await Get(InRootResult, InRootProcess, process)).result
    if result.exit_code != 0 and b"KEEL-NO-SHELL" in result.stdout + result.stderr:
        raise ImagePackagesError(
            f"The `post_install` scripts of {request.address} need /bin/sh in the image, and "
            "none of its packages provides it: add a shell package to `packages`."
        )
    no_owners = re.search(rb"KEEL-NO-OWNERS (\S+)", result.stderr)
    if result.exit_code != 0 and (no_owners or b"chown failed" in result.stdout + result.stderr):
        what = f"the home of uid:gid {no_owners.group(1).decode()}" if no_owners else "a packaged file"
        raise ImageOwnersError(
            f"The image root of {request.address} cannot give {what} its owner: only root exists "
            "where it is installed. keel runs as an ordinary user here, in a user namespace that "
            "maps that user to root; for other owners the user needs a range of subordinate ids "
            "(its lines in /etc/subuid and /etc/subgid, e.g. `usermod --add-subuids 100000-165535 "
            "--add-subgids 100000-165535 USER` as root, and newuidmap/newgidmap), or build as "
            "root. README: \"Running as an ordinary user\"."
        )
    failed_script = re.search(rb"KEEL-POST-FAILED (\d+)-\S+ (\d+)", result.stderr)
    if result.exit_code != 0 and failed_script:
        index, status = int(failed_script.group(1)), int(failed_script.group(2))
        paths = request.post_install_paths
        script = paths[index] if index < len(paths) else f"number {index + 1}"
        output = (result.stdout + result.stderr[: failed_script.start()]).decode(errors="replace").strip().splitlines()
        raise PostInstallError(
            f"The `post_install` script {script} of {request.address} failed (exit status {status}) "
            "in the image root: fix the script, or add to `packages` what it needs. Its last output:\n"
            + "\n".join(output[-30:])
        )
    await check_process(result, process.description, f"Installing the image root of {request.address} failed.")
    entries = await Get(DigestEntries, Digest, result.output_digest)
    entry = next(e for e in entries if isinstance(e, FileEntry))
    return ImageRoot(
        result.output_digest, entry.file_digest.fingerprint, request.packages.source_date_epoch, result.metadata
    )


def rules():
    return collect_rules()
