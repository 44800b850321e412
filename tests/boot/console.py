"""keel core's serial console under QEMU with OVMF: what the boot tests type and read."""
from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

# The firmware of Debian's `ovmf` package: code read-only, variables copied per boot.
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS.fd")
BANNER = b"keel core: boot complete"
PROMPT = b"core:/# "


class SerialConsole:
    """A QEMU machine whose first serial port is this object's stdin and stdout."""

    def __init__(self, tmp_path: Path, *drive: str, reboot: bool = False, prompt: bytes = PROMPT) -> None:
        """`drive`: QEMU's options for the disks. Without `reboot`, a reset (reboot, panic) ends
        QEMU (-no-reboot); with it, QEMU resets the machine as hardware would. `prompt`: the
        shell's (it starts with the host name)."""
        self.prompt = prompt
        vars_copy = tmp_path / "OVMF_VARS.fd"
        shutil.copyfile(OVMF_VARS, vars_copy)
        self.log = tmp_path / "console.log"
        self.output = b""
        self.qemu = subprocess.Popen(
            [
                "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "256",
                "-nodefaults", "-display", "none", "-serial", "stdio", *(() if reboot else ("-no-reboot",)),
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

    def type(self, command: str) -> None:
        """Type a command at the shell prompt, without waiting for anything."""
        self.qemu.stdin.write(command.encode() + b"\n")
        self.qemu.stdin.flush()

    def run(self, command: str, timeout: float = 60) -> str:
        """Type a command at the shell prompt; its output, without the echoed command line."""
        self.type(command)
        text = self.expect(re.escape(self.prompt), timeout).decode(errors="replace")
        return text.split("\n", 1)[1].rsplit(self.prompt.decode(), 1)[0].replace("\r", "")

    def close(self) -> None:
        if self.qemu.poll() is None:
            self.qemu.kill()
        self.qemu.wait()
