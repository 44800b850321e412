"""Sharing builds through a real REAPI cache: BuildGrid, started with build-support/remote-cache as
users start it (each test gets its own data directory and ports), and real Pants runs with empty
local stores standing in for other machines."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.integration.chain_workspace import LIBRARY, OTHER, TARGETS, report, workspace
from tests.integration.remote_cache_server import RemoteCache


def test_a_new_machine_gets_every_rpm_and_image_from_the_remote_cache(
    tmp_path: Path, remote_cache: RemoteCache
) -> None:
    ws = workspace(tmp_path)
    ws.pants("package", *TARGETS, *remote_cache.options(), cache="machine-1")
    built = report(ws)
    assert set(built.values()) == {"built"} and len(built) == 5
    first = ws.dist_hashes()

    # Another machine: an empty local store and empty named caches.
    shutil.rmtree(ws.root / "dist")
    ws.pants("package", *TARGETS, *remote_cache.options(), cache="machine-2")
    # Every RPM and the image from the remote cache: no rpmbuild ran; the same bytes.
    assert report(ws) == {target: "remote cache" for target in built}
    assert ws.dist_hashes() == first

    # A laptop that only reads: its own change is built, and not shared.
    spec = ws.root / "specs/other/other.spec"
    spec.write_text(spec.read_text().replace("Release: 1", "Release: 2"))
    ws.pants("package", *TARGETS, *remote_cache.options(write=False), cache="machine-2")
    assert report(ws)[OTHER] == "built"
    ws.pants("package", *TARGETS, *remote_cache.options(), cache="machine-3")
    assert report(ws)[OTHER] == "built"
    assert {o for t, o in report(ws).items() if t != OTHER} == {"remote cache"}


def test_a_build_completes_when_the_remote_cache_goes_away(tmp_path: Path, remote_cache: RemoteCache) -> None:
    ws = workspace(tmp_path)
    argv, env = ws.pants_command("package", *TARGETS, *remote_cache.options(), cache="machine-1")
    log = []
    with subprocess.Popen(
        argv, cwd=ws.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as build:
        stopped = False
        for line in build.stderr:
            log.append(line)
            # The library is built; the program, the image and their cache lookups are still to come.
            if not stopped and re.search(rf"Completed: rpmbuild .*\({LIBRARY}\)", line):
                remote_cache.run("stop")
                stopped = True
    output = "".join(log)
    assert stopped and build.returncode == 0, output
    assert re.search(r"Failed to (read from|write to) remote cache", output), output
    assert set(report(ws).values()) == {"built"}

    # The server back: builds work, and fill in what it missed.
    remote_cache.run("start")
    ws.pants("package", *TARGETS, *remote_cache.options(), cache="machine-2")
    ws.pants("package", *TARGETS, *remote_cache.options(), cache="machine-3")
    assert set(report(ws).values()) == {"remote cache"}
