"""Find a pinned file by its sha256 in the package registries this host reaches.

Shared by `build-support/source-cache from-host` (which imports this file by path) and by the
fetch fallback of keel's rules (fetch_from_host.py, run in a Pants sandbox by
rules/sources/fetch.py with the host's python3). Standard library only, Python 3.9 and later.

The registries, in the order they are searched:

- Debian source indexes: every apt source entry of the host (an apt configuration directory,
  /etc/apt by default) written as deb-src for the host's own suites and, at the same URIs, for
  extra suites (`backports` = CODENAME-backports, other names as they are). apt reads them in a
  private state; the host's apt lists and cache are never touched. A file is matched against the
  Checksums-Sha256 of every source paragraph and downloaded with apt, trying every URI that lists
  it (a mirror may list a pool file it does not serve).
- PyPI's simple indexes as pip is configured (`pip config list`), for a file named like an sdist
  or whose URL names a PyPI project: each project page lists its files with a `#sha256=`.
- npm, for a file named like an npm tarball: `npm pack NAME@VERSION` with npm's configuration.

No registry's address is written here: they all come from the host's clients' configuration.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html.parser
import json
import os
import pwd
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

# Debian's stable moves on (bookworm, then trixie): the aliases reach the newer releases
# whatever the host's is; a suite that turns out to be the host's own is read once.
DEFAULT_SUITES = "backports,stable,testing,unstable"
# The version starts at the first `-digit`, so `python-dateutil-2.8.2.tar.gz` is project
# `python-dateutil`.
SDIST = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*?)-(?P<version>\d[A-Za-z0-9.+!_-]*?)\.(?:tar\.gz|tar\.bz2|zip)$"
)
# npm tarballs are NAME-SEMVER.tgz with lower-case names; other .tgz files (byacc-20240109.tgz,
# PEAR-1.10.13.tgz) are not worth an npm call.
NPM_TARBALL = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*?)-(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.tgz$")
PYTHON_PREFIXES = ("python-", "python3-")
HTTP_TIMEOUT = 120
APT_HELPER = "/usr/lib/apt/apt-helper"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plural(n: int, word: str, many: str | None = None) -> str:
    return word if n == 1 else (many or word + "s")


def and_list(names: list) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def counted(reasons: list) -> str:
    """`404` or `404 ×2, Hash Sum mismatch`."""
    counts = Counter(reasons)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{r} ×{n}" if n > 1 else r for r, n in counts.most_common())


# --- Debian: the host's apt sources, as deb-src ---------------------------------------------------


@dataclass
class AptEntry:
    """One `deb` entry of the host's apt sources, able to write itself as deb-src for other
    suites (the rest of the entry, keys and options included, kept as the host has it)."""

    uris: list
    suites: list
    render: Callable[[list], str]
    deb822: bool


def one_line_entries(path: Path) -> list:
    entries = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not re.match(r"deb\s", line):
            continue
        rest = line[3:].strip()
        options = ""
        if rest.startswith("["):
            options, _, rest = rest.partition("]")
            options += "] "
        words = rest.split()
        if len(words) < 2:
            continue
        uri, suite, components = words[0], words[1], " ".join(words[2:])
        entries.append(AptEntry(
            uris=[uri], suites=[suite], deb822=False,
            render=lambda suites, o=options, u=uri, c=components: "".join(
                f"deb-src {o}{u} {s} {c}".rstrip() + "\n" for s in suites
            ),
        ))
    return entries


def deb822_entries(path: Path) -> list:
    entries = []
    for stanza in re.split(r"\n\s*\n", path.read_text()):
        lines = [line for line in stanza.splitlines() if not line.startswith("#")]
        fields = {}
        for line in lines:
            if ":" in line and not line.startswith((" ", "\t")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        # Every other field (Signed-By, even an inline key, Trusted, Components) is kept.
        kept, skipping = [], False
        for line in lines:
            if line.startswith((" ", "\t")):
                if not skipping:
                    kept.append(line)
                continue
            key = line.split(":", 1)[0].strip().lower()
            skipping = key in ("types", "suites")
            if not skipping:
                kept.append(line)
        body = "\n".join(kept)
        entries.append(AptEntry(
            uris=fields.get("uris", "").split(), suites=fields.get("suites", "").split(), deb822=True,
            render=lambda suites, b=body: f"Types: deb-src\nSuites: {' '.join(suites)}\n{b}\n\n",
        ))
    return entries


def apt_entries(apt_dir: Path) -> list:
    entries = []
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if path.exists():
            entries += one_line_entries(path)
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        entries += deb822_entries(path)
    return entries


def extra_suites(host_suites: list, relative: list) -> list:
    """The suites `relative` names for an entry whose suites are `host_suites`: `backports` is
    CODENAME-backports of each codename there (a suite's part before its first `-`); others are
    suite names as they are. Flat repositories (`./`) have no codename and get none."""
    suites = []
    codenames = [s.split("-", 1)[0] for s in host_suites if not s.endswith("/")]
    if not codenames:
        return []
    for name in relative:
        for suite in ([f"{c}-backports" for c in codenames] if name == "backports" else [name]):
            if suite not in suites:
                suites.append(suite)
    return suites


def render_private_sources(apt_dir: Path, relative: list) -> tuple:
    """({file name: text} of the host's entries as deb-src, for an apt SourceParts directory;
    every (URI, suite) asked for): the host's own suites first, as their files are tried first."""
    requested: list = []
    files = {name: [] for name in ("10-host.list", "10-host.sources", "20-extra.list", "20-extra.sources")}
    entries = apt_entries(apt_dir)
    for prefix, extra in (("10-host", False), ("20-extra", True)):
        for entry in entries:
            suites = extra_suites(entry.suites, relative) if extra else entry.suites
            # A suite the host or an earlier entry already asks for at a URI is asked once.
            new = [s for s in suites if any((u, s) not in requested for u in entry.uris)]
            if not new:
                continue
            requested += [(u, s) for s in new for u in entry.uris if (u, s) not in requested]
            files[prefix + (".sources" if entry.deb822 else ".list")].append(entry.render(new))
    return {name: "".join(texts) for name, texts in files.items()}, requested


def apt_options(state: Path) -> list:
    # Absolute: apt reads relative Dir:: paths as relative to its own directories.
    state = state.absolute()
    return [
        "-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={state / 'parts'}",
        "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state / 'cache'}",
        "-o", "Debug::NoLocking=1",
        # apt drops to its own user to download, who may not write here; as whoever runs this it
        # can (a Pants process has no USER: ask the system).
        "-o", "APT::Sandbox::User=" + pwd.getpwuid(os.getuid()).pw_name,
    ]


@dataclass
class SourceLists:
    """The Debian source index files apt fetched into a private state."""

    suites: list = field(default_factory=list)  # the suites read, host's first: "bookworm", "sid"
    notes: list = field(default_factory=list)  # suites skipped, and why
    lists: list = field(default_factory=list)  # (archive URI, suite label, component, index file)


def update_source_lists(state: Path, parts: dict, requested: list) -> SourceLists:
    """`apt-get update` of the deb-src `parts` in the private apt state `state` (its lists are
    kept there, so a later update fetches only what changed), and the Sources files it has."""
    result = SourceLists()
    for sub in ("parts", "lists/partial", "cache"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    for old in (state / "parts").iterdir():
        if old.name not in parts:
            old.unlink()
    for name, text in parts.items():
        (state / "parts" / name).write_text(text)
    # A suite missing at a URI fails `apt-get update` as a whole (status 100) but the others are
    # still fetched: what was fetched is read back from indextargets below, not from the status.
    update = subprocess.run(["apt-get", "-q", *apt_options(state), "update"], capture_output=True, text=True)
    targets = subprocess.run(
        ["apt-get", *apt_options(state), "indextargets", "--format",
         "$(CREATED_BY)\t$(REPO_URI)\t$(RELEASE)\t$(CODENAME)\t$(COMPONENT)\t$(FILENAME)"],
        capture_output=True, text=True, check=True,
    ).stdout
    found: dict = {}  # (URI, requested suite) -> [(suite label, component, index file)]
    for line in targets.splitlines():
        # A field the Release file lacks (an archive without Codename) is printed as its $(NAME).
        created_by, repo_uri, release, codename, component, filename = (
            "" if f.startswith("$(") else f for f in line.split("\t")
        )
        if created_by == "Sources" and os.path.exists(filename):
            # Named by codename: `stable` is reported as the release it is (trixie).
            found.setdefault((repo_uri.rstrip("/"), release), []).append((codename or release, component, filename))
    errors = [line[3:].strip() for line in update.stderr.splitlines() if line.startswith("E: ")]
    read: dict = {}  # (URI, suite label, component) -> the suite name it was read as
    for uri, suite in requested:
        lists = found.get((uri.rstrip("/"), suite))
        if not lists:
            base = uri.rstrip("/")
            why = next((e for e in errors if f"{base} {suite} " in e or f"{base}/dists/{suite}/" in e), "")
            if "does not have a Release file" in why:
                why = "no such suite there (no Release file)"
            elif re.search(r"\s404\s", why):
                why = "no such suite there (404)"  # a trusted=yes source without Release goes on to the index
            else:
                why = why or "apt found no source index there"
            result.notes.append(f"skipped suite {suite} at {uri}: {why}")
            continue
        for label, component, filename in lists:
            key = (uri.rstrip("/"), label, component)
            if key in read:
                if read[key] != suite:
                    result.notes.append(f"suite {suite} at {uri} is {label}, read once")
                continue
            read[key] = suite
            if label not in result.suites:
                result.suites.append(label)
            result.lists.append((uri.rstrip("/"), label, component, filename))
    return result


def sources_files(filename: str) -> Iterator:
    """(sha256, pool directory, file name) of every file a Sources index lists, read as a stream
    through apt (the index may be compressed; sid's is a hundred MB as text)."""
    with subprocess.Popen(
        [APT_HELPER, "cat-file", filename], stdout=subprocess.PIPE, text=True, errors="replace"
    ) as cat:
        directory, checksums, in_checksums = None, [], False
        for line in cat.stdout:
            if line == "\n":
                if directory:
                    for sha256, name in checksums:
                        yield sha256, directory, name
                directory, checksums, in_checksums = None, [], False
            elif line[0] in " \t":
                if in_checksums:
                    parts = line.split()
                    if len(parts) == 3:
                        checksums.append((parts[0], parts[2]))
            else:
                key, _, value = line.partition(":")
                in_checksums = key == "Checksums-Sha256"
                if key == "Directory":
                    directory = value.strip()
        if directory:
            for sha256, name in checksums:
                yield sha256, directory, name
    if cat.returncode:
        raise RuntimeError(f"apt-helper cat-file {filename} failed (status {cat.returncode})")


@dataclass
class DebianIndex:
    suites: list = field(default_factory=list)  # the suites read, host's first: "bookworm", "sid"
    notes: list = field(default_factory=list)  # suites skipped, and why
    # {sha256: [(suite, URI), ...]}: only the wanted ones, URIs in the order to try them.
    files: dict = field(default_factory=dict)


def read_debian_index(state: Path, apt_dir: Path, relative: list, wanted: set) -> DebianIndex:
    """The pool URIs of the `wanted` sha256s, read once in a private apt state `state` (what
    source-cache from-host does for a whole tree's pins at a time)."""
    parts, requested = render_private_sources(apt_dir, relative)
    lists = update_source_lists(state, parts, requested)
    index = DebianIndex(suites=lists.suites, notes=lists.notes)
    for archive, label, _component, filename in lists.lists:
        for sha256, directory, name in sources_files(filename):
            if sha256 in wanted:
                uri = f"{archive}/{directory}/{name}"
                candidates = index.files.setdefault(sha256, [])
                if all(u != uri for _, u in candidates):
                    candidates.append((label, uri))
    return index


def apt_failure(output: str) -> str:
    """apt-helper's reason for a failed download, short: `404`, `Hash Sum mismatch`..."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Err:") and i + 1 < len(lines):
            reason = re.sub(r"\s*\[IP: [^]]*\]", "", lines[i + 1]).strip()
            code = re.match(r"(\d{3})\s", reason)
            return code.group(1) if code else " ".join(reason.split())
    return "download failed"


def apt_download(candidates: list, sha256: str, dest: Path) -> tuple:
    """(suite of the first candidate apt downloads with the right sha256, its URI, the other
    candidates' failures); the file is `dest`. (None, None, failures) if none downloads."""
    failures = []
    partial = dest.with_name(dest.name + ".partial")
    for suite, uri in candidates:
        result = subprocess.run(
            [APT_HELPER, "download-file", uri, str(partial), f"SHA256:{sha256}"],
            capture_output=True, text=True,
        )
        if result.returncode == 0 and partial.exists() and sha256_of(partial) == sha256:
            os.replace(partial, dest)
            return suite, uri, failures
        if partial.exists():
            partial.unlink()
        failures.append(apt_failure(result.stdout + result.stderr) if result.returncode else "sha256 mismatch")
    return None, None, failures


def debian_reason(candidates: list, failures: list, suites: list) -> str:
    """Why Debian did not give a file: listed but not downloaded, or not listed at all."""
    listed = list(dict.fromkeys(s for s, _ in candidates))
    if listed:
        return (
            f"listed in Debian {and_list(listed)}'s {plural(len(listed), 'index', 'indexes')} "
            f"but none of {len(failures)} {plural(len(failures), 'URI')} downloaded ({counted(failures)})"
        )
    return f"not in any Debian source index ({', '.join(suites) or 'none read'})"


class PersistentDebianIndex:
    """Every file of every Debian source index the host's apt configuration reaches, by sha256,
    in a SQLite file under `root` (a Pants named cache), for lookups of one file at a time.

    Reading every suite's Sources index takes tens of seconds and tens of MB, and a fresh build
    misses some twenty files fetched in parallel, each in its own process: so the index is built
    once, under an exclusive fcntl lock (the others wait for that one reader, then find the index
    fresh), and each lookup after it is one indexed query. The private apt state (its lists) is
    kept beside it, so a rebuild downloads only what changed (apt's If-Modified-Since and diffs).

    Rebuilt when older than MAX_AGE (a pool file listed long ago may be gone), or when a file is
    missing (not listed, or listed but not downloadable) from an index older than
    REFRESH_ON_MISS: a miss in an index this young is a real miss, and re-reading for every miss
    of a run would cost the whole read each time. One state per apt configuration (the deb-src
    entries it renders and the extra suites): runs with another configuration keep theirs.
    """

    MAX_AGE = 12 * 3600
    REFRESH_ON_MISS = 3600
    UNUSED = 14 * 24 * 3600  # a state no run has used this long is removed
    FORMAT = "1"

    def __init__(self, root: Path, apt_dir: Path, relative: list, log: Callable[[str], None] = lambda s: None):
        self.apt_dir = apt_dir
        self.parts, self.requested = render_private_sources(apt_dir, relative)
        key = hashlib.sha256(json.dumps([self.FORMAT, self.parts, relative], sort_keys=True).encode()).hexdigest()
        self.root = root / "debian"
        self.dir = self.root / key[:20]
        self.db = self.dir / "index.sqlite"
        self.log = log
        self.error: str | None = None  # why no index could be read at all, if so

    @contextlib.contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                os.utime(self.dir / "lock")  # last used, for pruning
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _meta(self) -> dict | None:
        if not self.db.exists():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as db:
                meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
        except sqlite3.Error:
            return None
        return meta if meta.get("format") == self.FORMAT else None

    def _build(self) -> dict | None:
        """Updates the private apt state and writes a new index; the old one stays if no suite
        could be read at all (no network, no apt), so one bad minute does not empty it."""
        if not self.requested:
            self.error = f"not looked in: {self.apt_dir} lists no deb sources"
            return None
        if not shutil.which("apt-get") or not os.access(APT_HELPER, os.X_OK):
            self.error = "not looked in: no apt here to read Debian source indexes"
            return self._meta()
        started = time.time()
        self.log("reading the Debian source indexes of the host's apt sources (once; later lookups use an index)")
        lists = update_source_lists(self.dir / "apt", self.parts, self.requested)
        if not lists.lists:
            self.error = "no Debian source index could be read (" + "; ".join(lists.notes or ["no apt sources"]) + ")"
            return self._meta()
        new = self.dir / f"index.sqlite.{os.getpid()}.new"
        if new.exists():
            new.unlink()
        with contextlib.closing(sqlite3.connect(new)) as db:
            db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                "CREATE TABLE lists(id INTEGER PRIMARY KEY, suite TEXT, archive TEXT);"
                # Rows in the order read (host suites first): the order to try a file's URIs in.
                "CREATE TABLE files(sha256 BLOB, list INTEGER, path TEXT);"
            )
            for number, (archive, label, _component, filename) in enumerate(lists.lists):
                db.execute("INSERT INTO lists VALUES (?, ?, ?)", (number, label, archive))
                db.executemany(
                    "INSERT INTO files VALUES (?, ?, ?)",
                    (
                        (bytes.fromhex(sha256), number, f"{directory}/{name}")
                        for sha256, directory, name in sources_files(filename)
                        # A .dsc is Debian's own signed description of a source package: never a
                        # pinned upstream file, and a third of the rows.
                        if not name.endswith(".dsc") and len(sha256) == 64
                    ),
                )
            db.execute("CREATE INDEX files_sha256 ON files(sha256)")
            meta = {"format": self.FORMAT, "built_at": time.time(), "suites": lists.suites, "notes": lists.notes}
            db.executemany("INSERT INTO meta VALUES (?, ?)", ((k, json.dumps(v)) for k, v in meta.items()))
            db.commit()
        os.replace(new, self.db)
        self.log(f"indexed the source indexes of {', '.join(lists.suites)} in {time.time() - started:.0f} s")
        return meta

    def current(self, max_age: float) -> dict | None:
        """The index's meta, rebuilt first if missing or older than `max_age` seconds. Whoever
        holds the lock builds; the others wait, then find it young enough."""
        with self._locked():
            meta = self._meta()
            if meta is None or time.time() - meta["built_at"] > max_age:
                meta = self._build()
        self._prune()
        return meta

    def lookup(self, sha256: str) -> list:
        """[(suite, URI), ...] listing `sha256`, in the order to try them."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT lists.suite, lists.archive, files.path FROM files JOIN lists ON lists.id = files.list "
                "WHERE files.sha256 = ? ORDER BY files.rowid",
                (bytes.fromhex(sha256),),
            ).fetchall()
        candidates: list = []
        for suite, archive, path in rows:
            uri = f"{archive}/{path}"
            if all(u != uri for _, u in candidates):
                candidates.append((suite, uri))
        return candidates

    def find(self, sha256: str, dest: Path) -> tuple:
        """(suite, URI) `dest` was downloaded from, or (None, why Debian does not have it)."""
        meta = self.current(self.MAX_AGE)
        if meta is None:
            return None, self.error or "no Debian source index could be read"
        candidates = self.lookup(sha256)
        suite, uri, failures = apt_download(candidates, sha256, dest)
        if suite:
            return (suite, uri), None
        if time.time() - meta["built_at"] > self.REFRESH_ON_MISS:
            meta = self.current(self.REFRESH_ON_MISS) or meta
            tried = {u for _, u in candidates}
            candidates = self.lookup(sha256)
            suite, uri, more = apt_download([c for c in candidates if c[1] not in tried], sha256, dest)
            if suite:
                return (suite, uri), None
            failures += more
        return None, debian_reason(candidates, failures, meta["suites"])

    def _prune(self) -> None:
        """Removes the states of apt configurations no run has used for UNUSED seconds (a test's
        throw-away configuration, a host's old sources), each only if no one holds its lock."""
        for other in self.root.iterdir():
            lock = other / "lock"
            if other == self.dir or not other.is_dir() or not lock.exists():
                continue
            if time.time() - lock.stat().st_mtime < self.UNUSED:
                continue
            with open(lock, "a+") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue
                shutil.rmtree(other, ignore_errors=True)


# --- PyPI --------------------------------------------------------------------------------------


def pip_python() -> str | None:
    """An interpreter with pip: this one, else python3 on PATH (a test's or Pants' interpreter
    may have none)."""
    for python in (sys.executable, shutil.which("python3")):
        if python and subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0:
            return python
    return None


def pip_indexes() -> tuple:
    """(simple index URLs as pip would use them for a download, or [], and a note). pip's
    default index is asked of pip, so its address is written nowhere here."""
    python = pip_python()
    if python is None:
        return [], "no pip here to say which package index to use"
    listed = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    config = {}
    for line in listed.splitlines():
        match = re.match(r"^(:env:|global|download|install)\.([\w-]+)='(.*)'$", line)
        if match:
            config[(match.group(1), match.group(2))] = match.group(3)

    def value(key):
        # pip's precedence: environment, then the command's section, then global.
        return next((config[(s, key)] for s in (":env:", "download", "global") if (s, key) in config), None)

    index = value("index-url")
    if index is None:
        index = subprocess.run(
            [python, "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"],
            capture_output=True, text=True,
        ).stdout.strip()
        if not index:
            return [], "pip's default index could not be asked of pip"
    extra = (value("extra-index-url") or "").split()
    return [index, *extra], ""


def normalized(project: str) -> str:
    """PEP 503's name: lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", project).lower()


class LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list = []
        self._href = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""

    def handle_data(self, data):
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None


def open_url(url: str):
    # A file: index (pip allows them) is a tree of directories with index.html pages.
    if url.startswith("file:") and url.endswith("/"):
        url += "index.html"
    return urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/html"}), timeout=HTTP_TIMEOUT)


class SimpleIndex:
    """The per-project pages of one or more PEP 503 simple indexes, each fetched once."""

    def __init__(self, indexes: list):
        self.indexes = [i.rstrip("/") + "/" for i in indexes]
        self.pages: dict = {}
        self.lock = threading.Lock()

    def fetch(self, project: str) -> None:
        """{sha256: (file name, URL)} of `project` over every index into self.pages; None if no
        index has the project; a string if an index could not be read."""
        files, seen, errors = {}, False, []
        for index in self.indexes:
            page_url = urllib.parse.urljoin(index, project + "/")
            for attempt in range(2):
                try:
                    with open_url(page_url) as response:
                        text = response.read().decode("utf-8", "replace")
                    break
                except urllib.error.HTTPError as e:
                    text = None
                    if e.code == 404:
                        break
                    error = f"{page_url}: HTTP {e.code}"
                except (urllib.error.URLError, OSError) as e:
                    text = None
                    if page_url.startswith("file:"):
                        break  # a local index without the project
                    error = f"{page_url}: {getattr(e, 'reason', e)}"
            else:
                errors.append(error)
            if text is None:
                continue
            seen = True
            parser = LinkParser()
            parser.feed(text)
            for href, text_name in parser.links:
                url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
                sha256 = dict(p.split("=", 1) for p in fragment.split("&") if "=" in p).get("sha256")
                if sha256:
                    files.setdefault(sha256.lower(), (text_name or url.rsplit("/", 1)[-1], url))
        with self.lock:
            self.pages[project] = files if seen else ("; ".join(errors) if errors else None)

    def match(self, sha256: str, names: list) -> tuple:
        """((project, file name, URL), None) of the first of `names` (fetched already) whose page
        lists `sha256`, else (None, why none does)."""
        pages = {n: self.pages.get(n) for n in names}
        found = next(((n, *p[sha256]) for n, p in pages.items() if isinstance(p, dict) and sha256 in p), None)
        if found:
            return found, None
        existing = [n for n, p in pages.items() if isinstance(p, dict)]
        errors = [p for p in pages.values() if isinstance(p, str)]
        if existing:
            why = (f"PyPI {plural(len(existing), 'project')} {and_list(existing)} "
                   f"{plural(len(existing), 'has', 'have')} no file with this sha256")
        else:
            why = f"no PyPI project matched (tried: {', '.join(names)})"
        return None, why + (f" (index errors: {'; '.join(errors)})" if errors else "")


def spec_macros(text: str) -> dict:
    macros = {}
    for line in text.splitlines():
        match = re.match(r"^\s*%(?:global|define)\s+(\w+)\s+(.+?)\s*$", line)
        if match:
            macros[match.group(1)] = match.group(2)
        match = re.match(r"^(Name|Version|URL)\s*:\s*(\S+)", line, re.IGNORECASE)
        if match:
            macros.setdefault(match.group(1).lower(), match.group(2))
    return macros


def expand(value: str, macros: dict) -> str:
    """Simple textual macro substitution (no conditionals, no shell, no Lua), and
    %{pypi_source [NAME [VERSION [EXT]]]} as the path PyPI serves sdists under."""
    for _ in range(8):
        new = re.sub(
            r"%\{(\??)(\w+)\}|%(\w+)",
            lambda m: macros.get(m.group(2) or m.group(3), "" if m.group(1) else m.group(0)),
            value,
        )
        if new == value:
            break
        value = new

    def pypi_source(match):
        args = match.group(1).split()
        name = args[0] if args else macros.get("pypi_name", macros.get("name", ""))
        version = args[1] if len(args) > 1 else macros.get("version", "")
        ext = args[2] if len(args) > 2 else "tar.gz"
        return f"/packages/source/{name[:1]}/{name}/{name}-{version}.{ext}"

    return re.sub(r"%\{pypi_source\b([^}]*)\}", pypi_source, value)


def spec_source_urls(spec_dir: Path, pin: str) -> list:
    """The URLs the Source lines of the specs in `spec_dir` give for the file `pin`, read
    textually (rpmspec is not needed, nor a build root)."""
    urls = []
    for spec in sorted(spec_dir.glob("*.spec")):
        text = spec.read_text(errors="replace")
        macros = spec_macros(text)
        for line in text.splitlines():
            match = re.match(r"^Source\d*\s*:\s*(\S+)", line, re.IGNORECASE)
            if not match:
                continue
            url = expand(match.group(1), macros)
            upstream, _, rename = url.partition("#")
            file_name = rename[1:] if rename.startswith("/") else upstream.rsplit("/", 1)[-1]
            if file_name.rsplit("/", 1)[-1] == pin:
                urls.append(url)
    return urls


def url_projects(url: str) -> list:
    """The PyPI project a Source URL names: a `/packages/source/X/PROJECT/` path, or a
    NAME-VERSION sdist file name."""
    upstream = url.partition("#")[0]
    by_path = re.search(r"/packages/source/[^/]+/([^/%]+)/", upstream)
    by_name = SDIST.match(upstream.rsplit("/", 1)[-1])
    return [
        name for name in (by_path.group(1) if by_path else None, by_name.group("name") if by_name else None)
        if name and "%" not in name
    ]


def pypi_projects(pin: str, urls: list, spec_dirs: list) -> list:
    """Normalized PyPI project names to try for `pin` whose Source URLs are `urls`, of specs in
    directories named `spec_dirs`, in order; [] if nothing says it is a Python sdist."""
    names = []
    sdist = SDIST.match(pin)
    if sdist:
        names.append(sdist.group("name"))
    for url in urls:
        names += url_projects(url)
    if not names:
        return []
    names += [d for d in spec_dirs if d.startswith(PYTHON_PREFIXES)]
    tried = []
    for name in names:
        for variant in (name, *(name[len(p):] for p in PYTHON_PREFIXES if name.startswith(p))):
            if variant and normalized(variant) not in tried:
                tried.append(normalized(variant))
    return tried


def url_download(url: str, sha256: str, dest: Path) -> str | None:
    """Downloads `url` as `dest` if its sha256 is `sha256`; else the reason it is not there."""
    partial = dest.with_name(dest.name + ".partial")
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as e:
        if partial.exists():
            partial.unlink()
        return f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        if partial.exists():
            partial.unlink()
        return str(getattr(e, "reason", e))
    actual = sha256_of(partial)
    if actual != sha256:
        partial.unlink()
        return f"the download's sha256 is {actual}, refused"
    os.replace(partial, dest)
    return None


def pypi_download_failure(project: str, file_name: str, error: str) -> str:
    return f"PyPI project {project} lists it as {file_name}, but {error}"


# --- npm ---------------------------------------------------------------------------------------


def npm_pack(name: str, version: str, sha256: str, dest: Path) -> str | None:
    """`npm pack NAME@VERSION` as `dest` if its sha256 is `sha256`; else the reason it is not."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = subprocess.run(
                ["npm", "pack", "--ignore-scripts", f"{name}@{version}"],
                cwd=tmp, capture_output=True, text=True, timeout=600,
            )
        except subprocess.TimeoutExpired:
            return f"npm pack {name}@{version} timed out"
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode or len(tarballs) != 1:
            code = re.search(r"\bcode (E\w+)", result.stderr)
            if code and code.group(1) == "E404":
                return f"npm has no package {name}"
            if code and code.group(1) == "ETARGET":
                return f"npm's {name} has no version {version}"
            last = (result.stderr.strip().splitlines() or ["no tarball written"])[-1]
            return f"npm pack {name}@{version} failed ({code.group(1) if code else last})"
        actual = sha256_of(tarballs[0])
        if actual != sha256:
            return f"npm's {name}@{version} has sha256 {actual}, refused"
        shutil.move(str(tarballs[0]), dest)
    return None
