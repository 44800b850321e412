"""Builds that are interrupted, and builds that run at the same time, as they happen in CI and on
laptops: nothing half-written is kept or used, and the outputs are a clean build's bytes.

Interrupted: `./pants package` of the chain workspace (tests/integration/chain_workspace.py) is
stopped while a build root is being unpacked, while an rpmbuild runs and while an image's disk is
being made, each with SIGINT (Ctrl-C: Pants cancels its processes) and with SIGKILL of Pants and
every process under it (a machine that goes away). After each: no dist/. Then one run to the end
gives the bytes of a build that was never interrupted, and every unpacked root is complete.

Concurrent: two clones sharing one set of caches (store, named caches: roots, downloaded
sources), and two runs in one clone, each pair started at once on empty caches: both finish with
the right bytes, and the caches hold no half-unpacked root and no source with the wrong bytes.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.integration.chain_workspace import OTHER, PROGRAM, workspace
from tests.pants_workspace import Workspace

IMAGE = "images/greeter:disk"
PACKAGES = (PROGRAM, OTHER)

# A source fetched by sha256 from a mirror (a directory here), through the keel_sources cache.
FETCHED = b"fetched through the source cache\n" * 1000
FETCHED_SPEC = """Name: fetched
Version: 1.0
Release: 1%{?dist}
Summary: has a source that is fetched by sha256
License: MIT
BuildArch: noarch
Source0: fetched-1.0.txt
%description
Its source is not in its directory.
%install
install -D -m 0644 %{SOURCE0} %{buildroot}%{_datadir}/fetched/data.txt
%files
%{_datadir}/fetched
%changelog
* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1
- test
"""
FETCHED_TARGET = "specs/fetched:fetched"


def fetched_workspace(root: Path, mirror: Path) -> Workspace:
    ws = workspace(root)
    ws.shared_named_caches = False  # its roots and downloads are looked at, from empty caches
    ws.write({
        "specs/fetched/BUILD": "rpm_package()",
        "specs/fetched/fetched.spec": FETCHED_SPEC,
        "specs/fetched/fetched.signatures.json":
            '{"Signatures": {"fetched-1.0.txt": "%s"}}' % hashlib.sha256(FETCHED).hexdigest(),
    })
    mirror.mkdir(exist_ok=True)
    (mirror / "fetched-1.0.txt").write_bytes(FETCHED)
    return ws


def mirror_env(mirror: Path) -> dict[str, str]:
    return {"PANTS_RPM_SOURCES_MIRRORS": f'["{mirror}/{{filename}}"]'}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """dist/ of a build that was never interrupted and ran alone."""
    tmp = tmp_path_factory.mktemp("reference")
    ws = fetched_workspace(tmp, tmp / "mirror")
    ws.pants("package", IMAGE, *PACKAGES, FETCHED_TARGET, cache="caches", env=mirror_env(tmp / "mirror"))
    return ws.dist_hashes()


class Run:
    """A `./pants package` that the test watches and stops."""

    def __init__(self, ws: Workspace, args: tuple[str, ...], caches: str, env: dict[str, str]) -> None:
        argv, base_env = ws.pants_command(*args, cache=caches)
        self.started = time.time()
        self.process = subprocess.Popen(
            argv, cwd=ws.root, env={**base_env, **env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 1200) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the run ended before {what}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.stderr}"
            time.sleep(0.02)

    def stop(self, sig: signal.Signals) -> int:
        if sig == signal.SIGKILL:
            # Pants starts each process in a session of its own: a machine that goes away takes
            # all of them, so every process under Pants is killed with it.
            doomed = [self.process.pid, *descendants(self.process.pid)]
            for pid in doomed:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        else:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=300)
        self.reader.join(timeout=60)
        return code


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def roots_dir(ws: Workspace, caches: str) -> Path:
    return ws.root.parent / caches / "named" / "keel_roots"


def assert_roots_whole(roots: Path) -> None:
    """Every unpacked root has its marker; what is not finished is only a .partial (never used)."""
    for entry in roots.iterdir():
        if entry.is_dir() and not entry.name.endswith(".partial"):
            assert (entry / ".keel-complete").exists(), f"{entry} is used but was not finished"


def unpacking_since(roots: Path, since: float) -> Callable[[], bool]:
    def condition() -> bool:
        return roots.is_dir() and any(
            p.name.endswith(".partial") and p.stat().st_ctime >= since for p in roots.iterdir()
        )
    return condition


def logged(run: Run, fragment: str) -> Callable[[], bool]:
    return lambda: any(fragment in line for line in run.lines)


STOPS = [
    ("a root unpack", signal.SIGINT),
    ("a root unpack", signal.SIGKILL),
    ("an rpmbuild", signal.SIGINT),
    ("an rpmbuild", signal.SIGKILL),
    ("an image's disk", signal.SIGINT),
    ("an image's disk", signal.SIGKILL),
]


def test_interrupted_builds_leave_nothing_half_written(tmp_path: Path, reference: dict[str, str]) -> None:
    mirror = tmp_path / "mirror"
    ws = fetched_workspace(tmp_path, mirror)
    env = mirror_env(mirror)
    args = ("package", IMAGE, *PACKAGES, FETCHED_TARGET)
    roots = roots_dir(ws, "caches")
    for where, sig in STOPS:
        run = Run(ws, args, "caches", env)
        if where == "a root unpack":
            run.wait_until(unpacking_since(roots, run.started), where)
        elif where == "an rpmbuild":
            run.wait_until(logged(run, "Starting: rpmbuild "), where)
        else:
            run.wait_until(logged(run, "Starting: Make a 64 MiB disk"), where)
        code = run.stop(sig)
        assert code != 0, f"stopped during {where} with {sig.name}, the run still succeeded:\n{run.stderr}"
        assert not (ws.root / "dist").exists(), f"stopped during {where} with {sig.name}: dist/ was written"
        assert_roots_whole(roots)

    ws.pants(*args, cache="caches", env=env)
    assert ws.dist_hashes() == reference
    assert_roots_whole(roots)


def check_caches(caches: Path) -> None:
    assert_roots_whole(caches / "named" / "keel_roots")
    assert not list((caches / "named" / "keel_roots").glob("*.partial"))
    downloads = caches / "named" / "keel_sources"
    stored = [p for p in downloads.iterdir() if p.is_file()]
    assert stored, "the fetched source did not go through the shared source cache"
    for path in stored:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, f"{path} holds other bytes"


@pytest.mark.parametrize("clones", ["two clones", "one clone"])
def test_two_builds_at_once(tmp_path: Path, reference: dict[str, str], clones: str) -> None:
    mirror = tmp_path / "mirror"
    first = fetched_workspace(tmp_path / "a", mirror)
    second = fetched_workspace(tmp_path / "b", mirror) if clones == "two clones" else first
    caches = tmp_path / "caches"  # one store and one set of named caches for both
    env = mirror_env(mirror)
    runs = [Run(ws, ("package", *PACKAGES, FETCHED_TARGET), str(caches), env) for ws in (first, second)]
    for run in runs:
        code = run.process.wait(timeout=1800)
        run.reader.join(timeout=60)
        assert code == 0, run.stderr
    wanted = {path: digest for path, digest in reference.items() if path.startswith(("RPMS/", "SRPMS/"))}
    for ws in (first,) if second is first else (first, second):
        outputs = ws.dist_hashes()
        assert outputs == wanted, sorted(set(wanted) ^ set(outputs)) or "outputs differ from the reference"
    check_caches(caches)
