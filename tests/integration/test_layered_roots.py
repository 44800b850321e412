"""Images on a `base`: the base's root is installed once and every image on it installs only what
it adds on top (`[image].layered_roots`); a layered root holds the same files as one installed
at once, except the rpm database; a container on a container has the base's layer, byte for
byte, under its own."""
from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

from tests.integration.chain_workspace import workspace

IMAGES = """
container_image(name="base", packages=["//specs/greet"], hostname="greeter")
# Two teams' images on it: each adds the unrelated package, one with an account of its own.
container_image(name="team-a", base=":base", packages=["//specs/other"], hostname="a")
disk_image(
    name="team-b", base=":base", format="raw", size="64M", packages=["//specs/other"],
    users=[{"name": "app", "uid": "1001"}],
)
"""


def report(root: Path) -> dict[tuple[str, str], str]:
    outputs = json.loads((root / "dist/keel-report.json").read_text())["outputs"]
    return {(o["kind"], o["target"]): o["obtained"] for o in outputs}


def installs(stderr: str) -> list[str]:
    """The root installs that ran (or were looked up) in a run."""
    return re.findall(r"Starting: (Install \d+ RPMs into an image root[^\n]*)", stderr)


def root_entries(archive: Path) -> dict[str, tuple]:
    data = subprocess.run(["zstd", "-dc", str(archive)], check=True, capture_output=True).stdout
    found = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            content = hashlib.sha256(tar.extractfile(m).read()).hexdigest() if m.isreg() else None
            found[m.name] = (m.type, m.mode, m.uid, m.gid, m.mtime, m.linkname, content)
    return found


def layers(archive: Path) -> list[str]:
    out = subprocess.run(["skopeo", "inspect", f"oci-archive:{archive}"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["Layers"]


def test_images_on_one_base_share_its_root_and_install_only_what_they_add(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    ws.write({"images/greeter/BUILD": IMAGES})

    first = ws.pants("package", "images/greeter:team-a", cache="layers")
    # The base's root (the program and its library), then the team's one RPM on it.
    base_install, team_install = installs(first.stderr)
    assert re.fullmatch(r"Install \d+ RPMs into an image root", base_install)
    assert team_install == "Install 1 RPMs into an image root on its base's root"
    assert report(ws.root)[("root", "images/greeter:base")] == "built"
    assert "its root: 1 RPM installed on the root of images/greeter:base (built in" in first.stderr
    team_a = ws.root / "dist/images/greeter/greeter-team-a.oci.tar"
    assert len(layers(team_a)) == 2
    layered_a = root_entries(ws.root / "dist/images/greeter/greeter-team-a.rootfs.tar.zst")

    # A second team image on the same base: the base's root comes from the cache, and only the
    # team's RPM is installed.
    second = ws.pants("package", "images/greeter:team-b", cache="layers")
    assert installs(second.stderr) == ["Install 1 RPMs into an image root on its base's root"]
    assert report(ws.root)[("root", "images/greeter:base")] == "local cache"
    assert "its root: 1 RPM installed on the root of images/greeter:base (from the local cache)" in second.stderr

    # The base container and team-a's first layer are one blob.
    ws.pants("package", "images/greeter:base", cache="layers")
    assert layers(ws.root / "dist/images/greeter/greeter-base.oci.tar") == layers(team_a)[:1]

    # Installed at once instead: the same files, owners, modes and contents; only the rpm
    # database differs (its records' numbers and install times follow the install order).
    ws.pants("--image-layered-roots=false", "package", "images/greeter:team-a", cache="layers")
    whole = root_entries(ws.root / "dist/images/greeter/greeter-team-a.rootfs.tar.zst")
    assert whole.keys() == layered_a.keys()
    assert {p for p in whole if whole[p] != layered_a[p]} == {"./var/lib/rpm/rpmdb.sqlite"}
