"""Gather every source a spec uses: local files as they are, the rest fetched by sha256."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pants.engine.addresses import Address
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
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.sources.signatures import InvalidSignaturesError, parse_signatures
from rules.sources.subsystems import RpmSourcesSubsystem

_FETCH_SCRIPT = (Path(__file__).parent / "scripts" / "fetch_source.py").read_bytes()


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

    def error(self, detail: str) -> str:
        """The SourceError's message when no candidate has the file's bytes."""
        remedy = self.remedy or (
            "Put the file in the source cache (`build-support/source-cache import DIR`), add a "
            "mirror (`[rpm-sources].mirrors`), or, if the new bytes are the right ones, update "
            f"its sha256 in {self.signatures_path}."
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
    without catching an exception of the engine's (see spec_info.py on why keel avoids that)."""

    digest: Digest | None
    error: str | None = None


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


@rule(desc="Fetch a source by sha256", level=LogLevel.DEBUG)
async def try_fetch_source(request: FetchSourceRequest, host: HostSettings) -> SourceFetch:
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
    if result.exit_code != 0:
        return SourceFetch(None, result.stderr.decode(errors="replace").strip())
    return SourceFetch(result.output_digest)


@rule(desc="Fetch a source by sha256", level=LogLevel.DEBUG)
async def fetch_source(request: FetchSourceRequest) -> FetchedSource:
    fetch = await Get(SourceFetch, FetchSourceRequest, request)
    if fetch.digest is None:
        raise SourceError(request.error(fetch.error or ""), address=request.address)
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
        missing.append(
            MissingSource(
                f.filename, f.signatures_path, missing_reason(f.candidates, attempts), f.candidates, attempts
            )
        )
    return SourcesAvailability(missing=tuple(missing))


@rule(desc="Gather a spec's sources", level=LogLevel.DEBUG)
async def spec_sources(request: SpecSourcesRequest) -> SpecSources:
    resolved = await Get(ResolvedSources, SpecSourcesRequest, request)
    fetched = await MultiGet(Get(FetchedSource, FetchSourceRequest, f) for f in resolved.fetches)
    digest = await Get(Digest, MergeDigests([resolved.local, *(f.digest for f in fetched)]))
    return SpecSources(digest)


def rules():
    return collect_rules()
