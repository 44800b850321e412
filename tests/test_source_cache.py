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
