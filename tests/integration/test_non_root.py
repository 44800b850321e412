"""An ordinary user builds what root builds, byte for byte: the toolchain stages, RPMs, and a
disk image with a user of its own (its home belongs to uid 1001, so the image root needs owners
other than root in the user namespace: the user's subordinate ids).

Runs as root, and runs Pants as the ordinary user `.ci/run` makes (KEEL_TEST_USER, default
keel-nonroot): unprivileged user namespaces, a range in /etc/subuid and /etc/subgid, and
root's Python reachable (`chmod o+x /root`, as .ci/run does). Without that user the test is
skipped on a workstation and fails in CI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.chain_workspace import FILES, OTHER, PROGRAM, image_build, write_tarball
from tests.ordinary_user import USER, ordinary_user
from tests.pants_workspace import RULES_ROOT, Workspace

IMAGE = "images/greeter:disk"


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory both root and the user can enter, with what the user's Pants reads."""
    path = Path(tempfile.mkdtemp(prefix="keel-non-root-"))
    path.chmod(0o755)
    # The test's sandbox holds rules/ (Pants' pythonpath in the workspaces) and the seed locks.
    RULES_ROOT.chmod(0o755)
    pex_cli = path / Path(os.environ["KEEL_PEX_CLI"]).name
    shutil.copy(os.environ["KEEL_PEX_CLI"], pex_cli)
    pex_cli.chmod(0o755)
    monkeypatch.setenv("KEEL_PEX_CLI", str(pex_cli))
    try:
        yield path
    finally:
        # What the user's builds left belongs to the user and its subordinate ids.
        subprocess.run(["rm", "-rf", str(path)], check=False)


def greeter_files() -> dict[str, str]:
    build = image_build().replace(")\n", ', users=[{"name": "ada", "uid": "1001"}])\n')
    return {**FILES, "images/greeter/BUILD": build}


def make_workspace(root: Path) -> Workspace:
    ws = Workspace(root, greeter_files())
    write_tarball(ws, "")
    (ws.root / "specs/other/other-hook.sh").chmod(0o755)
    return ws


def test_an_ordinary_user_builds_the_bytes_root_builds(base: Path) -> None:
    user = ordinary_user()
    targets = (PROGRAM, OTHER, IMAGE)

    # Root's builds from the suite's shared cache (built now or by an earlier run), the user's
    # from empty caches of its own.
    as_root = make_workspace(base / "root")
    as_root.pants("package", *targets)

    mine = make_workspace(base / "user")
    mine.shared_named_caches = False  # root's are not the user's to write
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(base / "user")], check=True)
    argv, env = mine.pants_command("package", *targets, cache="caches")
    run = subprocess.run(
        argv, cwd=mine.root, env={**env, "HOME": user.pw_dir, "USER": USER, "LOGNAME": USER},
        user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    outputs = mine.dist_hashes()
    assert any(path.endswith(".raw") for path in outputs) and any(path.endswith(".rpm") for path in outputs)
    assert outputs == as_root.dist_hashes()
