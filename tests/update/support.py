"""Helpers of the update tests: what a signing key gives (public part, signatures), and keel's
built RPMs (placed under RPMS/ by `./pants test`) unpacked."""
from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path


def export_key(home: Path, fingerprint: str) -> bytes:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--export", fingerprint], check=True, capture_output=True
    ).stdout


def sign(home: Path, fingerprint: str, data: bytes) -> bytes:
    """A binary detached signature, as update_image makes for manifest.json."""
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--local-user", fingerprint, "--detach-sign", "-o", "-"],
        input=data, check=True, capture_output=True,
    ).stdout


def extract_rpm(rpm: Path, into: Path) -> Path:
    """An RPM's files under `into` (rpm2archive, one of keel's host tools)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["rpm2archive", "-"], stdin=rpm.open("rb"), check=True, capture_output=True).stdout
    tgz = into / ".payload.tgz"
    tgz.write_bytes(archive)
    with tarfile.open(tgz) as tar:
        tar.extractall(into)
    tgz.unlink()
    return into


def built_rpm(name: str) -> Path:
    """The RPM of package `name` that `./pants test` placed in the sandbox (a
    runtime_package_dependency), e.g. RPMS/x86_64/busybox-1.35.0-1.keel1.x86_64.rpm."""
    found = [p for p in Path("RPMS").glob(f"*/{name}-*.rpm") if p.name.rsplit("-", 2)[0] == name]
    assert len(found) == 1, f"expected one RPM of {name} under RPMS/, found {found}"
    return found[0]
