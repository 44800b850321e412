"""The image stage end to end: RPMs installed into a root, filesystems made from directories,
a GPT disk in four formats, an ISO, a container and a signed update artifact (with its COSI file).
Checked with qemu-img, sfdisk, debugfs, e2fsck and gpgv, never by mounting."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
from pathlib import Path

from tests.image.cosi_schema import cosi_file_problems
from tests.image.spdx_check import spdx_problems
from tests.integration.image_workspace import FILES
from tests.integration.signing_key import export_key, kill_agent, make_key, signing_env
from tests.pants_workspace import Workspace

OUT = "dist/images/greeter/greeter"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def debugfs(image: Path, request: str) -> str:
    return subprocess.run(["debugfs", "-R", request, str(image)], capture_output=True, text=True, check=True).stdout


def test_disk_images_are_valid_share_one_disk_and_are_reproducible(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, FILES)
    home = tmp_path / "gnupg"
    fingerprint = make_key(home, "keel test")
    key = signing_env(home, fingerprint)
    targets = tuple(f"images/greeter:{name}" for name in ("raw", "vhdx", "vhd", "qcow2", "iso", "container", "update"))
    try:
        # `dependencies` in the same run: the images depend on the repository their `repos` name.
        result = ws.pants("package", "dependencies", *targets, cache="clean-1", env=key)
        public_key = export_key(home, fingerprint)
    finally:
        kill_agent(home)
    assert "repos:updates" in result.stdout.split()
    # One installed root for all six, one raw disk for the four disks; only conversions differ.
    assert len(re.findall(r"Starting: Make a 64 MiB disk", result.stderr)) == 1
    assert len(re.findall(r"Starting: Install \d+ RPMs into an image root", result.stderr)) == 1

    out = ws.root / OUT
    raw, vhdx, vhd, qcow2 = (Path(f"{out}.{f}") for f in ("raw", "vhdx", "vhd", "qcow2"))
    assert raw.stat().st_size == 64 << 20
    for image, fmt in ((vhdx, "vhdx"), (qcow2, "qcow2")):
        assert "No errors were found on the image." in run("qemu-img", "check", "-f", fmt, str(image))
        assert "Images are identical." in run("qemu-img", "compare", "-f", fmt, "-F", "raw", str(image), str(raw))
    # A fixed VHD is raw data plus a footer; Azure and Hyper-V read its size from the footer.
    assert vhd.stat().st_size == raw.stat().st_size + 512 and vhd.read_bytes()[-512:].startswith(b"conectix")
    assert "Images are identical." in run(
        "qemu-img", "compare", "--image-opts",
        f"driver=vpc,force_size_calc=current_size,file.driver=file,file.filename={vhd}",
        f"driver=raw,file.driver=file,file.filename={raw}",
    )
    assert json.loads(run("qemu-img", "info", "--output=json", str(vhdx)))["virtual-size"] == 64 << 20

    table = json.loads(run("sfdisk", "-J", str(raw)))["partitiontable"]
    assert table["label"] == "gpt"
    parts = table["partitions"]
    assert [(p["name"], p["type"]) for p in parts] == [
        ("esp", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        ("root", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"),
    ]
    assert parts[0]["start"] == 2048 and parts[1]["start"] + parts[1]["size"] <= (64 << 20) // 512 - 33

    # The root filesystem, read with debugfs: files of the RPMs with the modes they declare.
    root_fs = tmp_path / "root.ext4"
    with raw.open("rb") as disk, root_fs.open("wb") as fs:
        disk.seek(parts[1]["start"] * 512)
        fs.write(disk.read(parts[1]["size"] * 512))
    assert re.search(r"Mode:\s+04755", debugfs(root_fs, "stat /usr/bin/greet"))
    assert re.search(r"Mode:\s+0600", debugfs(root_fs, "stat /usr/share/greet/private"))
    assert re.search(r"Mode:\s+0700", debugfs(root_fs, "stat /usr/share/greet"))
    assert re.search(r"User:\s+0\s+Group:\s+0", debugfs(root_fs, "stat /usr/share/greet/private"))
    assert debugfs(root_fs, "cat /usr/share/greet/message") == "hello\n"
    assert debugfs(root_fs, "cat /etc/hostname") == "greeter\n"
    # Users, groups and extra files of the image target.
    assert debugfs(root_fs, "cat /etc/passwd") == "ada:x:1001:1001::/home/ada:/bin/sh\n"
    assert debugfs(root_fs, "cat /etc/group") == "staff:x:50:ada\nada:x:1001:\n"
    assert re.search(r"Mode:\s+0640", debugfs(root_fs, "stat /etc/shadow"))
    assert re.search(r"User:\s+1001\s+Group:\s+1001", debugfs(root_fs, "stat /home/ada"))
    assert debugfs(root_fs, "cat /etc/motd") == "hi there\n"
    # The repository of `repos`: its .repo file trusts the key the image holds.
    assert debugfs(root_fs, "cat /etc/yum.repos.d/updates.repo") == (
        "[updates]\nname=updates\nbaseurl=file:///srv/www/greeter\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\n"
        "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-updates\n"
    )
    assert debugfs(root_fs, "cat /etc/pki/rpm-gpg/RPM-GPG-KEY-updates") == public_key.decode()
    # The post-install script ran inside the image, after the extra files were in place.
    assert debugfs(root_fs, "cat /etc/configured") == "configured after: hi there\n"
    # libgreet came along through the soname greet links, which only the RPM header records.
    assert "libgreet.so.1" in debugfs(root_fs, "ls -l /usr/lib64")
    assert "rpmdb.sqlite" in debugfs(root_fs, "ls -l /var/lib/rpm")
    # /boot/efi is the ESP's mount point: its files are on the vfat partition, not in the root.
    assert "BOOTX64.EFI" not in debugfs(root_fs, "ls -l /boot/efi")
    esp = tmp_path / "esp.vfat"
    with raw.open("rb") as disk, esp.open("wb") as fs:
        disk.seek(parts[0]["start"] * 512)
        fs.write(disk.read(parts[0]["size"] * 512))
    assert subprocess.run(
        ["mtype", "-i", str(esp), "::/EFI/BOOT/BOOTX64.EFI"], capture_output=True, text=True, check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout == "efi\n"
    # A disk without A/B slots has no boot state.
    assert subprocess.run(
        ["mtype", "-i", str(esp), "::/keel/slot"], capture_output=True, env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).returncode != 0

    # The SBOM: the image, each RPM with version-release, arch, license and sha256, and the
    # sources each was built from.
    sbom = json.loads(Path(f"{vhdx}.spdx.json").read_text())
    assert sbom["spdxVersion"] == "SPDX-2.3" and sbom["documentNamespace"].startswith("urn:uuid:")
    # Every image's SBOM, as the SPDX project's validator sees it.
    sboms = sorted(out.parent.glob("*.spdx.json"))
    assert len(sboms) == len(targets)
    assert {p.name: spdx_problems(p) for p in sboms} == {p.name: [] for p in sboms}
    packages = {p["name"]: p for p in sbom["packages"]}
    assert packages["greeter.vhdx"]["checksums"] == [{"algorithm": "SHA256", "checksumValue": sha256(vhdx)}]
    assert {n for n in packages if not n.startswith("greeter") and "." not in n} == {"greet", "greet-data", "libgreet", "testshell"}
    assert packages["greet"]["versionInfo"] == "1.0-1.t1" and packages["greet"]["licenseDeclared"] == "Apache-2.0"
    main_c = hashlib.sha256(FILES["specs/greet/main.c"].encode()).hexdigest()
    assert packages["main.c"]["checksums"][0]["checksumValue"] == main_c
    ids = {p["name"]: p["SPDXID"] for p in sbom["packages"]}
    assert {"spdxElementId": ids["greet"], "relationshipType": "GENERATED_FROM", "relatedSpdxElement": ids["main.c"]} in sbom["relationships"]

    # The ISO: UEFI El Torito boot entry made of the ESP's files; the root with Rock Ridge modes.
    iso = Path(f"{out}.iso")
    el_torito = run("xorriso", "-indev", str(iso), "-report_el_torito", "plain")
    assert re.search(r"El Torito boot img :\s+1\s+UEFI\s+y\s+none", el_torito)
    assert "/boot/efiboot.img" in el_torito
    listing = run("xorriso", "-indev", str(iso), "-find", "/usr", "-exec", "lsdl")
    assert re.search(r"-rwsr-xr-x .* '/usr/bin/greet'", listing)
    efiboot = tmp_path / "efiboot.img"
    run("osirrox", "-indev", str(iso), "-extract", "/boot/efiboot.img", str(efiboot))
    assert subprocess.run(
        ["mtype", "-i", str(efiboot), "::/EFI/BOOT/BOOTX64.EFI"], capture_output=True, text=True, check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout == "efi\n"

    # The container: a valid OCI layout whose layer is the plain root.
    layout, rootfs = Path(f"{out}.oci.tar"), Path(f"{out}.rootfs.tar.zst")
    check_oci_layout(layout, rootfs, tmp_path)

    # The update artifact of the same system: its root is the A/B disk's root slot.
    update, cosi = Path(f"{out}.update.tar"), Path(f"{out}.cosi")
    check_update_artifact(update, cosi, home, tmp_path)

    # Empty caches, same inputs (and key): every format byte-identical.
    images = (raw, vhdx, vhd, qcow2, iso, layout, rootfs, update, cosi)
    first = {p.name: sha256(p) for p in images}
    for p in images:
        p.unlink()
    try:
        ws.pants("package", *targets, cache="clean-2", env=key)
    finally:
        kill_agent(home)
    assert {p.name: sha256(p) for p in images} == first

    # An assembly larger than the memory it may take fails first, saying how much it needs; made
    # on disk it takes only the memory of its files, and gives the same bytes.
    def make_raw(*options: str) -> subprocess.CompletedProcess:
        try:
            return ws.pants("package", "images/greeter:raw", *options, cache="clean-2", check=False, env=key)
        finally:
            kill_agent(home)

    tiny = make_raw("--image-assembly-memory-mib=1")
    assert tiny.returncode != 0
    found = re.search(r"needs about (\d+) MiB of memory, and the imager root's /tmp \(a tmpfs\) has \d+ MiB "
                      r"free.*\(then about (\d+) MiB of memory", tiny.stderr, re.S)
    assert found, tiny.stderr
    need, files = int(found.group(1)), int(found.group(2))
    assert files < need
    in_memory = make_raw(f"--image-assembly-memory-mib={files}")
    assert in_memory.returncode != 0 and f"needs about {need} MiB" in in_memory.stderr, in_memory.stderr
    raw.unlink()
    on_disk = make_raw("--image-assembly=disk", f"--image-assembly-memory-mib={files}")
    assert on_disk.returncode == 0, on_disk.stderr
    assert "Starting: Make a 64 MiB disk" in on_disk.stderr  # made, not taken from the cache
    assert sha256(raw) == first[raw.name]
    # In memory with what it said it needs (the estimate is enough).
    raw.unlink()
    assert make_raw(f"--image-assembly-memory-mib={need}").returncode == 0
    assert sha256(raw) == first[raw.name]


def check_oci_layout(layout: Path, rootfs: Path, tmp_path: Path) -> None:
    """Every digest in the layout is the sha256 of the blob it names, from index to layer."""
    with tarfile.open(layout) as tar:
        def blob(descriptor: dict) -> bytes:
            data = tar.extractfile("./blobs/" + descriptor["digest"].replace(":", "/")).read()
            assert hashlib.sha256(data).hexdigest() == descriptor["digest"].split(":")[1]
            assert len(data) == descriptor["size"]
            return data

        assert json.loads(tar.extractfile("./oci-layout").read()) == {"imageLayoutVersion": "1.0.0"}
        index = json.loads(tar.extractfile("./index.json").read())
        manifest = json.loads(blob(index["manifests"][0]))
        config = json.loads(blob(manifest["config"]))
        (layer_descriptor,) = manifest["layers"]
        assert layer_descriptor["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
        layer = blob(layer_descriptor)
    assert layer == rootfs.read_bytes()
    diff = subprocess.run(["zstd", "-dc"], input=layer, capture_output=True, check=True).stdout
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(diff).hexdigest()]
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    (tmp_path / "layer.tar").write_bytes(diff)
    with tarfile.open(tmp_path / "layer.tar") as tar:
        assert tar.getmember("./usr/bin/greet").mode == 0o4755
        assert tar.extractfile("./usr/share/greet/message").read() == b"hello\n"
    # skopeo, the field's tool, reads the archive and verifies each blob as it copies.
    subprocess.run(["skopeo", "copy", f"oci-archive:{layout}", f"dir:{tmp_path / 'copy'}"], check=True, capture_output=True)


def check_update_artifact(update: Path, cosi: Path, home: Path, tmp_path: Path) -> None:
    """NAME.update.tar: manifest, signature and root image in that order, every sha256 and size
    the manifest gives right, the signature good for the key (checked as keel-update checks it,
    by gpgv and the exported public key), and the root an ext4 of the slot's size that e2fsck
    accepts. NAME.cosi: COSI 1.2 but for the boot loader, and the same root image."""
    work = tmp_path / "update"
    work.mkdir()
    with tarfile.open(update) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["manifest.json", "manifest.json.sig", "root.img.zst"]
        assert all(m.isreg() and m.uid == 0 and m.gid == 0 and m.mode == 0o644 for m in members)
        assert len({m.mtime for m in members}) == 1
        tar.extractall(work)
    manifest_text = (work / "manifest.json").read_text()
    manifest = json.loads(manifest_text)
    assert {k: manifest[k] for k in ("format", "name", "version", "root_file")} == {
        "format": "keel-update/1", "name": "greeter", "version": "2.1", "root_file": "root.img.zst",
    }
    assert re.search(r'^ "version": "2\.1",?$', manifest_text, re.M)  # a line per top-level scalar, for sed
    zst = work / "root.img.zst"
    assert manifest["root_zst_size"] == zst.stat().st_size and manifest["root_zst_sha256"] == sha256(zst)
    root = work / "root.img"
    with root.open("wb") as out:
        subprocess.run(["zstd", "-dc", str(zst)], stdout=out, check=True)
    # ext4 of the root slot's size: 64M disk, 32M ESP, 2M of GPT, the rest split in two.
    assert manifest["root_size"] == manifest["slot_size"] == 15 << 20 == root.stat().st_size
    assert manifest["root_sha256"] == sha256(root)
    assert {(p["name"], p["epoch"], p["version"], p["release"]) for p in manifest["packages"]} == {
        (name, 0, "1.0", "1.t1") for name in ("greet", "greet-data", "libgreet", "testshell")
    }

    keyring = work / "keyring.gpg"
    keyring.write_bytes(subprocess.run(
        ["gpg", "--homedir", str(home), "--export"], capture_output=True, check=True
    ).stdout)
    gpgv = ["gpgv", "--keyring", str(keyring), str(work / "manifest.json.sig")]
    assert subprocess.run([*gpgv, str(work / "manifest.json")], capture_output=True).returncode == 0
    tampered = work / "tampered.json"
    tampered.write_text(manifest_text.replace('"2.1"', '"9.9"'))
    assert subprocess.run([*gpgv, str(tampered)], capture_output=True).returncode != 0

    assert subprocess.run(["e2fsck", "-fn", str(root)], capture_output=True).returncode == 0
    # The root holds the key's public part, so the updated system trusts the next update too.
    dumped = work / "root-keyring.gpg"
    subprocess.run(["debugfs", "-R", f"dump /etc/keel/update-keyring.gpg {dumped}", str(root)], check=True, capture_output=True)
    assert dumped.read_bytes() == keyring.read_bytes()
    assert debugfs(root, "cat /etc/os-release") == 'NAME="greeter"\nID=greeter\nVERSION_ID="2.1"\n'
    assert debugfs(root, "cat /usr/share/greet/message") == "hello\n"
    # What the ESP mounts stays out of the root: the update does not carry /boot/efi.
    assert "BOOTX64.EFI" not in debugfs(root, "ls -l /boot/efi")

    metadata, problems = cosi_file_problems(cosi)
    assert problems == ["metadata.bootloader.type: 'none', not one of ('systemd-boot', 'grub')"]
    root_image = next(f["image"] for f in metadata["images"] if f["mountPoint"] == "/")
    with tarfile.open(cosi) as tar:
        assert tar.extractfile(root_image["path"]).read() == zst.read_bytes()
        regions = {r["image"]["path"]: tar.extractfile(r["image"]["path"]).read() for r in metadata["disk"]["gptRegions"]}
    assert root_image["uncompressedSize"] == manifest["root_size"]
    assert metadata["osRelease"] == debugfs(root, "cat /etc/os-release")

    # The regions put back where the GPT says: a disk whose table names the ESP and both slots,
    # with the ESP's files and the root image in place.
    disk = work / "disk.raw"
    with disk.open("wb") as out:
        out.truncate(metadata["disk"]["size"])
        out.write(zstd_decompress(regions["images/primary-gpt.rawzst"]))
    table = json.loads(run("sfdisk", "-J", str(disk)))["partitiontable"]["partitions"]
    assert [p["name"] for p in table] == ["esp", "root-a", "root-b"]
    assert table[1]["size"] == table[2]["size"] == (15 << 20) // 512
    with disk.open("r+b") as out:
        for region in metadata["disk"]["gptRegions"][1:]:
            out.seek(table[region["number"] - 1]["start"] * 512)
            out.write(zstd_decompress(regions[region["image"]["path"]]))
    with disk.open("rb") as d:
        d.seek(table[1]["start"] * 512)
        assert hashlib.sha256(d.read(table[1]["size"] * 512)).hexdigest() == manifest["root_sha256"]
        d.seek(table[0]["start"] * 512)
        (work / "esp.vfat").write_bytes(d.read(table[0]["size"] * 512))
    assert subprocess.run(
        ["mtype", "-i", str(work / "esp.vfat"), "::/EFI/BOOT/BOOTX64.EFI"], capture_output=True, text=True, check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout == "efi\n"
    # The boot state of an A/B disk: slot a is the active one.
    assert subprocess.run(
        ["mtype", "-i", str(work / "esp.vfat"), "::/keel/slot"], capture_output=True, text=True, check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout == "a\n"
    # Each filesystem's id is what blkid reads from it.
    ids = {f["mountPoint"]: f["fsUuid"] for f in metadata["images"]}
    assert run("blkid", "-p", "-o", "value", "-s", "UUID", str(root)) == ids["/"] + "\n"
    assert run("blkid", "-p", "-o", "value", "-s", "UUID", str(work / "esp.vfat")) == ids["/boot/efi"] + "\n"


def zstd_decompress(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
