"""The toolchain stage end to end: seed, bootstrap root, serial official builds, worker root, and
package builds inside it. Real Pants, mmdebstrap, rpm and bubblewrap on temporary workspaces."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

from tests.pants_workspace import Workspace, toolchain_files

CHANGELOG = "%changelog\n* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1\n- test\n"


def noarch_spec(name: str, body: str = "", release: str = "1", header: str = "") -> str:
    return (
        f"Name: {name}\nVersion: 1.0\nRelease: {release}%{{?dist}}\nSummary: {name}\n"
        f"License: MIT\nBuildArch: noarch\n{header}%description\n{name}.\n{body}" + CHANGELOG
    )


# A toolchain package: what it installs shows up in every root built after it.
MARKER_SPEC = noarch_spec(
    "tc-marker",
    "%install\nmkdir -p %{buildroot}%{_datadir}/tc-marker\n"
    "echo 'marker %{release}' > %{buildroot}%{_datadir}/tc-marker/version\n"
    "%files\n%{_datadir}/tc-marker\n",
)
# A package of the package stage that records which toolchain it was built with.
APP_SPEC = noarch_spec(
    "app",
    "%install\nmkdir -p %{buildroot}%{_datadir}/app\n"
    "cp /usr/share/tc-marker/version %{buildroot}%{_datadir}/app/built-with\n"
    "%files\n%{_datadir}/app\n",
    header="BuildRequires: tc-marker\n",
)
OTHER_SPEC = noarch_spec(
    "other",
    "%install\nmkdir -p %{buildroot}%{_datadir}/other\necho other > %{buildroot}%{_datadir}/other/x\n"
    "%files\n%{_datadir}/other\n",
)

FILES = {
    **toolchain_files(official_packages=("specs/tc-marker",)),
    "specs/tc-marker/BUILD": "rpm_package()",
    "specs/tc-marker/tc-marker.spec": MARKER_SPEC,
    "specs/app/BUILD": "rpm_package()",
    "specs/app/app.spec": APP_SPEC,
    "specs/other/BUILD": "rpm_package()",
    "specs/other/other.spec": OTHER_SPEC,
}


def rpmbuilds(result: subprocess.CompletedProcess) -> set[str]:
    """Targets whose rpmbuild really ran (cache hits start no process)."""
    return set(re.findall(r"Starting: rpmbuild \S+ \((\S+)\)", result.stderr))


def rpm_file(ws: Workspace, rpm: str, path: str) -> str:
    archive = subprocess.run(
        ["rpm2archive", "-"], input=(ws.root / "dist" / rpm).read_bytes(), capture_output=True, check=True
    ).stdout
    return subprocess.run(
        ["tar", "-xzO", f".{path}"], input=archive, capture_output=True, check=True
    ).stdout.decode()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_worker_root_is_built_in_order_and_byte_identical_across_clean_builds(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, FILES)
    # The suite's shared cache, then an empty one: the same inputs give the same archive
    # whether built now, in another test file or an earlier run.
    ws.pants("package", "toolchain:official")
    archive = ws.root / "dist/toolchain/official/root.tar.zst"
    manifest = json.loads((ws.root / "dist/toolchain/official/manifest.json").read_text())
    first = sha256(archive)
    assert manifest["root"]["sha256"] == first
    kinds = {(p["kind"], p.get("name") or p.get("file")) for p in manifest["packages"]}
    assert ("rpm", "tc-marker-1.0-1.t1.noarch.rpm") in kinds
    assert ("deb", "gcc-12") in kinds and ("deb", "rpm") in kinds

    # The root keeps owners, modes and setuid bits, its rpm database, and the stage's package.
    tar_bytes = subprocess.run(["zstd", "-dc", str(archive)], capture_output=True, check=True).stdout
    tar_path = tmp_path / "root.tar"
    tar_path.write_bytes(tar_bytes)
    with tarfile.open(tar_path) as tar:
        su = tar.getmember("./usr/bin/su")
        assert su.mode & 0o4000 and su.uid == 0
        assert tar.getmember("./var/lib/rpm/rpmdb.sqlite").isfile()
        marker = tar.extractfile("./usr/share/tc-marker/version").read().decode()
        assert marker == "marker 1.t1\n"
        assert {m.mtime for m in tar.getmembers()} <= {m.mtime for m in tar.getmembers() if m.mtime <= 1795521600}

    # Empty caches, same inputs: the same archive, byte for byte.
    archive.unlink()
    ws.pants("package", "toolchain:official", cache="clean-2")
    assert sha256(archive) == first


def test_packages_build_in_the_worker_root_and_rebuild_only_when_it_changes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, FILES)
    # Its own caches: what a shared cache already holds from earlier runs would not be built.
    cache = "rebuilds"
    ws.pants("package", "specs/app", "specs/other", cache=cache)
    assert rpm_file(ws, "RPMS/noarch/app-1.0-1.t1.noarch.rpm", "/usr/share/app/built-with") == "marker 1.t1\n"

    # Nothing changed: nothing is built.
    assert rpmbuilds(ws.pants("package", "specs/app", "specs/other", cache=cache)) == set()

    # An unrelated spec changed: only it is built.
    ws.write({"specs/other/other.spec": noarch_spec("other", OTHER_SPEC.split("%description\nother.\n")[1].replace(CHANGELOG, ""), release="2")})
    assert rpmbuilds(ws.pants("package", "specs/app", "specs/other", cache=cache)) == {"specs/other:other"}

    # A toolchain package changed: it, and every package built in the worker root, are built again.
    ws.write({"specs/tc-marker/tc-marker.spec": MARKER_SPEC.replace("Release: 1%", "Release: 7%")})
    rebuilt = rpmbuilds(ws.pants("package", "specs/app", "specs/other", cache=cache))
    assert rebuilt == {"specs/tc-marker:tc-marker", "specs/app:app", "specs/other:other"}
    assert rpm_file(ws, "RPMS/noarch/app-1.0-1.t1.noarch.rpm", "/usr/share/app/built-with") == "marker 7.t1\n"


def test_prebuilt_toolchain_packages_are_taken_not_built(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, FILES)
    ws.pants("package", "specs/tc-marker", "toolchain:official")
    rpm = ws.root / "dist/RPMS/noarch/tc-marker-1.0-1.t1.noarch.rpm"
    built_root = sha256(ws.root / "dist/toolchain/official/root.tar.zst")

    # The RPM as a prebuilt seed (REBUILD_TOOLCHAIN=n): pinned by sha256, found in the source cache.
    prebuilt_dir = tmp_path / "prebuilt"
    prebuilt_dir.mkdir()
    (prebuilt_dir / rpm.name).write_bytes(rpm.read_bytes())
    pins = {"Signatures": {rpm.name: sha256(rpm)}}
    ws.write(
        {
            **toolchain_files(official_packages=("specs/tc-marker",), prebuilt="prebuilt.json"),
            "toolchain/prebuilt.json": json.dumps(pins),
        }
    )
    shutil.rmtree(ws.root / "dist")
    result = ws.pants(
        "package", "toolchain:official", f"--rpm-sources-cache-dir={prebuilt_dir}", cache="fresh"
    )
    assert rpmbuilds(result) == set()
    manifest = json.loads((ws.root / "dist/toolchain/official/manifest.json").read_text())
    assert [p["prebuilt"] for p in manifest["packages"] if p["kind"] == "rpm"] == [True]
    # Same RPM bytes, same root.
    assert sha256(ws.root / "dist/toolchain/official/root.tar.zst") == built_root


def _listen() -> tuple[socket.socket, list]:
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    accepted: list = []

    def serve() -> None:
        try:
            while True:
                accepted.append(server.accept())
        except OSError:
            return

    threading.Thread(target=serve, daemon=True).start()
    return server, accepted


def _host_address() -> str:
    """An address of this host that is not loopback."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
    address = probe.getsockname()[0]
    probe.close()
    return address


