"""keel-update's decisions, without a machine: the packaged script run by keel's own static busybox
against a directory that stands for one (KEEL_UPDATE_FAKE_ROOT): a sysfs tree of an A/B disk,
the root slots as plain files, the EFI system partition's files as a directory. Artifacts are made
here as the update_image contract describes them, signed with a throw-away key; gpgv and zstd
are keel core's own (specs/gnupg, specs/zstd), static like busybox. The QEMU test (test_ab_update.py) proves the same on real hardware paths.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.integration.signing_key import kill_agent, make_key
from tests.update.support import built_rpm, export_key, extract_rpm, sign

SLOT_BYTES = 4 << 20
MAJOR = 254


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> Path:
    """keel core's static busybox (its applets), gpgv and zstd in one bin/: the script's only
    PATH, as on keel core."""
    tmp = tmp_path_factory.mktemp("tools")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for package, program in (("busybox", "bin/busybox"), ("gpgv", "usr/bin/gpgv"), ("zstd", "usr/bin/zstd")):
        os.symlink(extract_rpm(built_rpm(package), tmp / package) / program, bin_dir / program.rsplit("/", 1)[1])
    subprocess.run([str(bin_dir / "busybox"), "--install", "-s", str(bin_dir)], check=True)
    return bin_dir


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    """/usr/sbin/keel-update as the core-init RPM installs it."""
    root = extract_rpm(built_rpm("core-init"), tmp_path_factory.mktemp("core-init"))
    return root / "usr" / "sbin" / "keel-update"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    made = {name: (tmp / name, make_key(tmp / name, f"keel {name}")) for name in ("release", "other")}
    yield made
    for home, _ in made.values():
        kill_agent(home)


def artifact(
    keys, root: bytes, version: str, *, key: str = "release", manifest_edit=None, zst: bytes | None = None
) -> bytes:
    """An update artifact as update_image writes it: ustar of manifest.json, its signature and
    root.img.zst, in that order. `manifest_edit` changes the manifest after signing; `zst`
    replaces the compressed root."""
    compressed = subprocess.run(["zstd", "-q", "-c"], input=root, capture_output=True, check=True).stdout
    manifest = {
        "format": "keel-update/1",
        "name": "core",
        "version": version,
        "root_file": "root.img.zst",
        "root_size": len(root),
        "root_sha256": hashlib.sha256(root).hexdigest(),
        "root_zst_size": len(compressed),
        "root_zst_sha256": hashlib.sha256(compressed).hexdigest(),
        "packages": [{"name": "core-release", "epoch": 0, "version": version, "release": "1.keel1", "arch": "noarch"}],
        "slot_size": SLOT_BYTES,
    }
    text = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    home, fingerprint = keys[key]
    signature = sign(home, fingerprint, text)
    if manifest_edit:
        text = manifest_edit(text)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("manifest.json", text), ("manifest.json.sig", signature), ("root.img.zst", zst or compressed)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1795521600, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def root_image(version: str) -> bytes:
    """A slot's worth of bytes that differ per version, with long runs of zeroes as filesystems
    have (a sparse write would skip them)."""
    block = hashlib.sha256(version.encode()).digest() * 2048
    return (block + bytes(len(block))) * (SLOT_BYTES // 2 // len(block) // 2) + block


class Machine:
    """A disk vda: vda1 "esp", vda2 "root-a", vda3 "root-b"; / on `slot`."""

    def __init__(self, tmp: Path, tools: Path, script: Path, keyring: bytes | None) -> None:
        self.root = tmp / "machine"
        self.tools, self.script, self.tmp = tools, script, tmp
        (self.root / "sys" / "dev" / "block").mkdir(parents=True)
        (self.root / "dev").mkdir()
        for number, name in ((1, "esp"), (2, "root-a"), (3, "root-b")):
            part = self.root / "sys" / "block" / "vda" / f"vda{number}"
            part.mkdir(parents=True)
            (part / "uevent").write_text(
                f"MAJOR={MAJOR}\nMINOR={number}\nDEVNAME=vda{number}\nDEVTYPE=partition\nPARTN={number}\nPARTNAME={name}\n"
            )
            (part / "size").write_text(f"{SLOT_BYTES // 512}\n")
            os.symlink(f"../../block/vda/vda{number}", self.root / "sys" / "dev" / "block" / f"{MAJOR}:{number}")
            if name.startswith("root-"):
                (self.root / "dev" / f"vda{number}").write_bytes(bytes(SLOT_BYTES))
        (self.root / "esp" / "keel").mkdir(parents=True)
        (self.root / "esp" / "keel" / "slot").write_text("a\n")
        if keyring is not None:
            (self.root / "etc" / "keel").mkdir(parents=True)
            (self.root / "etc" / "keel" / "update-keyring.gpg").write_bytes(keyring)
        self.boot("a")

    def boot(self, slot: str) -> None:
        (self.root / "root.majmin").write_text(f"{MAJOR}:{2 if slot == 'a' else 3}\n")

    def slot(self, slot: str) -> bytes:
        # At most the partition's size: a slot may be /dev/full.
        with (self.root / "dev" / f"vda{2 if slot == 'a' else 3}").open("rb") as device:
            return device.read(SLOT_BYTES)

    def state(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((self.root / "esp" / "keel").iterdir())}

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.tools / "sh"), str(self.script), *args],
            env={"PATH": str(self.tools), "KEEL_UPDATE_FAKE_ROOT": str(self.root), "TMPDIR": str(self.tmp)},
            capture_output=True, text=True,
        )

    def apply(self, data: bytes) -> subprocess.CompletedProcess:
        update = self.tmp / "update.tar"
        update.write_bytes(data)
        return self.run(str(update))


@pytest.fixture
def machine(tmp_path: Path, tools: Path, script: Path, keys) -> Machine:
    return Machine(tmp_path, tools, script, export_key(*keys["release"]))


def test_an_update_goes_to_the_other_slot_and_is_kept_after_a_good_boot(machine: Machine, keys) -> None:
    assert machine.run("--status").stdout == "active=a slot=a try=\n"
    root = root_image("2.0")
    result = machine.apply(artifact(keys, root, "2.0"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "keel-update: core 2.0, signed by a key of /etc/keel/update-keyring.gpg",
        f"keel-update: writing {len(root)} bytes to slot b (/dev/vda3)",
        "keel-update: slot b holds core 2.0; rebooting to try it once (keel/try: b 1)",
        "keel-update: reboot",
    ]
    assert machine.slot("b")[: len(root)] == root and machine.slot("a") == bytes(SLOT_BYTES)
    # Only the trial is recorded: the active slot stays a until b has booted.
    assert machine.state() == {"slot": b"a\n", "try": b"b 1\n"}
    assert machine.run("--status").stdout == "active=a slot=a try=b 1\n"
    # A boot that ends on slot a (the trial did not happen) keeps the state.
    assert machine.run("--mark-good").returncode == 0
    assert machine.state() == {"slot": b"a\n", "try": b"b 1\n"}
    # The initramfs counted the try down and booted b; rcS reached --mark-good.
    (Path(machine.root) / "esp" / "keel" / "try").write_text("b 0\n")
    machine.boot("b")
    result = machine.run("--mark-good")
    assert (result.returncode, result.stdout) == (0, "keel-update: slot b booted; it is the active slot now\n")
    assert machine.state() == {"slot": b"b\n"}
    assert machine.run("--status").stdout == "active=b slot=b try=\n"
    # The next update goes to a, the slot / is not on.
    root3 = root_image("3.0")
    assert machine.apply(artifact(keys, root3, "3.0")).returncode == 0
    assert machine.slot("a")[: len(root3)] == root3 and machine.slot("b")[: len(root)] == root
    assert machine.state() == {"slot": b"b\n", "try": b"a 1\n"}


def refused(machine: Machine, data: bytes, message: str) -> tuple[bytes, bytes]:
    """Apply `data`, expect exit 1 with `message`, the boot state unchanged; the slots before."""
    before, slots = machine.state(), (machine.slot("a"), machine.slot("b"))
    result = machine.apply(data)
    assert result.returncode == 1, result.stdout + result.stderr
    # One message, last, that says why.
    last = result.stderr.rstrip().splitlines()[-1]
    assert last.startswith("keel-update: ") and message in last, result.stderr
    assert "reboot" not in result.stdout
    assert machine.state() == before
    return slots


def test_a_manifest_changed_after_signing_is_refused(machine: Machine, keys) -> None:
    data = artifact(keys, root_image("2.0"), "2.0", manifest_edit=lambda t: t.replace(b'"2.0"', b'"9.0"'))
    slots = refused(machine, data, "the signature of manifest.json in")
    # Refused before anything was written.
    assert (machine.slot("a"), machine.slot("b")) == slots


def test_a_key_the_system_does_not_trust_is_refused(machine: Machine, keys) -> None:
    refused(machine, artifact(keys, root_image("2.0"), "2.0", key="other"), "the signature of manifest.json in")


def test_a_root_that_is_not_the_signed_one_is_refused(machine: Machine, keys) -> None:
    other = subprocess.run(["zstd", "-q", "-c"], input=root_image("evil"), capture_output=True, check=True).stdout
    slots = refused(machine, artifact(keys, root_image("2.0"), "2.0", zst=other), "root.img.zst has sha256")
    assert (machine.slot("a"), machine.slot("b")) == slots


def test_a_short_write_is_refused(machine: Machine, keys) -> None:
    # Writes to /dev/full fail with "no space left": the slot takes only part of the root.
    (machine.root / "dev" / "vda3").unlink()
    os.symlink("/dev/full", machine.root / "dev" / "vda3")
    refused(machine, artifact(keys, root_image("2.0"), "2.0"), "writing slot b failed")


def test_what_reads_back_must_be_what_the_manifest_says(machine: Machine, keys) -> None:
    # A signed manifest whose root_sha256 is not of the root it ships: only the read-back sees it.
    data = artifact(keys, root_image("2.0"), "2.0")
    manifest = json.loads(tarfile.open(fileobj=io.BytesIO(data)).extractfile("manifest.json").read())
    wrong = dict(manifest, root_sha256=hashlib.sha256(b"not the root").hexdigest())
    text = (json.dumps(wrong, indent=1, sort_keys=True) + "\n").encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for member in src.getmembers():
            content = src.extractfile(member).read()
            if member.name == "manifest.json":
                content = text
            elif member.name == "manifest.json.sig":
                content = sign(*keys["release"], text)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    refused(machine, out.getvalue(), "slot b reads back sha256")


def test_a_root_larger_than_the_slot_is_refused(machine: Machine, keys) -> None:
    refused(machine, artifact(keys, root_image("2.0") + bytes(SLOT_BYTES), "2.0"), "partition root-b holds only")


def test_not_a_tar_is_refused(machine: Machine) -> None:
    refused(machine, b"\0" * 4096, "is not an update artifact")


def test_without_a_keyring_every_update_is_refused(tmp_path: Path, tools: Path, script: Path, keys) -> None:
    machine = Machine(tmp_path, tools, script, keyring=None)
    refused(machine, artifact(keys, root_image("2.0"), "2.0"), "no /etc/keel/update-keyring.gpg: this system was built without an [rpm-sign] key")


def test_a_disk_without_slots_has_nothing_to_mark_and_nothing_to_update(machine: Machine, keys) -> None:
    uevent = machine.root / "sys" / "block" / "vda" / "vda2" / "uevent"
    uevent.write_text(uevent.read_text().replace("PARTNAME=root-a", "PARTNAME=root"))
    result = machine.run("--mark-good")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    refused(machine, artifact(keys, root_image("2.0"), "2.0"), "/ is not on an A/B root slot")
    assert machine.run().returncode == 2
