"""A pinned source that is in neither the source cache nor a mirror nor at its URL is looked up by
sha256 in the host's registries (Debian's source indexes through apt, PyPI's simple index as pip
is configured, npm), as `build-support/source-cache from-host` does, and used only when its
sha256 is the pin. Here the registries are an apt archive and a PEP 503 index served on
127.0.0.1, and a spec's URL points at a closed port.

- fetch_from_host.py itself (the fallback process): parallel lookups read the Debian indexes
  once; a miss reads them again only when they are an hour old; PyPI through pip's index.
- keel's rules: the source check (`rpm-compat`) gives each registry's reason; with
  `[rpm-sources].from_host` off, an error naming every place tried, and then on, the file.
- `./pants package` of a tiny spec: built from the fallback; a pin no registry has, an error
  with each one's reason.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import lzma
import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pants.engine.fs import DigestContents, PathGlobs, Snapshot
from pants.engine.internals.scheduler import ExecutionError

# The backends the test workspace loads: imported so that Pants puts them in this test's sandbox
# (the workspace runs them from there).
import rules.azl.register  # noqa: F401
import rules.image.register  # noqa: F401
import rules.rpm.register  # noqa: F401
import rules.toolchain.register  # noqa: F401
from rules.sources.fetch import SourceFile, SourcesAvailability, SpecSources, SpecSourcesRequest
from rules.sources.scripts import host_registries
from tests.pants_workspace import Workspace
from tests.rule_runner import BOOTSTRAP, keel_rule_runner, pex_cli_options

FETCH_FROM_HOST = Path(host_registries.__file__).parent / "fetch_from_host.py"
# A closed port: the spec's URL fails at once, as an unreachable upstream does.
DEAD = "http://127.0.0.1:9"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def unique(what: str) -> bytes:
    """Bytes no earlier run stored: keel keeps fetched files by sha256 in a named cache that
    test runs share, and a file found there would not need the registries."""
    return f"{what} {os.urandom(16).hex()}\n".encode()


class Recorder(http.server.SimpleHTTPRequestHandler):
    requests: list  # set per server

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        self.requests.append(self.path)


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory):
    """An HTTP server on 127.0.0.1 serving a directory, and the paths it was asked for."""
    root = tmp_path_factory.mktemp("www")
    requests: list = []
    handler = type("Handler", (Recorder,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    thread.join()


def debian_suite(archive: Path, suite: str, codename: str, files: dict[str, bytes]) -> None:
    """dists/SUITE of an apt archive listing `files` (one source package each, in the pool),
    with the Release file apt needs (unsigned: the sources say the archive is trusted). Written
    again, its Release gets a later time than before: apt asks with If-Modified-Since."""
    paragraphs = []
    for name, content in files.items():
        package = name.split("_", 1)[0]
        directory = f"pool/main/{package[0]}/{package}"
        (archive / directory).mkdir(parents=True, exist_ok=True)
        (archive / directory / name).write_bytes(content)
        paragraphs.append(
            f"Package: {package}\nVersion: 1.0-1\nChecksums-Sha256:\n {sha(content)} {len(content)} {name}\n"
            f"Directory: {directory}\n"
        )
    dists = archive / "dists" / suite
    sources = dists / "main" / "source" / "Sources"
    sources.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(paragraphs).encode()
    sources.write_bytes(text)
    sources.with_suffix(".xz").write_bytes(lzma.compress(text))
    for old in ("Release", "InRelease"):
        (dists / old).unlink(missing_ok=True)
    release = subprocess.run(
        ["apt-ftparchive", "-o", f"APT::FTPArchive::Release::Suite={suite}",
         "-o", f"APT::FTPArchive::Release::Codename={codename}", "release", str(dists)],
        capture_output=True, check=True,
    ).stdout
    (dists / "Release").write_bytes(release)
    sources.unlink()
    written = next(_WRITES)
    for path in (dists / "Release", sources.with_suffix(".xz")):
        os.utime(path, (written, written))


# Times for the archive's files, each later than the one before (by whole seconds, as
# If-Modified-Since compares them), all in the past.
_WRITES = iter(range(int(time.time()) - 3600, int(time.time()), 2))


def apt_config(directory: Path, archive_url: str) -> Path:
    """An apt configuration directory whose one source is the test's archive, suite bookworm."""
    (directory / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (directory / "sources.list.d" / "test.sources").write_text(
        f"Types: deb\nURIs: {archive_url}\nSuites: bookworm\nComponents: main\nTrusted: yes\n"
    )
    return directory


def simple_index(www: Path, project: str, files: dict[str, bytes]) -> None:
    """A PEP 503 project page listing `files` with their sha256, and the files."""
    (www / "files").mkdir(exist_ok=True)
    links = []
    for name, content in files.items():
        (www / "files" / name).write_bytes(content)
        links.append(f'<a href="../../files/{name}#sha256={sha(content)}">{name}</a>')
    page = www / "simple" / project / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f"<html><body>{''.join(links)}</body></html>\n")


