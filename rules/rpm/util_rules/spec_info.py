"""What a SPEC file declares, read with rpm's own parser (rpmspec), as a cached action.

Macros, conditionals and subpackages all count because rpmspec evaluates them; keel never parses
spec syntax itself. rpmspec runs inside the root the spec is built in (see SpecRoot), so the
root's rpm macros apply: a distribution's `%{_libdir}`, `%{dist}` or `%{py3_dist ...}` expand to
what its build will see. Each spec gets up to three queries: the source package header
(BuildRequires, Source/Patch file names, newest changelog time), every binary package header
(name, EVR, arch, Provides, Requires), and the parsed spec (for the URLs of SourceN/PatchN lines,
which headers do not keep; only when a source is not a local file). One process reads a batch of
specs (see rpm_spec_info), each with its own output, errors and exit status.
"""
from __future__ import annotations

import hashlib
import os
import re
import shlex
from dataclasses import dataclass

from pants.engine.addresses import Address
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    HydratedSources,
    HydrateSourcesRequest,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.target_types import RpmDefinesField, RpmSourcesField, RpmSpecField
from rules.sandbox.bwrap import BUILD_DIR
from rules.sandbox.root import InRootProcess, InRootResult, RootArchive, SpecRoot, SpecRootRequest, succeeded
from rules.sources.fetch import SourceFile
from rules.toolchain.util_rules.stages import (
    AllToolchainStages,
    TargetStage,
    TargetStageRequest,
    WorkerPackages,
)


class InvalidSpecError(Exception):
    pass


@dataclass(frozen=True)
class RpmDependency:
    """One entry of BuildRequires/Requires/Provides, e.g. `make >= 4.3`."""

    name: str
    flags: str = ""
    version: str = ""

    def __str__(self) -> str:
        return " ".join(part for part in (self.name, self.flags, self.version) if part)

    @property
    def is_rpmlib(self) -> bool:
        return self.name.startswith("rpmlib(")


@dataclass(frozen=True)
class BinaryPackageInfo:
    name: str
    epoch: str | None
    version: str
    release: str
    arch: str
    provides: tuple[RpmDependency, ...]
    requires: tuple[RpmDependency, ...]

    @property
    def filename(self) -> str:
        """Where rpmbuild writes it under RPMS/ (rpm's default `%_rpmfilename`)."""
        return f"{self.arch}/{self.name}-{self.version}-{self.release}.{self.arch}.rpm"


@dataclass(frozen=True)
class RpmSpecInfo:
    address: Address
    spec_path: str
    name: str
    version: str
    release: str
    changelog_time: int | None
    build_requires: tuple[RpmDependency, ...]
    packages: tuple[BinaryPackageInfo, ...]
    sources: tuple[SourceFile, ...]  # every SourceN and PatchN
    defines: tuple[tuple[str, str], ...]
    # ExclusiveArch and ExcludeArch, as rpm expanded them, and the root's target architecture.
    exclusive_arch: tuple[str, ...] = ()
    exclude_arch: tuple[str, ...] = ()
    target_arch: str = ""

    def package(self, name: str) -> BinaryPackageInfo:
        return next(pkg for pkg in self.packages if pkg.name == name)

    @property
    def for_target_arch(self) -> bool:
        """Whether rpmbuild builds it for the root's architecture: a spec that does not (Azure
        Linux's kernel-64k, shim-unsigned-aarch64 on x86_64) provides nothing here, as in the
        toolkit, which leaves such specs out of its graph."""
        arch = self.target_arch
        if not arch:
            return True
        return arch not in self.exclude_arch and (
            not self.exclusive_arch or arch in self.exclusive_arch or "noarch" in self.exclusive_arch
        )


@dataclass(frozen=True)
class RpmSpecInfoRequest:
    address: Address


@dataclass(frozen=True)
class RpmSpecInput:
    """The spec of an rpm_package target and its local sources, as a sandbox sees them."""

    address: Address
    spec_path: str
    source_dir: str
    snapshot_digest: Digest  # Digest of the spec and every local source, at their repo paths
    local_files: tuple[str, ...]
    # `[rpm].defines`, then the toolchain stage's, then the target's own.
    defines: tuple[tuple[str, str], ...]
    root: RootArchive  # where rpmspec reads it
    root_description: str
    root_env: FrozenDict[str, str]
    # Given to rpmspec before the defines. Empty for a target (its root holds its macros);
    # `azl-import --with-build-requires` reads a checkout's specs before their stage exists, in
    # its base root, and loads the macro files the stage would install (`--load FILE`).
    rpmspec_args: tuple[str, ...] = ()


