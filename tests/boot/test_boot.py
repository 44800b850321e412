"""keel core boots: the built VHDX and ISO started by UEFI firmware (OVMF) in QEMU under software
emulation, driven through the serial console as a person would."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.boot.console import BANNER, OVMF_CODE, PROMPT, SerialConsole


def boot_and_check(console: SerialConsole, root_type: str, slot: str | None) -> None:
    """`slot`: the A/B root slot the disk boots, None for an ISO."""
    try:
        # Firmware, kernel, initramfs, init: several minutes under emulation on a loaded machine.
        boot_log = console.expect(re.escape(BANNER), timeout=600)
        # The initramfs says which slot it boots; rcS's `keel-update --mark-good` has nothing to say.
        assert (f"keel: booting slot {slot}".encode() in boot_log) == (slot is not None)
        assert b"keel-update:" not in boot_log
        console.expect(re.escape(PROMPT), timeout=120)
        os_release = console.run("cat /etc/os-release")
        assert 'NAME="keel core"' in os_release
        assert 'PRETTY_NAME="keel core 1.0"' in os_release
        assert console.run("hostname").strip() == "core"
        # The initramfs found the root filesystem it should have.
        assert re.search(rf"^\S+ / {root_type} ", console.run("cat /proc/mounts"), re.M)
        if slot:
            assert f"PARTNAME=root-{slot}\n" in console.run("cat /sys/dev/block/$(mountpoint -d /)/uevent")
            assert console.run("keel-update --status") == f"active={slot} slot={slot} try=\n"
        # A clean power-off: busybox init runs its shutdown actions and the machine stops.
        console.qemu.stdin.write(b"poweroff\n")
        console.qemu.stdin.flush()
        assert console.qemu.wait(timeout=120) == 0
    finally:
        console.close()


@pytest.fixture(autouse=True)
def firmware() -> None:
    if not (OVMF_CODE.exists() and shutil.which("qemu-system-x86_64")):
        pytest.fail("the boot tests need qemu-system-x86 and ovmf (apt-get install qemu-system-x86 ovmf)")


def test_the_vhdx_boots(tmp_path: Path) -> None:
    image = Path("images/core/core.vhdx").resolve()
    # snapshot=on: the machine writes to a temporary overlay, never to the built image.
    console = SerialConsole(tmp_path, "-drive", f"file={image},format=vhdx,if=virtio,snapshot=on")
    boot_and_check(console, "ext4", slot="a")


def test_the_iso_boots(tmp_path: Path) -> None:
    image = Path("images/core/core.iso").resolve()
    console = SerialConsole(tmp_path, "-cdrom", str(image))
    boot_and_check(console, "iso9660", slot=None)
