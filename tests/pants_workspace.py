"""Run real Pants with keel's rules on a throw-away workspace, as a user would."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

# The test sandbox holds rules/ at its root; the workspace puts that on Pants' pythonpath.
RULES_ROOT = Path.cwd()

PANTS_TOML = f"""
[GLOBAL]
pythonpath = ["{RULES_ROOT}"]
backend_packages = ["rules.rpm"]

[anonymous-telemetry]
enabled = false

[rpm]
defines = {{ dist = ".t1" }}
"""


class Workspace:
    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self.root = root / "ws"
        self.write({"pants.toml": PANTS_TOML, **files})

    def write(self, files: dict[str, str]) -> None:
        for path, content in files.items():
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def pants(self, *args: str, cache: str = "cache", check: bool = True) -> subprocess.CompletedProcess:
        """One Pants run (no daemon). Runs sharing `cache` share Pants' local store."""
        caches = self.root.parent / cache
        result = subprocess.run(
            [
                sys.executable, "-m", "pants",
                "--no-pantsd", "--no-watch-filesystem", "--no-dynamic-ui",
                f"--local-store-dir={caches / 'store'}",
                f"--named-caches-dir={caches / 'named'}",
                *args,
            ],
            cwd=self.root,
            env={
                "PATH": os.environ["PATH"],
                "HOME": os.environ.get("HOME", "/root"),
                "LC_ALL": "C.UTF-8",
                "NO_SCIE_WARNING": "1",
                # The test runner's own sys.path holds the Pants distribution this test depends on.
                "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            },
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"pants {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def dist_hashes(self) -> dict[str, str]:
        dist = self.root / "dist"
        return {
            str(p.relative_to(dist)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(dist.rglob("*"))
            if p.is_file()
        }