# Specs of a stage are read in this many batches (see rpm_spec_info): at Azure Linux's 3,000
# specs, about a dozen per rpmspec process; in a workspace of a few dozen, one or two.
QUERY_BUCKETS = 256

_SRPM_QF = (
    "SRC\t%{NAME}\t%{VERSION}\t%{RELEASE}\t%{CHANGELOGTIME}\n"
    "[EXCLUSIVEARCH\t%{EXCLUSIVEARCH}\n][EXCLUDEARCH\t%{EXCLUDEARCH}\n]"
    "[SOURCE\t%{SOURCE}\n][PATCH\t%{PATCH}\n]"
    "[BR\t%{REQUIRENAME}\t%{REQUIREFLAGS:depflags}\t%{REQUIREVERSION}\n]"
)
_BINARY_QF = (
    "PKG\t%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n"
    "[PROV\t%{PROVIDENAME}\t%{PROVIDEFLAGS:depflags}\t%{PROVIDEVERSION}\n]"
    "[REQ\t%{REQUIRENAME}\t%{REQUIREFLAGS:depflags}\t%{REQUIREVERSION}\n]"
)
# usage: sh -c SCRIPT sh SPEC SRPM_QF BINARY_QF N LOCAL_1..LOCAL_N RPMSPEC_ARGS...
# The parsed spec is read only for the URLs of files the spec's directory lacks (they are
# fetched), so a spec whose every Source and Patch is local is parsed twice, not three times: a
# graph reads every spec of a distribution.
_QUERY_SCRIPT = r"""
set -e
spec="$1"; srpm_qf="$2"; binary_qf="$3"; n="$4"; shift 4
tab=$(printf '\t')
local=" "
while [ "$n" -gt 0 ]; do local="$local$1 "; shift; n=$((n - 1)); done
srpm=$(rpmspec -q --srpm --qf "$srpm_qf" "$@" "$spec")
printf 'TARGET\t%s\n%s\n' "$keel_target_arch" "$srpm"
echo '@@BINARY'
rpmspec -q --qf "$binary_qf" "$@" "$spec"
echo '@@PARSED'
fetched=no
while IFS= read -r line; do
  case "$line" in
    SOURCE"$tab"*|PATCH"$tab"*) case "$local" in *" ${line#*"$tab"} "*) ;; *) fetched=yes ;; esac ;;
  esac
done <<END_OF_HEADER
$srpm
END_OF_HEADER
[ "$fetched" = no ] || rpmspec -P "$@" "$spec"
"""
# Preamble lines of the parsed spec naming sources: `Source0: https://.../x.tar.gz`, `Patch:`.
_SOURCE_LINE = re.compile(r"^(?:source|patch)\d*\s*:\s*(\S+)\s*$", re.IGNORECASE)


