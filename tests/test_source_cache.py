"""`build-support/source-cache` fills the local source cache, checking signatures: `import DIR`
from a folder, `from-host` from every registry the host reaches (Debian's source indexes, PyPI,
npm), here an apt archive and a package index served on 127.0.0.1 and a fake npm. Its registry
lookups are rules/sources/scripts/host_registries.py, shared with keel's fetch fallback
(tests/sources/test_from_host.py)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import lzma
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

# The lookups source-cache imports by path: imported here so that they are in the test's sandbox.
from rules.sources.scripts import host_registries

GOOD = b"release tarball\n"


def test_import_checks_every_file_against_the_signatures(tmp_path: Path) -> None:
    specs = tmp_path / "specs" / "x"
    specs.mkdir(parents=True)
    (specs / "x.signatures.json").write_text(
        json.dumps(
            {
                "Signatures": {
                    "x-1.0.tar.gz": hashlib.sha256(GOOD).hexdigest(),
                    "y-2.0.tar.gz": hashlib.sha256(b"the real y\n").hexdigest(),
                    "z-3.0.tar.gz": hashlib.sha256(b"z\n").hexdigest(),
                }
            }
        )
    )
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "x-1.0.tar.gz").write_bytes(GOOD)
    (incoming / "y-2.0.tar.gz").write_bytes(b"a corrupted y\n")
    (incoming / "unrelated.txt").write_bytes(b"not pinned\n")
    cache = tmp_path / "cache"

    result = subprocess.run(
        [sys.executable, "build-support/source-cache", "import", str(incoming),
         "--cache-dir", str(cache), "--specs", str(tmp_path / "specs")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "NOT imported y-2.0.tar.gz" in result.stdout
    assert (
        "still not in the cache (keel fetches them from mirrors, upstream or the host's registries): "
        "y-2.0.tar.gz, z-3.0.tar.gz"
    ) in result.stdout
    assert sorted(p.name for p in cache.iterdir()) == ["x-1.0.tar.gz"]
    assert (cache / "x-1.0.tar.gz").read_bytes() == GOOD


def test_a_copy_of_the_script_finds_the_lookups_through_pants_toml(tmp_path: Path) -> None:
    """Run from a workspace that takes keel's rules from elsewhere (pants.toml's `pythonpath`,
    as the test workspaces do), source-cache imports the lookups from there."""
    rules_root = Path(host_registries.__file__).parents[3]
    workspace = tmp_path / "ws"
    (workspace / "build-support").mkdir(parents=True)
    shutil.copyfile("build-support/source-cache", workspace / "build-support" / "source-cache")
    (workspace / "specs").mkdir()
    (tmp_path / "in").mkdir()
    run = [sys.executable, str(workspace / "build-support" / "source-cache"), "import", str(tmp_path / "in"),
           "--cache-dir", str(tmp_path / "cache"), "--specs", str(workspace / "specs")]

    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode != 0
    assert "host_registries.py is neither under" in result.stderr

    (workspace / "pants.toml").write_text(f'[GLOBAL]\npythonpath = ["{rules_root}"]\n')
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "imported 0 file(s)" in result.stdout


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def source_paragraph(package: str, version: str, directory: str, files: dict[str, bytes]) -> str:
    rows = "".join(f" {sha(content)} {len(content)} {name}\n" for name, content in files.items())
    return f"Package: {package}\nVersion: {version}\nChecksums-Sha256:\n{rows}Directory: {directory}\n"


def apt_suite(archive: Path, suite: str, paragraphs: list[str], codename: str | None = None) -> None:
    """dists/SUITE of an apt archive: Sources.xz, and the Release file apt needs to find it
    (written by apt's own tool; unsigned, so the sources say the archive is trusted). apt
    skips an index whose uncompressed name the Release file does not list, even when it only
    fetches the .xz: Release is written while both are there, then only the .xz is served."""
    sources = archive / "dists" / suite / "main" / "source" / "Sources"
    sources.parent.mkdir(parents=True)
    text = "\n".join(paragraphs).encode()
    sources.write_bytes(text)
    sources.with_suffix(".xz").write_bytes(lzma.compress(text))
    options = ["-o", f"APT::FTPArchive::Release::Suite={suite}"]
    if codename:
        options += ["-o", f"APT::FTPArchive::Release::Codename={codename}"]
    release = subprocess.run(
        ["apt-ftparchive", *options, "release", str(archive / "dists" / suite)], capture_output=True, check=True
    ).stdout
    (archive / "dists" / suite / "Release").write_bytes(release)
    sources.unlink()


def pool_file(archive: Path, directory: str, name: str, content: bytes) -> None:
    (archive / directory).mkdir(parents=True, exist_ok=True)
    (archive / directory / name).write_bytes(content)


def spec_dir(specs: Path, name: str, pins: dict[str, bytes], spec: str = "") -> Path:
    directory = specs / name
    directory.mkdir(parents=True)
    (directory / f"{name}.spec").write_text(spec)
    (directory / f"{name}.signatures.json").write_text(
        json.dumps({"Signatures": {file: sha(content) for file, content in pins.items()}})
    )
    return directory


def from_host(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "build-support/source-cache", "from-host", *args],
        capture_output=True, text=True, env=env,
    )


def test_from_host_finds_pinned_files_by_sha256_in_the_source_index(tmp_path: Path) -> None:
    """file: URIs, the one-line sources format, the host's suite only: a pin found by content
    under Debian's name, the newer version's missing pool file skipped."""
    upstream = b"upstream release, which Debian ships as its orig tarball\n"
    archive = tmp_path / "mirror"
    name = "pkg_1.0.orig.tar.gz"
    pool_file(archive, "pool/main/p/pkg", name, upstream)
    apt_suite(archive, "stable", [
        source_paragraph("pkg", "2.0-1", "pool/updates/p/pkg", {name: upstream}),  # listed, not served
        source_paragraph("pkg", "1.0-1", "pool/main/p/pkg", {name: upstream}),
    ])
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(f"deb [trusted=yes] file:{archive} stable main\n")
    specs = tmp_path / "specs"
    x = spec_dir(specs, "x", {
        "x-1.0.tar.gz": upstream,
        "elsewhere-2.0.tar.gz": b"in no source package\n",
        "local.patch": b"",
    })
    (x / "local.patch").write_text("")
    # The key in lower case, as some Azure Linux files have it.
    signatures = x / "x.signatures.json"
    signatures.write_text(signatures.read_text().replace('"Signatures"', '"signatures"'))
    cache, report = tmp_path / "cache", tmp_path / "report.json"

    result = from_host("--apt-dir", str(apt), "--host-suites-only", "--no-pypi", "--no-npm",
                       "--cache-dir", str(cache), "--specs", str(specs), "--report", str(report))
    assert result.returncode == 1, result.stdout + result.stderr
    assert (cache / "x-1.0.tar.gz").read_bytes() == upstream
    assert "cached x-1.0.tar.gz from debian:stable (pkg_1.0.orig.tar.gz, sha256 checked)" in result.stdout
    assert "2 pinned files: 1 from debian:stable, 1 not available" in result.stdout
    assert "0 of 1 spec directories have every pinned file cached" in result.stdout
    assert json.loads(report.read_text()) == {
        str(signatures): {
            "cached": {"local.patch": "next to the spec", "x-1.0.tar.gz": "debian:stable"},
            "missing": {"elsewhere-2.0.tar.gz": "not in any Debian source index (stable)"},
        }
    }


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def server(tmp_path: Path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www: the apt archive and the package index
    the test builds, as a mirror and an index would serve them."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


FAKE_NPM = """#!{python}
# `npm pack NAME@VERSION` as npm does it, from a directory of tarballs instead of a registry.
import os, shutil, sys
name, version = sys.argv[-1].rsplit("@", 1)
tarball = os.path.join(os.environ["FAKE_NPM_REGISTRY"], f"{{name}}-{{version}}.tgz")
if sys.argv[1] != "pack" or not os.path.exists(tarball):
    sys.exit("npm error code E404\\nnpm error 404 Not Found - " + name)
shutil.copy(tarball, ".")
print(os.path.basename(tarball))
"""


def test_from_host_searches_every_suite_pypi_and_npm(tmp_path: Path, server) -> None:
    www, url = server
    archive = www / "debian"
    alpha, beta = b"alpha's release tarball\n", b"beta's release tarball\n"
    # bookworm (the host's suite) lists alpha where the mirror answers 404, and beta with other
    # bytes than it lists; sid (the `unstable` alias) lists alpha where it is served.
    apt_suite(archive, "bookworm", [
        source_paragraph("alpha", "1.0-1", "pool/main/a/alpha", {"alpha_1.0.orig.tar.gz": alpha}),
        source_paragraph("beta", "2.0-1", "pool/main/b/beta", {"beta_2.0.orig.tar.xz": beta}),
    ], codename="bookworm")
    pool_file(archive, "pool/main/b/beta", "beta_2.0.orig.tar.xz", b"not beta\n")
    apt_suite(archive, "bookworm-backports", [
        source_paragraph("gamma", "3.0-1~bpo12+1", "pool/main/g/gamma", {"gamma_3.0.orig.tar.gz": b"gamma\n"}),
    ], codename="bookworm-backports")
    apt_suite(archive, "unstable", [
        source_paragraph("alpha", "1.1-1", "pool/main/a/alpha-next", {"alpha_1.0.orig.tar.gz": alpha}),
    ], codename="sid")
    pool_file(archive, "pool/main/a/alpha-next", "alpha_1.0.orig.tar.gz", alpha)
    # No `stable` and no `testing` here: skipped with a note.
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "host.sources").write_text(
        f"Types: deb\nURIs: {url}/debian\nSuites: bookworm\nComponents: main\nTrusted: yes\n"
    )

    # A PEP 503 simple index: one page per normalized project name, files with #sha256=.
    foo, bar_baz, widget = b"foo sdist\n", b"bar_baz sdist\n", b"widget sdist\n"
    bad, other = b"bad sdist\n", b"other sdist\n"
    files = www / "files"
    files.mkdir()
    for name, content in {
        "foo-1.2.tar.gz": foo, "Bar_Baz-2.0.tar.gz": bar_baz, "Widget.Py-3.1.tar.gz": widget,
        "bad-1.0.tar.gz": b"a tampered bad sdist\n", "other-1.0.tar.gz": b"another release\n",
    }.items():
        (files / name).write_bytes(content)
    for project, name, listed in (
        ("foo", "foo-1.2.tar.gz", foo),
        ("bar-baz", "Bar_Baz-2.0.tar.gz", bar_baz),
        ("widget-py", "Widget.Py-3.1.tar.gz", widget),
        ("bad", "bad-1.0.tar.gz", bad),  # lists bad's sha256, serves other bytes
        ("other", "other-1.0.tar.gz", b"another release\n"),
    ):
        page = www / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f'<html><body><a href="../../files/{name}#sha256={sha(listed)}">{name}</a></body></html>\n')

    # npm: a fake npm that packs from a directory.
    left_pad, right_pad = b"left-pad tarball\n", b"right-pad tarball\n"
    registry, bin_dir = tmp_path / "npm-registry", tmp_path / "bin"
    registry.mkdir()
    bin_dir.mkdir()
    (registry / "left-pad-1.3.0.tgz").write_bytes(left_pad)
    (registry / "right-pad-2.0.0.tgz").write_bytes(b"another right-pad\n")
    (bin_dir / "npm").write_text(FAKE_NPM.format(python=sys.executable))
    (bin_dir / "npm").chmod(0o755)

    specs = tmp_path / "specs"
    dirs = {
        "alpha": spec_dir(specs, "alpha", {"alpha-1.0.tar.gz": alpha}),
        "beta": spec_dir(specs, "beta", {"beta-2.0.tar.xz": beta}),
        "python-foo": spec_dir(specs, "python-foo", {"foo-1.2.tar.gz": foo}),
        "python-bar-baz": spec_dir(specs, "python-bar-baz", {"Bar_Baz-2.0.tar.gz": bar_baz}),
        # Only its spec's Source line says which project `v3.1.tar.gz` comes from.
        "widget": spec_dir(specs, "widget", {"v3.1.tar.gz": widget}, spec=(
            "%global srcname Widget.Py\nName: widget\nVersion: 3.1\n"
            "Source0: https://127.0.0.1/packages/source/W/%{srcname}/%{srcname}-%{version}.tar.gz#/v%{version}.tar.gz\n"
        )),
        "python-bad": spec_dir(specs, "python-bad", {"bad-1.0.tar.gz": bad}),
        "python-other": spec_dir(specs, "python-other", {"other-1.0.tar.gz": other}),
        "python-nothere": spec_dir(specs, "python-nothere", {"nothere-1.0.tar.gz": b"nowhere\n"}),
        "js": spec_dir(specs, "js", {"left-pad-1.3.0.tgz": left_pad, "right-pad-2.0.0.tgz": right_pad,
                                     "gone-1.0.0.tgz": b"gone\n"}),
        "old": spec_dir(specs, "old", {"old-0.1.tar.gz": b"cached before\n"}),
        "none": specs / "none",  # a spec that pins nothing
    }
    (specs / "none").mkdir()
    (specs / "none" / "none.spec").write_text("")
    cache, report = tmp_path / "cache", tmp_path / "report.json"
    cache.mkdir()
    (cache / "old-0.1.tar.gz").write_bytes(b"cached before\n")

    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_NPM_REGISTRY": str(registry)}
    result = from_host("--apt-dir", str(apt), "--pypi-index", f"{url}/simple/", "--cache-dir", str(cache),
                       "--specs", str(specs), "--report", str(report), env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out

    assert (cache / "alpha-1.0.tar.gz").read_bytes() == alpha
    assert "cached alpha-1.0.tar.gz from debian:sid (alpha_1.0.orig.tar.gz, sha256 checked)" in out
    assert (cache / "foo-1.2.tar.gz").read_bytes() == foo
    assert (cache / "Bar_Baz-2.0.tar.gz").read_bytes() == bar_baz
    assert (cache / "v3.1.tar.gz").read_bytes() == widget
    assert "cached v3.1.tar.gz from pypi (widget-py: Widget.Py-3.1.tar.gz, sha256 checked)" in out
    assert (cache / "left-pad-1.3.0.tgz").read_bytes() == left_pad
    # Nothing whose sha256 differs from the pin is cached.
    assert sorted(p.name for p in cache.iterdir()) == [
        "Bar_Baz-2.0.tar.gz", "alpha-1.0.tar.gz", "foo-1.2.tar.gz", "left-pad-1.3.0.tgz", "old-0.1.tar.gz",
        "v3.1.tar.gz",
    ]
    assert f"skipped suite stable at {url}/debian: no such suite there (404)" in out
    assert f"skipped suite testing at {url}/debian: no such suite there (404)" in out
    assert "read the source indexes of bookworm, bookworm-backports, sid" in out
    assert ("12 pinned files: 1 already cached, 1 from debian:sid, 1 from npm, 3 from pypi, "
            "6 not available") in out
    assert "6 of 11 spec directories have every pinned file cached" in out

    suites = "not in any Debian source index (bookworm, bookworm-backports, sid)"
    assert json.loads(report.read_text()) == {
        str(dirs[name] / f"{name}.signatures.json"): entry for name, entry in {
            "alpha": {"cached": {"alpha-1.0.tar.gz": "debian:sid"}, "missing": {}},
            "beta": {"cached": {}, "missing": {
                "beta-2.0.tar.xz": "listed in Debian bookworm's index but none of 1 URI downloaded (Hash Sum mismatch)",
            }},
            "python-foo": {"cached": {"foo-1.2.tar.gz": "pypi"}, "missing": {}},
            "python-bar-baz": {"cached": {"Bar_Baz-2.0.tar.gz": "pypi"}, "missing": {}},
            "widget": {"cached": {"v3.1.tar.gz": "pypi"}, "missing": {}},
            "python-bad": {"cached": {}, "missing": {
                "bad-1.0.tar.gz": f"{suites}; PyPI project bad lists it as bad-1.0.tar.gz, but the download's "
                f"sha256 is {sha(b'a tampered bad sdist' + chr(10).encode())}, refused",
            }},
            "python-other": {"cached": {}, "missing": {
                "other-1.0.tar.gz": f"{suites}; PyPI project other has no file with this sha256",
            }},
            "python-nothere": {"cached": {}, "missing": {
                "nothere-1.0.tar.gz": f"{suites}; no PyPI project matched (tried: nothere, python-nothere)",
            }},
            "js": {"cached": {"left-pad-1.3.0.tgz": "npm"}, "missing": {
                "gone-1.0.0.tgz": f"{suites}; npm has no package gone",
                "right-pad-2.0.0.tgz": f"{suites}; npm's right-pad@2.0.0 has sha256 "
                f"{sha(b'another right-pad' + chr(10).encode())}, refused",
            }},
            "old": {"cached": {"old-0.1.tar.gz": "already cached"}, "missing": {}},
        }.items()
    }
