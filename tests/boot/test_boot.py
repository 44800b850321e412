"""keel core boots: the built VHDX and ISO started by UEFI firmware (OVMF) in QEMU under software
emulation, driven through the serial console as a person would."""
from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# The firmware of Debian's `ovmf` package: code read-only, variables copied per boot.
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS.fd")
BANNER = b"keel core: boot complete"
PROMPT = b"core:/# "


class SerialConsole:
    """A QEMU machine whose first serial port is this object's stdin and stdout."""

    def __init__(self, tmp_path: Path, *drive: str) -> None:
        vars_copy = tmp_path / "OVMF_VARS.fd"
        shutil.copyfile(OVMF_VARS, vars_copy)
        self.log = tmp_path / "console.log"
        self.output = b""
        self.qemu = subprocess.Popen(
            [
                "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "256",
                "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
                "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}",
                *drive,
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )

    def expect(self, pattern: bytes, timeout: float) -> bytes:
        """Read the console until `pattern` (a regex) appears after what earlier calls consumed;
        return the text up to and including it."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.output)
            if match:
                seen, self.output = self.output[: match.end()], self.output[match.end():]
                return seen
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.qemu.poll() is not None:
                self.log.write_bytes(self.output)
                raise AssertionError(
                    f"no {pattern!r} on the console after {timeout:.0f} s; it shows:\n"
                    + self.output[-3000:].decode(errors="replace")
                )
            ready, _, _ = select.select([self.qemu.stdout], [], [], min(remaining, 1.0))
            if ready:
                self.output += os.read(self.qemu.stdout.fileno(), 65536)

    def run(self, command: str, timeout: float = 60) -> str:
        """Type a command at the shell prompt; its output, without the echoed command line."""
        self.qemu.stdin.write(command.encode() + b"\n")
        self.qemu.stdin.flush()
        text = self.expect(re.escape(PROMPT), timeout).decode(errors="replace")
        return text.split("\n", 1)[1].rsplit(PROMPT.decode(), 1)[0].replace("\r", "")

    def close(self) -> None:
        if self.qemu.poll() is None:
            self.qemu.kill()
        self.qemu.wait()


def boot_and_check(console: SerialConsole, root_type: str) -> None:
    try:
        # Firmware, kernel, initramfs, init: several minutes under emulation on a loaded machine.
        console.expect(re.escape(BANNER), timeout=600)
        console.expect(re.escape(PROMPT), timeout=120)
        os_release = console.run("cat /etc/os-release")
        assert 'NAME="keel core"' in os_release
        assert 'PRETTY_NAME="keel core 1.0"' in os_release
        assert console.run("hostname").strip() == "core"
        # The initramfs found the root filesystem it should have.
        assert re.search(rf"^\S+ / {root_type} ", console.run("cat /proc/mounts"), re.M)
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
    boot_and_check(console, "ext4")


def test_the_iso_boots(tmp_path: Path) -> None:
    image = Path("images/core/core.iso").resolve()
    console = SerialConsole(tmp_path, "-cdrom", str(image))
    boot_and_check(console, "iso9660")