def macro_args(defines: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(arg for name, value in defines for arg in ("--define", f"{name} {value}"))


def _dependency(fields: list[str]) -> RpmDependency:
    name, flags, version = (fields + ["", ""])[:3]
    return RpmDependency(name, flags.strip(), version.strip())


def parse_query_output(spec_input: RpmSpecInput, output: str) -> RpmSpecInfo:
    srpm_part, rest = output.split("@@BINARY\n", 1)
    binary_part, parsed_part = rest.split("@@PARSED\n", 1)

    name = version = release = ""
    changelog_time: int | None = None
    build_requires: list[RpmDependency] = []
    source_names: list[str] = []
    arches: dict[str, list[str]] = {"TARGET": [], "EXCLUSIVEARCH": [], "EXCLUDEARCH": []}
    for line in srpm_part.splitlines():
        kind, *fields = line.split("\t")
        if kind in arches and fields:
            arches[kind].append(fields[0])
        elif kind == "SRC":
            name, version, release, changelog = fields
            changelog_time = int(changelog) if changelog.isdigit() else None
        elif kind in ("SOURCE", "PATCH"):
            source_names.append(fields[0])
        elif kind == "BR":
            dep = _dependency(fields)
            if not dep.is_rpmlib:
                build_requires.append(dep)

    packages: list[BinaryPackageInfo] = []
    current: dict | None = None

    def finish() -> None:
        if current is not None:
            packages.append(
                BinaryPackageInfo(
                    **{k: current[k] for k in ("name", "epoch", "version", "release", "arch")},
                    provides=tuple(current["provides"]),
                    requires=tuple(current["requires"]),
                )
            )

    for line in binary_part.splitlines():
        kind, *fields = line.split("\t")
        if kind == "PKG":
            finish()
            pkg_name, epoch, pkg_version, pkg_release, arch = fields
            current = dict(
                name=pkg_name,
                epoch=None if epoch == "(none)" else epoch,
                version=pkg_version,
                release=pkg_release,
                arch=arch,
                provides=[],
                requires=[],
            )
        elif kind == "PROV" and current is not None:
            current["provides"].append(_dependency(fields))
        elif kind == "REQ" and current is not None:
            dep = _dependency(fields)
            if not dep.is_rpmlib:
                current["requires"].append(dep)
    finish()

    urls: dict[str, str] = {}
    for line in parsed_part.splitlines():
        match = _SOURCE_LINE.match(line)
        if match and "://" in match.group(1):
            url = match.group(1)
            # rpm names the file after the last '/', so `.../v1.tar.gz#/pkg-1.tar.gz` is
            # fetched from `.../v1.tar.gz` and saved as `pkg-1.tar.gz`.
            urls[url.rsplit("/", 1)[-1]] = url.split("#", 1)[0]

    if not name or not packages:
        raise InvalidSpecError(
            f"{spec_input.spec_path} (target {spec_input.address}): rpmspec found no package "
            "in it. A spec needs Name, Version, Release and at least a %files section."
        )
    return RpmSpecInfo(
        address=spec_input.address,
        spec_path=spec_input.spec_path,
        name=name,
        version=version,
        release=release,
        changelog_time=changelog_time,
        build_requires=tuple(build_requires),
        packages=tuple(packages),
        sources=tuple(SourceFile(filename, urls.get(filename)) for filename in source_names),
        defines=spec_input.defines,
        exclusive_arch=tuple(arches["EXCLUSIVEARCH"]),
        exclude_arch=tuple(arches["EXCLUDEARCH"]),
        target_arch=next(iter(arches["TARGET"]), ""),
    )


# Why a spec's read has two rules each, one answering with the error and one raising it: a rule
# that catches the error of a Get and returns a value is not run again by pantsd when the failing
# input is fixed (Pants 2.17 keeps its value), so the package graph kept a fixed spec's old error
# until pantsd restarted. Rules that need to go on past a spec's error (the package graph, a
# batch collecting its mates) ask for the answering rule; no rule catches a read's exception.


@dataclass(frozen=True)
class SpecInputRead:
    """An rpm_package's RpmSpecInput, or why it has none."""

    spec_input: RpmSpecInput | None
    error: str | None = None


@rule(desc="Collect an rpm_package's spec and sources", level=LogLevel.DEBUG)
async def read_spec_input(request: RpmSpecInfoRequest, rpm: RpmSubsystem) -> SpecInputRead:
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(request.address, description_of_origin="keel rpm_package"),
    )
    target = wrapped.target
    sources = await Get(HydratedSources, HydrateSourcesRequest(target[RpmSourcesField]))
    files = sources.snapshot.files
    spec_name = target[RpmSpecField].value
    specs = [f for f in files if os.path.basename(f) == spec_name] if spec_name else [
        f for f in files if f.endswith(".spec")
    ]
    if len(specs) != 1:
        found = ", ".join(os.path.basename(f) for f in files if f.endswith(".spec")) or "none"
        fix = (
            f"`spec=\"{spec_name}\"` names no file in `sources`; add it or fix the name"
            if spec_name
            else "set `spec=\"NAME.spec\"` (and `sources`) on the target, one target per spec"
        )
        return SpecInputRead(
            None,
            f"rpm_package {request.address} needs exactly one spec file among its sources "
            f"(found: {found}) in {request.address.spec_path or '.'}/: {fix}.",
        )
    spec_path = specs[0]
    root = await Get(SpecRoot, SpecRootRequest(request.address))
    defines = {**rpm.defines, **dict(root.defines), **(target[RpmDefinesField].value or {})}
    return SpecInputRead(
        RpmSpecInput(
            address=request.address,
            spec_path=spec_path,
            source_dir=os.path.dirname(spec_path),
            snapshot_digest=sources.snapshot.digest,
            local_files=tuple(f for f in files if f != spec_path),
            defines=tuple(sorted(defines.items())),
            root=root.archive,
            root_description=root.description,
            root_env=root.env,
        )
    )


@rule(desc="Collect an rpm_package's spec and sources", level=LogLevel.DEBUG)
async def rpm_spec_input(request: RpmSpecInfoRequest) -> RpmSpecInput:
    read = await Get(SpecInputRead, RpmSpecInfoRequest, request)
    if read.spec_input is None:
        raise InvalidSpecError(read.error)
    return read.spec_input