def test_a_build_has_no_network(tmp_path: Path) -> None:
    server, accepted = _listen()
    port = server.getsockname()[1]
    host = _host_address()
    for address in ("127.0.0.1", host):  # reachable from the host itself
        socket.create_connection((address, port), timeout=5).close()
    for _ in range(100):
        if len(accepted) == 2:
            break
        time.sleep(0.05)
    assert len(accepted) == 2

    spec = noarch_spec(
        "netprobe",
        f"%build\nfor address in 127.0.0.1 {host}; do\n"
        f"  if bash -c \"exec 3<>/dev/tcp/$address/{port}\"; then echo \"CONNECTED to $address\"; exit 0; fi\n"
        "done\nexit 1\n%files\n",
    )
    ws = Workspace(tmp_path, {**FILES, "specs/netprobe/BUILD": "rpm_package()", "specs/netprobe/netprobe.spec": spec})
    result = ws.pants("package", "specs/netprobe", check=False)
    server.close()
    assert result.returncode != 0
    assert "rpmbuild failed for specs/netprobe/netprobe.spec" in result.stderr
    assert "Network is unreachable" in result.stderr or "Connection refused" in result.stderr
    assert "CONNECTED" not in result.stderr
    assert len(accepted) == 2  # the build's attempts never arrived
    assert not (ws.root / "dist").exists()


def test_a_build_sees_no_host_files(tmp_path: Path) -> None:
    secret = tmp_path / "host-only.txt"
    secret.write_text("only on the host\n")
    spec = noarch_spec(
        "hostprobe",
        "%build\n"
        f"test ! -e {secret}\n"  # a file of the host
        f"test ! -e {Path.cwd()}\n"  # the test's own directory
        "test ! -e /etc/apt/sources.list.d/debian.sources || ! grep -q . /etc/apt/sources.list.d/debian.sources\n"
        "test \"$(hostname)\" = keel\n"
        "test \"$HOME\" = /tmp/build/home && test \"$TZ\" = UTC && test \"$LC_ALL\" = C.UTF-8\n"
        "ls / > root-listing\n"
        "%install\ninstall -D -m 0644 root-listing %{buildroot}%{_datadir}/hostprobe/root-listing\n"
        "%files\n%{_datadir}/hostprobe\n",
    )
    assert secret.exists()
    ws = Workspace(tmp_path, {**FILES, "specs/hostprobe/BUILD": "rpm_package()", "specs/hostprobe/hostprobe.spec": spec})
    ws.pants("package", "specs/hostprobe")
    listing = rpm_file(ws, "RPMS/noarch/hostprobe-1.0-1.t1.noarch.rpm", "/usr/share/hostprobe/root-listing").split()
    assert "usr" in listing and "work" not in listing and "root" in listing
