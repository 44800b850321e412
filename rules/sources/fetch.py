"""Gather every source a spec uses: local files as they are, the rest fetched by sha256."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pants.engine.addresses import Address
from pants.engine.env_vars import CompleteEnvironmentVars
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.sources.signatures import InvalidSignaturesError, parse_signatures
from rules.sources.subsystems import RpmSourcesSubsystem

logger = logging.getLogger(__name__)

_SCRIPTS = Path(__file__).parent / "scripts"
_FETCH_SCRIPT = (_SCRIPTS / "fetch_source.py").read_bytes()
# The fallback on the host's registries: its entry point and the lookups it shares with
# build-support/source-cache.
_HOST_SCRIPTS = CreateDigest(
    [FileContent(name, (_SCRIPTS / name).read_bytes()) for name in ("fetch_from_host.py", "host_registries.py")]
)


class SourceError(Exception):
    """A source of `address`'s spec cannot be had. The address travels with the error: a build
    raises it for the spec whose sources are missing, and a dependent's build passes it on, so
    `rpm-compat` tells "this spec has no sources" from "a BuildRequires target has none"."""

    def __init__(self, message: str, *, address: Address | None = None):
        super().__init__(message)
        self.address = address


@dataclass(frozen=True)
class SourceFile:
    """A file the spec names (SourceN/PatchN) and the URL it gives for it, if any."""

    filename: str
    url: str | None


@dataclass(frozen=True)
class SpecSourcesRequest:
    owner: str  # the spec and its target, for error messages
    signatures_path: str  # where NAME.signatures.json is (or would be)
    local_digest: Digest  # the files next to the spec, at their repo paths
    wanted: tuple[SourceFile, ...]
    # The rpm_package whose sources these are (a toolchain root's own files have none).
    address: Address | None = None


@dataclass(frozen=True)
class SpecSources:
    """Every local file and every fetched source, flat, as `%{_sourcedir}` wants them."""

    digest: Digest


@dataclass(frozen=True)
class FetchSourceRequest:
    filename: str
    sha256: str
    candidates: tuple[str, ...]
    owner: str
    signatures_path: str
    # What the file is, and what to do when no candidate has its bytes, if not a spec's source.
    noun: str = "source"
    remedy: str | None = None
    address: Address | None = None  # the rpm_package, for SourceError
    url: str | None = None  # the spec's URL for it, whether or not it is a candidate

    @property
    def is_spec_source(self) -> bool:
        """A spec's pinned source, which the host's registries may have; not, say, a seeded RPM
        (rules/rpm/util_rules/seed.py), which is keel's own and no registry's."""
        return self.noun == "source" and self.remedy is None

    def error(self, detail: str) -> str:
        """The SourceError's message when no candidate has the file's bytes."""
        remedy = self.remedy or (
            "Put the file in the source cache: `build-support/source-cache import DIR` checks the "
            "files of a folder against the pins, `build-support/source-cache from-host` looks for "
            "every pin in the host's registries. Or add a mirror (`[rpm-sources].mirrors`), or, if "
            f"the new bytes are the right ones, update its sha256 in {self.signatures_path}."
        )
        return (
            f"{self.owner}: cannot get {self.noun} {self.filename}, pinned by "
            f"{self.signatures_path}:\n{detail}\n{remedy}"
        )


@dataclass(frozen=True)
class FetchedSource:
    digest: Digest


@dataclass(frozen=True)
class SourceFetch:
    """A fetch's file, or what each candidate gave (fetch_source.py's report): the answer of a
    fetch as data, for rules that go on past a missing source (`rpm-compat`'s source check)
    without catching an exception of the engine's (see spec_info.py on why keel avoids that).
    `registries`: then why each of the host's registries has it not (`Debian: ...`), or why
    they were not searched; kept apart from `error`, whose lines are the candidates'."""

    digest: Digest | None
    error: str | None = None
    registries: tuple[str, ...] = ()

    @property
    def detail(self) -> str:
        """The whole report: the candidates', then the registries'."""
        if not self.registries:
            return self.error or ""
        return "\n".join([self.error or "", "the host's registries, by sha256:", *(f"  {r}" for r in self.registries)])


def fetch_candidates(
    filename: str, sha256: str, url: str | None, options: RpmSourcesSubsystem
) -> tuple[str, ...]:
    cache_dir = os.path.expanduser(options.cache_dir)
    # By name, or by sha256 where another pinned file already has the name
    # (build-support/source-cache).
    candidates = [os.path.join(cache_dir, filename), os.path.join(cache_dir, "by-sha256", sha256)]
    candidates += [m.format(filename=filename, sha256=sha256) for m in options.mirrors]
    if url and options.use_spec_urls:
        candidates.append(url)
    return tuple(candidates)


# What the host's clients read for their configuration and their way out (pip's and npm's
# settings, proxies, certificates): a Pants process gets none of the environment unless given.
# They choose where a file may come from, not what it is (its sha256 is checked), but Pants keys a
# process by all of its environment: a change of them re-runs only these lookups, which run only
# for files no candidate had.
_HOST_ENV = (
    "HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
)
_HOST_ENV_PREFIXES = ("PIP_", "npm_config_", "NPM_CONFIG_")


@dataclass(frozen=True)
class HostRegistriesEnv:
    env: FrozenDict[str, str]


@rule(desc="Read the environment of the host's package clients", level=LogLevel.DEBUG)
def host_registries_env(complete: CompleteEnvironmentVars) -> HostRegistriesEnv:
    return HostRegistriesEnv(
        FrozenDict(
            sorted((k, v) for k, v in complete.items() if k in _HOST_ENV or k.startswith(_HOST_ENV_PREFIXES))
        )
    )


@dataclass(frozen=True)
class PipIndexes:
    """pip's simple indexes as its configuration gives them, or why there are none."""

    indexes: tuple[str, ...]
    note: str


@rule(desc="Ask pip for its package indexes", level=LogLevel.DEBUG)
async def pip_indexes(host: HostSettings, env: HostRegistriesEnv) -> PipIndexes:
    """Asked once per run, not by each lookup: `pip config list` takes about a second, and a
    tree's status may look up hundreds of files."""
    tools, scripts = await MultiGet(
        Get(HostTools, HostToolsRequest(("python3",), host.search_path)),
        Get(Digest, CreateDigest, _HOST_SCRIPTS),
    )
    result = await Get(
        ProcessResult,
        Process(
            argv=(tools["python3"], "fetch_from_host.py", "--pip-indexes"),
            input_digest=scripts,
            env={"PATH": host.path_env, **env.env},
            description="Ask pip for its package indexes",
            level=LogLevel.DEBUG,
            # The user's pip configuration may change between runs; its files are not inputs.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    answer = json.loads(result.stdout)
    return PipIndexes(tuple(answer["indexes"]), answer["note"])


# Before the rule that calls it: Pants finds a helper's Gets when it compiles the rule.
async def _fetch_from_host(
    request: FetchSourceRequest,
    options: RpmSourcesSubsystem,
    host: HostSettings,
    tools: HostTools,
    env: HostRegistriesEnv,
) -> FallibleProcessResult:
    scripts, pip = await MultiGet(
        Get(Digest, CreateDigest, _HOST_SCRIPTS),
        Get(PipIndexes, HostRegistriesEnv, env),
    )
    spec_dir = os.path.basename(os.path.dirname(request.signatures_path))
    return await Get(
        FallibleProcessResult,
        Process(
            argv=(
                tools["python3"],
                "fetch_from_host.py",
                request.filename,
                request.sha256,
                ".keel_sources",
                ".keel_host_registries",
                f"--apt-dir={options.apt_dir}",
                f"--suites={','.join(options.debian_suites)}",
                *((f"--url={request.url}",) if request.url else ()),
                *((f"--spec-dir={spec_dir}",) if spec_dir else ()),
                *((f"--pypi-index={i}" for i in pip.indexes) if pip.indexes else (f"--no-pypi-index={pip.note}",)),
            ),
            input_digest=scripts,
            output_files=(request.filename,),
            # keel_host_registries: the private apt state and the sha256 index, built once and
            # shared by every lookup (host_registries.PersistentDebianIndex).
            append_only_caches={"keel_sources": ".keel_sources", "keel_host_registries": ".keel_host_registries"},
            # No KEEL_HOST_TOOLS: the output is the pinned bytes, checked, whoever found them.
            env={"PATH": host.path_env, **env.env},
            description=f"Look up {request.filename} (sha256 {request.sha256[:12]}…) in the host's registries",
            level=LogLevel.INFO,
        ),
    )


@rule(desc="Fetch a source by sha256", level=LogLevel.DEBUG)
async def try_fetch_source(
    request: FetchSourceRequest, host: HostSettings, options: RpmSourcesSubsystem, host_env: HostRegistriesEnv
) -> SourceFetch:
    tools, script = await MultiGet(
        Get(HostTools, HostToolsRequest(("python3",), host.search_path)),
        Get(Digest, CreateDigest([FileContent("fetch_source.py", _FETCH_SCRIPT)])),
    )
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=(
                tools["python3"],
                "fetch_source.py",
                request.filename,
                request.sha256,
                ".keel_sources",
                *request.candidates,
            ),
            input_digest=script,
            output_files=(request.filename,),
            append_only_caches={"keel_sources": ".keel_sources"},
            env={"KEEL_HOST_TOOLS": tools.identity},
            description=f"Fetch {request.filename} (sha256 {request.sha256[:12]}…)",
            level=LogLevel.INFO,
        ),
    )
    if result.exit_code == 0:
        return SourceFetch(result.output_digest)
    report = result.stderr.decode(errors="replace").strip()
    if not request.is_spec_source:
        return SourceFetch(None, report)
    if not options.from_host:
        return SourceFetch(None, report, ("host registries: not searched (`[rpm-sources].from_host` is off)",))
    # The fallback is a process of its own, run only when no candidate had the file: the fetch
    # above keeps its cache key (and its remote cache entries) whatever the host's registries
    # are. A failed lookup is not cached (Pants keeps no FallibleProcessResult with a nonzero
    # exit code), so a later run tries again; a found file also goes into `keel_sources`, where
    # the fetch above finds it next time.
    fallback = await _fetch_from_host(request, options, host, tools, host_env)
    if fallback.exit_code == 0:
        found = fallback.stdout.decode(errors="replace").strip()
        if found:
            logger.info(found)
        return SourceFetch(fallback.output_digest)
    # fetch_from_host.py's report: progress lines, a heading, then "  REGISTRY: why not" each.
    lines = fallback.stderr.decode(errors="replace").splitlines()
    reasons = tuple(line.strip() for line in lines if line.startswith("  "))
    if not reasons:  # it failed before it could say: its whole output is the reason
        reasons = (f"the lookup failed: {' '.join(lines[-3:]) or f'exit code {fallback.exit_code}'}",)
    return SourceFetch(None, report, reasons)


@rule(desc="Fetch a source by sha256", level=LogLevel.DEBUG)
async def fetch_source(request: FetchSourceRequest) -> FetchedSource:
    fetch = await Get(SourceFetch, FetchSourceRequest, request)
    if fetch.digest is None:
        raise SourceError(request.error(fetch.detail), address=request.address)
    return FetchedSource(fetch.digest)


@dataclass(frozen=True)
class ResolvedSources:
    """A spec's sources before anything is fetched: the local files, flat, what to fetch, and
    (file name, sha256) of every one, local and fetched, as `%{_sourcedir}` will hold them."""

    local: Digest
    fetches: tuple[FetchSourceRequest, ...]
    sums: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ResolvedSourcesRead:
    """ResolvedSources, or why a spec's sources cannot even be listed (a source neither local
    nor pinned, a local file that does not match its pin, a malformed signatures file)."""

    resolved: ResolvedSources | None
    error: str | None = None


@rule(desc="Resolve a spec's sources", level=LogLevel.DEBUG)
async def read_spec_sources(request: SpecSourcesRequest, options: RpmSourcesSubsystem) -> ResolvedSourcesRead:
    entries = await Get(DigestEntries, Digest, request.local_digest)
    local: dict[str, FileEntry] = {}
    for entry in entries:
        if not isinstance(entry, FileEntry):
            continue
        name = os.path.basename(entry.path)
        if name in local:
            return ResolvedSourcesRead(
                None,
                f"{request.owner}: two sources are both named {name} ({local[name].path} and "
                f"{entry.path}); rpmbuild keeps sources flat in %{{_sourcedir}}, so rename one.",
            )
        local[name] = entry

    signatures: dict[str, str] = {}
    if os.path.basename(request.signatures_path) in local:
        contents = await Get(
            DigestContents,
            DigestSubset(request.local_digest, PathGlobs([request.signatures_path])),
        )
        try:  # a parse, no Get: nothing of the engine's is caught
            signatures = parse_signatures(request.signatures_path, contents[0].content)
        except InvalidSignaturesError as e:
            return ResolvedSourcesRead(None, f"{request.owner}: {e}")

    fetches = []
    for source in request.wanted:
        expected = signatures.get(source.filename)
        entry = local.get(source.filename)
        if entry is not None:
            actual = entry.file_digest.fingerprint
            if expected and expected != actual:
                return ResolvedSourcesRead(
                    None,
                    f"{request.owner}: {entry.path} does not match {request.signatures_path}: "
                    f"expected sha256 {expected}, actual {actual}. Restore the file, or record "
                    "the new sha256 if the change is intended.",
                )
            continue
        if expected is None:
            return ResolvedSourcesRead(
                None,
                f"{request.owner}: source {source.filename} is neither next to the spec nor "
                f"pinned in {request.signatures_path}. Add the file to the spec's directory, or "
                f'add "{source.filename}": "<sha256>" under "Signatures" in that file.',
            )
        fetches.append(
            FetchSourceRequest(
                filename=source.filename,
                sha256=expected,
                candidates=fetch_candidates(source.filename, expected, source.url, options),
                owner=request.owner,
                signatures_path=request.signatures_path,
                address=request.address,
                url=source.url,
            )
        )

    flat_local = await Get(
        Digest,
        CreateDigest(
            FileEntry(name, entry.file_digest, entry.is_executable)
            for name, entry in sorted(local.items())
        ),
    )
    sums = {name: entry.file_digest.fingerprint for name, entry in local.items()}
    sums.update((f.filename, f.sha256) for f in fetches)
    return ResolvedSourcesRead(ResolvedSources(flat_local, tuple(fetches), tuple(sorted(sums.items()))))


@rule(desc="Resolve a spec's sources", level=LogLevel.DEBUG)
async def resolve_spec_sources(request: SpecSourcesRequest) -> ResolvedSources:
    read = await Get(ResolvedSourcesRead, SpecSourcesRequest, request)
    if read.resolved is None:
        raise SourceError(read.error or "", address=request.address)
    return read.resolved


@dataclass(frozen=True)
class MissingSource:
    """A pinned file no candidate has: why, in one line, and where keel looked."""

    filename: str
    signatures_path: str
    reason: str
    looked_in: tuple[str, ...]  # the candidates, in the order tried
    attempts: tuple[str, ...]  # what each candidate gave (fetch_source.py's report)


@dataclass(frozen=True)
class SourcesAvailability:
    """Whether a spec's sources can all be had, found out by fetching them (what a build would
    fetch first, so a build after it fetches nothing again). `error`: the sources cannot even
    be listed (see ResolvedSourcesRead); `missing`: pinned files no candidate has."""

    missing: tuple[MissingSource, ...] = ()
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.error is None and not self.missing


def missing_reason(candidates: tuple[str, ...], attempts: tuple[str, ...]) -> str:
    """One line on why no candidate had a file: the local candidates (the source cache, a
    `file:` mirror) said together, each URL with its own error, in the order tried."""
    parts: list[str] = []
    local_misses = 0
    for candidate in candidates:
        said = next((a[len(candidate) + 2:] for a in attempts if a.startswith(f"{candidate}: ")), None)
        if said is None:
            continue
        if "://" not in candidate and "No such file" in said:
            local_misses += 1
            if local_misses == 1:
                parts.append("not in the source cache")
            continue
        parts.append(f"{candidate}: {said}")
    return "; ".join(parts) or "no candidate: no source cache, mirror or URL"


@rule(desc="Check a spec's sources", level=LogLevel.DEBUG)
async def spec_sources_availability(request: SpecSourcesRequest) -> SourcesAvailability:
    read = await Get(ResolvedSourcesRead, SpecSourcesRequest, request)
    if read.resolved is None:
        return SourcesAvailability(error=read.error)
    fetches = read.resolved.fetches
    answers = await MultiGet(Get(SourceFetch, FetchSourceRequest, f) for f in fetches)
    missing = []
    for f, answer in zip(fetches, answers):
        if answer.digest is not None:
            continue
        # fetch_source.py's report: a first line, then "  CANDIDATE: what it gave" each.
        attempts = tuple(
            line.strip() for line in (answer.error or "").splitlines()[1:] if line.startswith("  ")
        )
        # The registries' reasons after the candidates', those of registries that were looked in
        # (the error of a build names every one; a status line wants the ones that matter).
        registries = [r for r in answer.registries if ": not looked in" not in r]
        reason = "; ".join([missing_reason(f.candidates, attempts), *registries])
        missing.append(MissingSource(f.filename, f.signatures_path, reason, f.candidates, attempts))
    return SourcesAvailability(missing=tuple(missing))


@rule(desc="Gather a spec's sources", level=LogLevel.DEBUG)
async def spec_sources(request: SpecSourcesRequest) -> SpecSources:
    resolved = await Get(ResolvedSources, SpecSourcesRequest, request)
    fetched = await MultiGet(Get(FetchedSource, FetchSourceRequest, f) for f in resolved.fetches)
    digest = await Get(Digest, MergeDigests([resolved.local, *(f.digest for f in fetched)]))
    return SpecSources(digest)


def rules():
    return collect_rules()