def pip_env(url: str) -> dict[str, str]:
    """pip configured with the test's index only (no configuration file of the machine's)."""
    return {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": f"{url}/simple/"}


def lookup(work: Path, name: str, content_sha: str, state: Path, apt: Path, env: dict, *args: str):
    """fetch_from_host.py as keel's fetch starts it, in a directory of its own."""
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        ["python3", str(FETCH_FROM_HOST), name, content_sha, str(state.parent / "store"), str(state),
         f"--apt-dir={apt}", "--suites=unstable", *args],
        cwd=work, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def sources_reads(requests: list, suite: str) -> int:
    return sum(1 for path in requests if path == f"/debian/dists/{suite}/main/source/Sources.xz")


def test_parallel_lookups_read_the_debian_indexes_once(tmp_path: Path, registries) -> None:
    www, url, requests = registries
    archive = www / "debian"
    alpha, beta = unique("alpha"), unique("beta")
    debian_suite(archive, "bookworm", "bookworm", {"alpha_1.0.orig.tar.gz": alpha})
    debian_suite(archive, "unstable", "sid", {"beta_2.0.orig.tar.xz": beta})
    apt, state = apt_config(tmp_path / "apt", f"{url}/debian"), tmp_path / "cache" / "state"
    before = list(requests)

    pins = {"alpha-1.0.tar.gz": alpha, "beta-2.0.tar.xz": beta, "nope-1.0.dat": unique("nowhere")}
    runs = {
        name: lookup(tmp_path / name, name, sha(content), state, apt, pip_env(url))
        for name, content in pins.items()
    }
    outputs = {name: run.communicate() for name, run in runs.items()}
    results = {name: (runs[name].returncode, *output) for name, output in outputs.items()}

    for name in ("alpha-1.0.tar.gz", "beta-2.0.tar.xz"):
        code, out, err = results[name]
        assert code == 0, err
        assert (tmp_path / name / name).read_bytes() == pins[name]
        # Stored by sha256 where fetch_source.py looks first: the next fetch needs no registry.
        assert (state.parent / "store" / sha(pins[name])).read_bytes() == pins[name]
    alpha_out = results["alpha-1.0.tar.gz"][1]
    assert "alpha-1.0.tar.gz: from Debian bookworm (alpha_1.0.orig.tar.gz), sha256 checked" in alpha_out
    assert "beta-2.0.tar.xz: from Debian sid (beta_2.0.orig.tar.xz), sha256 checked" in results["beta-2.0.tar.xz"][1]

    code, out, err = results["nope-1.0.dat"]
    assert code == 1 and not (tmp_path / "nope-1.0.dat" / "nope-1.0.dat").exists()
    assert "  Debian: not in any Debian source index (bookworm, sid)\n" in err
    assert "  PyPI: not looked in: the file is not named like a Python sdist" in err
    assert "  npm: not looked in: the file is not named like an npm tarball" in err

    # One process read the indexes, the others waited for it and looked up in its index.
    new = requests[len(before):]
    assert (sources_reads(new, "bookworm"), sources_reads(new, "unstable")) == (1, 1), new
    assert sum("reading the Debian source indexes" in err for _, _, err in results.values()) == 1


def test_a_miss_reads_the_indexes_again_only_when_they_are_an_hour_old(tmp_path: Path, registries) -> None:
    www, url, requests = registries
    archive = www / "debian-2"
    first, later = unique("first"), unique("published later")
    debian_suite(archive, "bookworm", "bookworm", {"first_1.0.orig.tar.gz": first})
    apt = apt_config(tmp_path / "apt", f"{url}/debian-2")
    state, env = tmp_path / "cache" / "state", {"PIP_CONFIG_FILE": os.devnull}

    runs = iter(range(100))

    def run(name: str, content: bytes):
        process = lookup(tmp_path / f"run-{next(runs)}", name, sha(content), state, apt, env)
        out, err = process.communicate()
        return process.returncode, err

    def reads() -> int:
        return sum(1 for p in requests if p == "/debian-2/dists/bookworm/main/source/Sources.xz")

    assert run("first-1.0.bin", first)[0] == 0
    assert reads() == 1
    # Published after the index was read: a miss in an index younger than an hour is a miss.
    debian_suite(archive, "bookworm", "bookworm", {"first_1.0.orig.tar.gz": first, "later_1.0.orig.tar.gz": later})
    code, err = run("later-1.0.bin", later)
    assert code == 1 and "Debian: not in any Debian source index (bookworm)" in err
    assert reads() == 1
    # An hour and more later, the miss reads the indexes again and finds it.
    (index,) = state.glob("debian/*/index.sqlite")
    with sqlite3.connect(index) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'built_at'", (json.dumps(time.time() - 2 * 3600),))
    code, err = run("later-1.0.bin", later)
    assert code == 0, err
    assert reads() == 2


def test_pypi_is_searched_through_pips_index(tmp_path: Path, registries) -> None:
    www, url, _ = registries
    sdist, other = unique("sdist"), unique("another release")
    simple_index(www, "keel-probe", {"keel_probe-1.0.tar.gz": sdist, "keel_probe-2.0.tar.gz": other})
    apt = tmp_path / "apt"
    apt.mkdir()
    state = tmp_path / "cache" / "state"

    found = lookup(tmp_path / "a", "keel_probe-1.0.tar.gz", sha(sdist), state, apt, pip_env(url))
    out, err = found.communicate()
    assert found.returncode == 0, err
    assert "keel_probe-1.0.tar.gz: from PyPI project keel-probe (keel_probe-1.0.tar.gz)" in out
    assert (tmp_path / "a" / "keel_probe-1.0.tar.gz").read_bytes() == sdist

    # Renamed by the spec (`#/v3.0.tar.gz`): the URL names the project.
    missing = lookup(
        tmp_path / "b", "v3.0.tar.gz", sha(unique("never released")), state, apt, pip_env(url),
        "--url=https://127.0.0.1/packages/source/k/keel-probe/keel_probe-3.0.tar.gz#/v3.0.tar.gz",
    )
    out, err = missing.communicate()
    assert missing.returncode == 1
    assert f"  Debian: not looked in: {apt} lists no deb sources\n" in err
    assert "  PyPI: PyPI project keel-probe has no file with this sha256\n" in err


# --- keel's rules ----------------------------------------------------------------------------


def sources_request(rule_runner, upstream: str) -> SpecSourcesRequest:
    local = rule_runner.request(Snapshot, [PathGlobs(["specs/x/*", "!specs/x/BUILD"])])
    return SpecSourcesRequest(
        owner="specs/x/x.spec (target specs/x:x)", signatures_path="specs/x/x.signatures.json",
        local_digest=local.digest, wanted=(SourceFile("x-1.0.tar.gz", f"{upstream}/x-1.0.tar.gz"),),
    )


def test_the_source_check_gives_each_registrys_reason(tmp_path: Path, registries) -> None:
    """`rpm-compat`'s source availability (spec_sources_availability) uses the same fetch: a pin
    no registry has is missing with each registry's reason after the candidates'. With
    `[rpm-sources].from_host` off, the registries are not searched, and the error says so."""
    www, url, _ = registries
    # `offline`: what the archive has, for the second part.
    offline = unique("offline")
    debian_suite(www / "debian-3", "bookworm", "bookworm", {"x_1.0.orig.tar.gz": offline})
    simple_index(www, "x", {"x-0.9.tar.gz": unique("x 0.9")})
    apt = apt_config(tmp_path / "apt", f"{url}/debian-3")
    never = unique("never published")
    options = [
        f"--rpm-toolchain=//{BOOTSTRAP}", *pex_cli_options(), f"--rpm-sources-cache-dir={tmp_path / 'empty'}",
        f"--rpm-sources-apt-dir={apt}", "--rpm-sources-debian-suites=[]",
    ]
    inherit = {"PATH", "HOME", "PYENV_ROOT"}
    rule_runner = keel_rule_runner()
    rule_runner.set_options(options, env=pip_env(url), env_inherit=inherit)
    rule_runner.write_files({
        "specs/x/BUILD": "",
        "specs/x/x.signatures.json": json.dumps({"Signatures": {"x-1.0.tar.gz": sha(never)}}),
    })
    (missing,) = rule_runner.request(SourcesAvailability, [sources_request(rule_runner, DEAD)]).missing
    assert missing.reason.startswith(f"not in the source cache; {DEAD}/x-1.0.tar.gz: ")
    assert missing.reason.endswith(
        "; Debian: not in any Debian source index (bookworm); PyPI: PyPI project x has no file with this sha256"
    )
    # Where keel looked and what each candidate gave, as before: the registries are in the reason.
    assert len(missing.attempts) == len(missing.looked_in) == 3

    # `[rpm-sources].from_host` off: a source the archive has is not looked up there, and the
    # build's error names every place tried and the fix.
    rule_runner.set_options([*options, "--no-rpm-sources-from-host"], env=pip_env(url), env_inherit=inherit)
    rule_runner.write_files({"specs/x/x.signatures.json": json.dumps({"Signatures": {"x-1.0.tar.gz": sha(offline)}})})
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(SpecSources, [sources_request(rule_runner, DEAD)])
    error = str(e.value)
    assert "specs/x/x.spec (target specs/x:x): cannot get source x-1.0.tar.gz" in error
    assert f"  {tmp_path / 'empty' / 'x-1.0.tar.gz'}: " in error
    assert f"  {tmp_path / 'empty' / 'by-sha256' / sha(offline)}: " in error
    assert f"  {DEAD}/x-1.0.tar.gz: " in error
    assert (
        "the host's registries, by sha256:\n  host registries: not searched (`[rpm-sources].from_host` is off)"
    ) in error
    assert "`build-support/source-cache import DIR`" in error and "`build-support/source-cache from-host`" in error
    # On again, the same pin comes from the archive.
    rule_runner.set_options(options, env=pip_env(url), env_inherit=inherit)
    sources = rule_runner.request(SpecSources, [sources_request(rule_runner, DEAD)])
    contents = {c.path: c.content for c in rule_runner.request(DigestContents, [sources.digest])}
    assert contents["x-1.0.tar.gz"] == offline


SPEC = """Name: {name}
Version: 1.0
Release: 1%{{?dist}}
Summary: a source only the host's registries have
License: MIT
BuildArch: noarch
Source0: {dead}/{name}-1.0.tar.gz
%description
Its upstream cannot be reached.
%install
install -D -m 0644 %{{SOURCE0}} %{{buildroot}}%{{_datadir}}/{name}/source
%files
%{{_datadir}}/{name}
%changelog
* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1
- test
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, registries):
    """Specs whose URLs are unreachable, an empty source cache, no mirror; the host's registries
    are the test's: `hello`'s source is in its Debian archive, `nowhere`'s in no registry (PyPI
    has the project, not the file)."""
    www, url, _ = registries
    tmp = tmp_path_factory.mktemp("package")
    pins = {"hello": unique("hello"), "nowhere": unique("nowhere")}
    debian_suite(www / "debian-4", "bookworm", "bookworm", {"hello_1.0.orig.tar.gz": pins["hello"]})
    simple_index(www, "nowhere", {"nowhere-0.9.tar.gz": unique("nowhere 0.9")})
    apt = apt_config(tmp / "apt", f"{url}/debian-4")
    files = {}
    for name, content in pins.items():
        files[f"specs/{name}/BUILD"] = "rpm_package()\n"
        files[f"specs/{name}/{name}.spec"] = SPEC.format(name=name, dead=DEAD)
        files[f"specs/{name}/{name}.signatures.json"] = json.dumps({"Signatures": {f"{name}-1.0.tar.gz": sha(content)}})
    ws = Workspace(tmp, files)
    ws.write({"pants.toml": (ws.root / "pants.toml").read_text() + (
        f'\n[rpm-sources]\ncache_dir = "{tmp / "empty-cache"}"\napt_dir = "{apt}"\ndebian_suites = ["unstable"]\n'
    )})
    return ws, tmp, pins, pip_env(url)


def test_package_gets_a_source_from_the_hosts_debian_index(workspace) -> None:
    ws, tmp, pins, env = workspace
    result = ws.pants("package", "specs/hello:hello", env=env)
    assert "hello-1.0.tar.gz: from Debian bookworm (hello_1.0.orig.tar.gz), sha256 checked" in result.stderr
    (rpm,) = (ws.root / "dist").rglob("hello-1.0-1.t1.noarch.rpm")
    listing = subprocess.run(["rpm2cpio", str(rpm)], capture_output=True, check=True).stdout
    assert pins["hello"] in listing
    # The user's source cache is theirs: the fallback keeps what it found in Pants' named cache.
    assert not (tmp / "empty-cache").exists()


def test_a_pin_no_registry_has_gets_each_registrys_reason(workspace) -> None:
    ws, tmp, pins, env = workspace
    result = ws.pants("package", "specs/nowhere:nowhere", env=env, check=False)
    assert result.returncode != 0
    error = result.stderr
    assert "specs/nowhere/nowhere.spec (target specs/nowhere:nowhere): cannot get source nowhere-1.0.tar.gz" in error
    assert f"  {tmp / 'empty-cache' / 'nowhere-1.0.tar.gz'}: " in error
    assert f"  {DEAD}/nowhere-1.0.tar.gz: " in error
    assert "the host's registries, by sha256:\n  Debian: not in any Debian source index (bookworm)\n" in error
    assert "  PyPI: PyPI project nowhere has no file with this sha256\n" in error
    assert "  npm: not looked in: the file is not named like an npm tarball (NAME-X.Y.Z.tgz)\n" in error
    assert "`build-support/source-cache from-host`" in error