def query_bucket(address: Address) -> int:
    """Which batch of its stage a spec is read in: a hash of its address, so a batch keeps its
    members when specs are added or removed elsewhere."""
    return int.from_bytes(hashlib.sha256(str(address).encode()).digest()[:4], "big") % QUERY_BUCKETS


@dataclass(frozen=True)
class QueryBucketsRequest:
    """The packages read in one root: a stage's own (`listed`), or those built in its root."""

    stage: Address
    listed: bool


@dataclass(frozen=True)
class QueryBuckets:
    by_bucket: FrozenDict[int, tuple[Address, ...]]

    def members(self, address: Address) -> tuple[Address, ...]:
        return self.by_bucket.get(query_bucket(address), ())


@rule(desc="Batch the specs read in a root", level=LogLevel.DEBUG)
async def query_buckets(request: QueryBucketsRequest) -> QueryBuckets:
    if request.listed:
        group = (await Get(AllToolchainStages)).get(request.stage).packages
    else:
        group = (await Get(WorkerPackages)).by_stage.get(request.stage, ())
    by_bucket: dict[int, list[Address]] = {}
    for address in group:
        by_bucket.setdefault(query_bucket(address), []).append(address)
    return QueryBuckets(FrozenDict({b: tuple(sorted(a)) for b, a in by_bucket.items()}))


@dataclass(frozen=True)
class SpecQueryBatch:
    """Specs read by one rpmspec process: same root, same environment, sorted by address."""

    inputs: tuple[RpmSpecInput, ...]


@dataclass(frozen=True)
class SpecQueryResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class SpecQueryBatchResult:
    results: FrozenDict[Address, SpecQueryResult]


def _query_args(spec_input: RpmSpecInput) -> tuple[str, ...]:
    # Placed flat in %{_sourcedir} at build time, so the spec finds them by these names.
    local_names = sorted({os.path.basename(f) for f in spec_input.local_files})
    return (
        spec_input.spec_path,
        _SRPM_QF,
        _BINARY_QF,
        str(len(local_names)),
        *local_names,
        "--define",
        f"_sourcedir {BUILD_DIR}/{spec_input.source_dir}",
        *spec_input.rpmspec_args,
        *macro_args(spec_input.defines),
    )


# Between the answers of a batch on its stdout: a marker line with the query's index and exit
# status, and one between its output and its errors.
_ANSWER = "@@KEEL-ANSWER"
_BATCH_SCRIPT = "keel_read_specs.sh"  # at the sandbox root, beside the specs' repo paths
_ERRORS = "@@KEEL-ERRORS"


def batch_script(batch: SpecQueryBatch) -> str:
    """Query i of the batch writes its output, errors and status to files in /tmp (the
    sandbox's own tmpfs); as many lanes as the machine has cores run them (the count is read at
    run time: it is not in the action's key); then every answer goes to stdout in order."""
    lines = [
        "query() {", _QUERY_SCRIPT, "}", 'out=$(mktemp -d)',
        # The architecture rpmbuild builds for in this root, for ExclusiveArch/ExcludeArch.
        "keel_target_arch=$(rpm --eval '%{_target_cpu}')",
    ]
    for i, spec_input in enumerate(batch.inputs):
        args = " ".join(shlex.quote(a) for a in _query_args(spec_input))
        lines.append(f'q{i}() {{ (query {args}) > "$out/{i}.out" 2> "$out/{i}.err"; echo $? > "$out/{i}.rc"; }}')
    lines += [
        f"n={len(batch.inputs)}",
        "lanes=$(nproc 2>/dev/null || echo 1)",
        "lane=0",
        "while [ $lane -lt $lanes ] && [ $lane -lt $n ]; do",
        "  (i=$lane; while [ $i -lt $n ]; do q$i; i=$((i + lanes)); done) &",
        "  lane=$((lane + 1))",
        "done",
        "wait",
        "i=0",
        "while [ $i -lt $n ]; do",
        f'  echo "{_ANSWER} $i $(cat "$out/$i.rc")"; cat "$out/$i.out"; echo; echo "{_ERRORS}"; cat "$out/$i.err"; echo',
        "  i=$((i + 1))",
        "done",
    ]
    return "\n".join(lines) + "\n"


def split_answers(stdout: str) -> dict[int, SpecQueryResult]:
    answers = {}
    for chunk in ("\n" + stdout).split(f"\n{_ANSWER} ")[1:]:
        header, _, body = chunk.partition("\n")
        index, exit_code = header.split()
        output, _, errors = body.rpartition(f"\n{_ERRORS}\n")
        answers[int(index)] = SpecQueryResult(int(exit_code), output, errors)
    return answers


