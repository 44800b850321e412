"""`build-support/source-cache import DIR` fills the local source cache, checking signatures."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

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
    assert "still not in the cache (keel fetches them from mirrors or upstream): y-2.0.tar.gz, z-3.0.tar.gz" in result.stdout
    assert sorted(p.name for p in cache.iterdir()) == ["x-1.0.tar.gz"]
    assert (cache / "x-1.0.tar.gz").read_bytes() == GOOD


def deb_src_repository(root: Path, files: dict[str, bytes]) -> Path:
    """A Debian source repository on disk (file: URIs), like a mirror the host's apt names: the
    file `old.tar.gz` is listed by two versions of `pkg`, the newer one's pool file is gone (as
    a mirror may list what it no longer serves); apt's own tool writes the Release file."""
    pool = root / "pool/main/p/pkg"
    pool.mkdir(parents=True)
    paragraphs = []
    for version, directory, present in (("2.0-1", "pool/updates/p/pkg", False), ("1.0-1", "pool/main/p/pkg", True)):
        rows = []
        for name, content in files.items():
            if present:
                (root / directory / name).write_bytes(content)
            rows.append(f" {hashlib.sha256(content).hexdigest()} {len(content)} {name}")
        paragraphs.append(
            f"Package: pkg\nVersion: {version}\nDirectory: {directory}\nChecksums-Sha256:\n" + "\n".join(rows) + "\n"
        )
    sources = root / "dists/stable/main/source/Sources"
    sources.parent.mkdir(parents=True)
    sources.write_text("\n".join(paragraphs))
    release = subprocess.run(
        ["apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=stable", "release", str(root / "dists/stable")],
        capture_output=True, check=True,
    ).stdout
    (root / "dists/stable/Release").write_bytes(release)
    apt = root.parent / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(f"deb [trusted=yes] file:{root} stable main\n")
    return apt


def test_from_host_finds_pinned_files_by_sha256_in_the_source_index(tmp_path: Path) -> None:
    upstream = b"upstream release, which Debian ships as its orig tarball\n"
    apt = deb_src_repository(tmp_path / "mirror", {"pkg_1.0.orig.tar.gz": upstream})
    spec_dir = tmp_path / "specs" / "x"
    spec_dir.mkdir(parents=True)
    (spec_dir / "x.spec").write_text("")
    (spec_dir / "local.patch").write_text("")
    (spec_dir / "x.signatures.json").write_text(
        json.dumps(
            {
                # The key in lower case, as some Azure Linux files have it.
                "signatures": {
                    "x-1.0.tar.gz": hashlib.sha256(upstream).hexdigest(),
                    "elsewhere-2.0.tar.gz": hashlib.sha256(b"in no source package\n").hexdigest(),
                    "local.patch": hashlib.sha256(b"").hexdigest(),
                }
            }
        )
    )
    cache, report = tmp_path / "cache", tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "build-support/source-cache", "from-host", "--apt-dir", str(apt),
         "--cache-dir", str(cache), "--specs", str(tmp_path / "specs"), "--report", str(report)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    # Found by content under Debian's name, the newer version's 404 skipped, cached by the pin.
    assert (cache / "x-1.0.tar.gz").read_bytes() == upstream
    assert "cached x-1.0.tar.gz (from pkg_1.0.orig.tar.gz, sha256 checked)" in result.stdout
    assert "2 pinned files: 0 were already cached, 1 downloaded, 1 not available" in result.stdout
    assert json.loads(report.read_text()) == {
        str(spec_dir / "x.signatures.json"): {
            "cached": ["local.patch", "x-1.0.tar.gz"],
            "missing": {"elsewhere-2.0.tar.gz": "not in the host's source index"},
        }
    }
