"""Remote execution on a real REAPI cluster: BuildGrid with its execution service and three
workers, started with build-support/remote-exec as users start it (each test with its own data
directory and port), and real Pants runs configured by the repository's pants.remote.toml."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.chain_workspace import OTHER, TARGETS, workspace
from tests.integration.remote_cache_server import free_port
from tests.pants_workspace import RULES_ROOT, Workspace

SCRIPT = RULES_ROOT / "build-support" / "remote-exec"
SLOW = "specs/slow:slow"
SLOW_SPEC = """Name: slow
Version: 1.0
Release: 1%{?dist}
Summary: takes long enough to lose its worker
License: MIT
BuildArch: noarch
%description
Sleeps in %build.
%build
sleep 40
%install
mkdir -p %{buildroot}%{_datadir}/slow
echo slow > %{buildroot}%{_datadir}/slow/x
%files
%{_datadir}/slow
%changelog
* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1
- test
"""


class Cluster:
    def __init__(self, data: Path, port: int | None = None) -> None:
        self.data = data
        self.port = port or free_port()
        # Each cluster is a pool of its own: a platform property is part of every action's key,
        # so the local store that the file's tests share holds no result of an earlier run's
        # workers for these (each test must see its actions run).
        self.pool = f"keel-run={uuid.uuid4().hex[:12]}"
        self.env = {
            **os.environ,
            "KEEL_REMOTE_EXEC_DIR": str(data),
            "KEEL_REMOTE_EXEC_PORT": str(self.port),
            "KEEL_REMOTE_EXEC_PROPERTIES": f"OSFamily=linux keel-pool=keel {self.pool}",
            # A worker silent for 20 s is dead (the default is 30 s).
            "KEEL_REMOTE_EXEC_KEEPALIVE": "20",
        }

    def run(self, *args: str) -> None:
        subprocess.run([str(SCRIPT), *args], env=self.env, check=True, capture_output=True, text=True)

    def pid(self, name: str) -> int:
        return int((self.data / f"run/{name}.pid").read_text())

    def worker_pid(self, n: int) -> int:
        return self.pid(f"worker-{n}")

    def worker_running(self, text: str) -> int | None:
        """The worker whose log shows it running an action whose command line holds `text`."""
        for log in sorted((self.data / "logs").glob("worker-*.log")):
            if re.search(rf"running .*{re.escape(text)}", log.read_text(errors="replace")):
                return int(log.stem.split("-")[1])
        return None


def new_cluster() -> Cluster:
    # A short path: PostgreSQL's Unix socket lives under it.
    return Cluster(Path(f"/tmp/keel-re-{os.getpid()}-{free_port()}"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    server = new_cluster()
    # Owned by this pytest: were it killed before its clean-up, the cluster stops all the same.
    server.run("start", "--workers", "3", "--owner", str(os.getpid()))
    try:
        yield server
    finally:
        server.run("stop")
        subprocess.run(["rm", "-rf", str(server.data)], check=False)


def configure(ws: Workspace, port: int, caches: Path, pool: str = "") -> None:
    """The repository's pants.remote.toml and its //:keel_workers environment, pointed at `port`
    (and asking for the `pool` property too)."""
    config = (RULES_ROOT / "pants.remote.toml").read_text()
    config = config.replace("127.0.0.1:50061", f"127.0.0.1:{port}")
    config = config.replace('"/var/cache/keel-worker"', f'"{caches}"')
    build = (RULES_ROOT / "BUILD").read_text()
    environment = re.search(r"^remote_environment\(.*?^\)\n", build, re.S | re.M)
    assert environment, "the repository's BUILD defines no remote_environment"
    target = environment.group(0)
    if pool:
        target = target.replace('"keel-pool=keel"]', f'"keel-pool=keel", "{pool}"]')
        assert pool in target, target
    ws.write({"pants.remote.toml": config, "BUILD": target})


def remote(ws: Workspace, *args: str, cache: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return ws.pants(*args, cache=cache, check=check, env={"PANTS_CONFIG_FILES": "pants.remote.toml"})


def srpm_modes(srpm: Path) -> dict[str, str]:
    dump = subprocess.run(["rpm", "-qp", "--dump", str(srpm)], capture_output=True, text=True, check=True).stdout
    return {fields[0]: fields[4] for fields in (line.split() for line in dump.splitlines())}


def entries(ws: Workspace) -> dict[str, dict]:
    return {o["target"]: o for o in json.loads((ws.root / "dist/keel-report.json").read_text())["outputs"]}


def test_every_build_action_runs_on_the_workers_with_a_local_build_s_bytes(tmp_path: Path, cluster: Cluster) -> None:
    ws = workspace(tmp_path)
    configure(ws, cluster.port, cluster.data / "caches", cluster.pool)
    ws.pants("package", *TARGETS)
    local = ws.dist_hashes()
    # The SRPM holds its files with the modes of the checkout (a large source is hard-linked into
    # a local sandbox executable, a remote worker's is not), so both builds can agree.
    assert srpm_modes(ws.root / "dist/SRPMS/other-1.0-1.t1.src.rpm") == {
        "other.spec": "0100644", "other-data.txt": "0100644", "other-hook.sh": "0100755",
    }

    # The same machine, sending its builds to the cluster (remote actions have keys of their
    # own): the toolchain stage's package, the library, the program, the unrelated package and
    # the image are built there.
    subprocess.run(["rm", "-rf", str(ws.root / "dist")], check=True)
    result = remote(ws, "package", *TARGETS)
    report = entries(ws)
    assert {t: e["obtained"] for t, e in report.items()} == {t: "built" for t in report} and len(report) == 5, report
    assert all(e["remote_execution"] for e in report.values()), report
    # Every output names its worker (the host name its action saw; for the raw disk image, the
    # action that made the disk); the builds were spread.
    workers = {e["worker"] for e in report.values()}
    assert workers <= {"keel-worker-1", "keel-worker-2", "keel-worker-3"} and len(workers) >= 2, report
    assert re.search(r"5 by remote execution on \d workers", result.stderr), result.stderr
    assert ws.dist_hashes() == local

    # Remote results are cached on the server: a third machine builds nothing.
    remote(ws, "package", *TARGETS, cache="third")
    assert {e["obtained"] for e in entries(ws).values()} == {"remote cache"}


def test_an_action_whose_worker_dies_runs_again_on_another(tmp_path: Path, cluster: Cluster) -> None:
    ws = workspace(tmp_path)
    ws.write({"specs/slow/BUILD": "rpm_package()", "specs/slow/slow.spec": SLOW_SPEC})
    configure(ws, cluster.port, cluster.data / "caches", cluster.pool)
    argv, env = ws.pants_command("package", "specs/slow")
    with subprocess.Popen(
        argv, cwd=ws.root, env={**env, "PANTS_CONFIG_FILES": "pants.remote.toml"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    ) as build:
        deadline = time.monotonic() + 900
        victim = None
        while victim is None and build.poll() is None and time.monotonic() < deadline:
            victim = cluster.worker_running("SPECS/slow.spec")
            time.sleep(1)
        assert victim is not None, "no worker started the slow rpmbuild"
        time.sleep(3)  # well inside its 40 s sleep
        os.kill(cluster.worker_pid(victim), signal.SIGKILL)
        _, stderr = build.communicate(timeout=900)
    assert build.returncode == 0, stderr
    (entry,) = entries(ws).values()
    assert entry["obtained"] == "built" and entry["remote_execution"], entry
    assert entry["worker"] != f"keel-worker-{victim}", entry
    remote_bytes = ws.dist_hashes()

    # The same bytes as a build that never lost a worker.
    subprocess.run(["rm", "-rf", str(ws.root / "dist")], check=True)
    ws.pants("package", "specs/slow")
    assert ws.dist_hashes() == remote_bytes


def test_an_unreachable_server_is_named_at_once_and_the_fallback_builds_here(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    port = free_port()  # nothing listens there
    configure(ws, port, tmp_path / "caches")
    start = time.monotonic()
    result = remote(ws, "package", "specs/other", check=False)
    assert result.returncode != 0
    assert time.monotonic() - start < 300, "Pants waited for the server instead of saying it is gone"
    assert f"The remote execution server grpc://127.0.0.1:{port} does not answer" in result.stderr, result.stderr
    assert "fallback_to_local" in result.stderr and not (ws.root / "dist").exists()

    result = remote(ws, "package", "specs/other", "--keel-execution-fallback-to-local")
    assert "run on this machine instead" in result.stderr, result.stderr
    # Built here (or taken from this machine's cache, where another test of the file built it).
    entry = entries(ws)[OTHER]
    assert entry["obtained"] in ("built", "local cache") and not entry["remote_execution"], entry


def test_a_cluster_stops_when_its_owner_is_gone() -> None:
    owner = subprocess.Popen(["sleep", "600"])
    server = new_cluster()

    def running(pid: int) -> bool:  # a zombie or a reused PID has another command line
        try:
            return str(server.data) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False

    try:
        server.run("start", "--workers", "1", "--owner", str(owner.pid))
        daemons = [server.pid("bgd"), server.worker_pid(1), server.pid("watchdog")]
        # PostgreSQL's throw-away cluster, in a directory of its own.
        database = Path((server.data / "run/pg.dir").read_text().strip())
        assert all(map(running, daemons)) and (database / "data/postmaster.pid").exists()
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (database.exists() or any(map(running, daemons))):
            time.sleep(1)
        assert not any(map(running, daemons)), "the cluster outlived its owner"
        assert not database.exists(), "PostgreSQL's cluster outlived the cluster's owner"
    finally:
        owner.kill()
        server.run("stop")
        subprocess.run(["rm", "-rf", str(server.data)], check=False)
