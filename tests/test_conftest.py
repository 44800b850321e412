"""tests/conftest.py: a passed test's temporary directory is removed, a failed test's kept."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = '''
def test_passes(tmp_path):
    (tmp_path / "root.tar").write_bytes(b"x" * 4096)


def test_fails(tmp_path):
    (tmp_path / "root.tar").write_bytes(b"x" * 4096)
    assert False
'''


def test_what_a_test_file_leaves_on_disk(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(Path(__file__).with_name("conftest.py").read_text())
    (project / "test_example.py").write_text(EXAMPLE)
    base = tmp_path / "base"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={base}", "test_example.py"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert not (base / "test_passes0").exists()
    assert (base / "test_fails0" / "root.tar").is_file()
