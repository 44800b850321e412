"""The example team's images on keel core: the VHDX boots core with the team's package in it,
and the container has core's layer, byte for byte, under a layer of what the team adds."""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.boot.console import BANNER, OVMF_CODE, SerialConsole
from tests.image.spdx_check import spdx_problems

CORE_CONTAINER = Path("images/core/core.oci.tar")
TEAM_CONTAINER = Path("teams/example/example.oci.tar")
GREETING = "Hello from the example team, built on keel core."


def skopeo_layers(archive: Path) -> list[str]:
    out = subprocess.run(
        ["skopeo", "inspect", f"oci-archive:{archive.resolve()}"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)["Layers"]


def blob(archive: Path, digest: str) -> bytes:
    with tarfile.open(archive) as tar:
        return tar.extractfile(f"./blobs/sha256/{digest.split(':', 1)[1]}").read()


def zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-dc"], input=data, check=True, capture_output=True).stdout


def test_the_container_shares_cores_layer_and_adds_one() -> None:
    core, team = skopeo_layers(CORE_CONTAINER), skopeo_layers(TEAM_CONTAINER)
    assert len(core) == 1 and len(team) == 2
    assert team[0] == core[0]
    # What the team adds: its package's files, and not core's unchanged ones.
    with tarfile.open(fileobj=io.BytesIO(zstd(blob(TEAM_CONTAINER, team[1])))) as layer:
        names = set(layer.getnames())
    assert {"./usr/share/hello-team/greeting", "./usr/bin/hello-team"} <= names
    assert "./bin/busybox" not in names and "./usr/bin/busybox" not in names
    for sbom in (Path(f"{TEAM_CONTAINER}.spdx.json"), Path(f"{CORE_CONTAINER}.spdx.json")):
        assert spdx_problems(sbom) == []


def test_the_sbom_says_which_packages_come_from_core() -> None:
    document = json.loads(Path(f"{TEAM_CONTAINER}.spdx.json").read_text())
    ids = {p["name"]: p["SPDXID"] for p in document["packages"]}
    base = ids["images/core:container"]
    relations = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in document["relationships"]}
    assert (ids["example.oci.tar"], "DESCENDANT_OF", base) in relations
    from_base = {name for name, spdx_id in ids.items() if (base, "CONTAINS", spdx_id) in relations}
    core = json.loads(Path(f"{CORE_CONTAINER}.spdx.json").read_text())
    core_rpms = {p["name"] for p in core["packages"] if p.get("externalRefs")}
    assert from_base == core_rpms and "busybox" in from_base and "hello-team" not in from_base
    assert "hello-team" in ids


def entries(root: Path) -> dict[str, tuple]:
    """Each path under `root` (no symlink followed): type, mode, owner, and content or target."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            what = ("l", str(path.readlink()))
        elif path.is_dir():
            what = ("d",)
        else:
            what = ("f", hashlib.sha256(path.read_bytes()).hexdigest())
        found[str(path.relative_to(root))] = (*what, st.st_mode & 0o7777, st.st_uid, st.st_gid)
    return found


def test_unpacking_both_layers_gives_the_teams_root(tmp_path: Path) -> None:
    if not shutil.which("umoci"):
        pytest.fail("this test needs umoci (apt-get install umoci)")
    # skopeo reads the archive, checks every blob and writes the layers gzip-compressed (umoci
    # 0.4 reads no zstd layers); umoci, the field's tool, applies them in order, whiteouts
    # included, as root.
    subprocess.run(
        [
            "skopeo", "copy", "--dest-compress", "--dest-compress-format", "gzip",
            f"oci-archive:{TEAM_CONTAINER.resolve()}", f"oci:{tmp_path / 'layout'}:container",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["umoci", "unpack", "--image", f"{tmp_path / 'layout'}:container", str(tmp_path / "bundle")],
        check=True,
        capture_output=True,
    )
    # The same root as one archive, written next to the layout; unpacked by GNU tar as root.
    whole = tmp_path / "whole"
    whole.mkdir()
    rootfs = Path(str(TEAM_CONTAINER).replace(".oci.tar", ".rootfs.tar.zst"))
    subprocess.run(
        ["tar", "--zstd", "-xpf", str(rootfs.resolve()), "--same-owner", "--numeric-owner", "-C", str(whole)], check=True
    )
    layered, single = entries(tmp_path / "bundle" / "rootfs"), entries(whole)
    assert layered.keys() == single.keys()
    assert {p: v for p, v in layered.items() if single[p] != v} == {}
    assert single["usr/share/hello-team/greeting"][0] == "f"


def test_the_team_vhdx_boots_core_with_the_teams_package(tmp_path: Path) -> None:
    if not (OVMF_CODE.exists() and shutil.which("qemu-system-x86_64")):
        pytest.fail("the boot test needs qemu-system-x86 and ovmf (apt-get install qemu-system-x86 ovmf)")
    image = Path("teams/example/example.vhdx").resolve()
    # The shell's prompt starts with the host name: the team's.
    prompt = b"example:/# "
    console = SerialConsole(tmp_path, "-drive", f"file={image},format=vhdx,if=virtio,snapshot=on", prompt=prompt)
    try:
        console.expect(re.escape(BANNER), timeout=600)
        console.expect(re.escape(prompt), timeout=120)
        # The team's package, its own host name, and what it inherited from core.
        assert console.run("hello-team").strip() == GREETING
        assert console.run("hostname").strip() == "example"
        assert 'NAME="keel core"' in console.run("cat /etc/os-release")
        assert console.run("id -u keel").strip() == "1000"
        assert console.run("keel-update --status") == "active=a slot=a try=\n"
        console.qemu.stdin.write(b"poweroff\n")
        console.qemu.stdin.flush()
        assert console.qemu.wait(timeout=120) == 0
    finally:
        console.close()