@rule(desc="Read a batch of specs with rpmspec", level=LogLevel.DEBUG)
async def query_spec_batch(batch: SpecQueryBatch, rpm: RpmSubsystem) -> SpecQueryBatchResult:
    first = batch.inputs[0]
    # A file, not an argument: one argument may hold at most 128 KiB (Linux's MAX_ARG_STRLEN),
    # and a batch of specs with hundreds of patches each names them all.
    script = await Get(Digest, CreateDigest([FileContent(_BATCH_SCRIPT, batch_script(batch).encode())]))
    input_digest = await Get(Digest, MergeDigests([script, *(i.snapshot_digest for i in batch.inputs)]))
    more = f" and {len(batch.inputs) - 1} more" if len(batch.inputs) > 1 else ""
    process = InRootProcess(
        root=first.root,
        argv=("/bin/sh", _BATCH_SCRIPT),
        input_digest=input_digest,
        env=first.root_env,
        description=f"rpmspec {first.spec_path}{more}",
        source_date_epoch=rpm.default_source_date_epoch,
        read_only=True,
        level=LogLevel.DEBUG,
        on_workers=False,
    )
    result = succeeded(await Get(InRootResult, InRootProcess, process), process)
    answers = split_answers(result.stdout.decode(errors="replace"))
    return SpecQueryBatchResult(
        FrozenDict({spec_input.address: answers[i] for i, spec_input in enumerate(batch.inputs)})
    )


@dataclass(frozen=True)
class SpecRead:
    """What rpmspec read in a spec, or why it could not (the InvalidSpecError's message)."""

    info: RpmSpecInfo | None
    error: str | None = None


@rule(desc="Read a spec with rpmspec", level=LogLevel.DEBUG)
async def read_spec_info(request: RpmSpecInfoRequest) -> SpecRead:
    """rpmspec runs once per batch of specs, not once per spec: each process Pants starts forks
    its engine, whose memory grows with the workspace (at 3,000 specs, forking was most of a
    cold graph's time). A batch is the spec's bucket (query_bucket) among the packages read in
    the same root: its stage's own packages, or those built in the stage's root. An edit
    re-reads the spec's batch (about 1 in QUERY_BUCKETS of a stage's specs)."""
    read, stage = await MultiGet(
        Get(SpecInputRead, RpmSpecInfoRequest, request),
        Get(TargetStage, TargetStageRequest(request.address)),
    )
    if read.spec_input is None:
        return SpecRead(None, read.error)
    spec_input = read.spec_input
    buckets = await Get(QueryBuckets, QueryBucketsRequest(stage.stage, stage.listed))
    mates = [a for a in buckets.members(request.address) if a != request.address]
    # Whatever is wrong with a mate is its own read's error; it must not fail the others'.
    mate_inputs = await MultiGet(Get(SpecInputRead, RpmSpecInfoRequest(a)) for a in mates)
    batch = sorted(
        [
            spec_input,
            *(
                m.spec_input
                for m in mate_inputs
                if m.spec_input is not None
                and (m.spec_input.root, m.spec_input.root_env) == (spec_input.root, spec_input.root_env)
            ),
        ],
        key=lambda i: i.address,
    )
    answers = await Get(SpecQueryBatchResult, SpecQueryBatch(tuple(batch)))
    answer = answers.results[request.address]
    if answer.exit_code != 0:
        return SpecRead(
            None,
            f"{spec_input.spec_path} (target {request.address}): rpmspec cannot parse it in "
            f"{spec_input.root_description}:\n{answer.stderr.strip()}\nFix the spec; `rpmspec -P "
            f"{spec_input.spec_path}` in that root shows the same error. Meanwhile the rest of a "
            f"tree builds without it: `./pants package :: -{request.address}`.",
        )
    try:
        return SpecRead(parse_query_output(spec_input, answer.stdout))
    except InvalidSpecError as e:  # no Get inside: nothing of the engine's is caught
        return SpecRead(None, str(e))


@rule(desc="Read a spec with rpmspec", level=LogLevel.DEBUG)
async def rpm_spec_info(request: RpmSpecInfoRequest) -> RpmSpecInfo:
    read = await Get(SpecRead, RpmSpecInfoRequest, request)
    if read.info is None:
        raise InvalidSpecError(read.error)
    return read.info


def rules():
    return collect_rules()
