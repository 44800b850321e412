"""keel core's update tools, gpgv (specs/gnupg) and zstd (specs/zstd), built by `./pants package`
as this test's runtime dependencies, run in a root that holds only them and busybox: no C library,
no dynamic loader, as on keel core. Keys and signatures are made by the host's gpg (the tool the
[rpm-sign] key is used with); the bytes compressed by the host's zstd must decompress too."""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest

RPMS = {"busybox": "busybox-1.35.0", "gpgv": "gpgv-2.2.40", "zstd": "zstd-1.5.4"}
PT_INTERP, PT_DYNAMIC = 3, 2


def built(name: str) -> Path:
    matches = sorted(Path(".").glob(f"RPMS/*/{RPMS[name]}-1.*.rpm"))
    assert len(matches) == 1, f"expected one built {name} RPM, found {matches}"
    return matches[0]


def program_headers(path: Path) -> list[int]:
    """The p_type of every program header of a 64-bit little-endian ELF file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path} is not an ELF64 LE file"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """busybox, gpgv and zstd installed from their RPMs into an otherwise empty directory."""
    root = tmp_path_factory.mktemp("core")
    for name in RPMS:
        archive = subprocess.run(["rpm2archive", "-"], input=built(name).read_bytes(), capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout), mode="r:gz") as tar:
            tar.extractall(root)
    (root / "work").mkdir()
    return root


def run_in(root: Path, script: str) -> subprocess.CompletedProcess:
    """`script` run by busybox sh with `root` as / (and /work as the working directory)."""
    return subprocess.run(
        [
            "bwrap", "--unshare-all", "--die-with-parent", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
            "--bind", str(root), "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/work",
            "/bin/sh", "-c", script,
        ],
        capture_output=True, text=True,
    )


def add_key(home: Path, name: str, algo: str) -> None:
    """A throw-away signing key without passphrase, added to the GnuPG home `home`."""
    home.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key", f"{name} <t@localhost>",
         algo, "sign", "never"],
        check=True, capture_output=True,
    )


def gpg(home: Path, *args: str) -> bytes:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two GnuPG homes: `trusted` (an EdDSA and an RSA signing key) and `other` (a key nobody trusts)."""
    base = tmp_path_factory.mktemp("keys")
    homes = {"trusted": base / "trusted", "other": base / "other"}
    add_key(homes["trusted"], "keel ed25519", "ed25519")
    add_key(homes["trusted"], "keel rsa", "rsa3072")
    add_key(homes["other"], "someone else", "ed25519")
    yield homes
    for home in homes.values():
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


def test_tools_are_static_and_the_root_has_no_c_library(root: Path) -> None:
    for program in ("usr/bin/gpgv", "usr/bin/zstd", "bin/busybox"):
        types = program_headers(root / program)
        assert PT_INTERP not in types and PT_DYNAMIC not in types, f"{program} is dynamically linked"
    assert (root / "usr/bin/unzstd").resolve() == (root / "usr/bin/zstd").resolve()
    assert (root / "usr/bin/zstdcat").resolve() == (root / "usr/bin/zstd").resolve()
    assert not [p for p in root.rglob("*") if p.name.startswith(("ld-linux", "libc.so", "libc-"))]


def test_zstd_round_trips_and_reads_the_hosts_zstd(root: Path) -> None:
    work = root / "work"
    # Compressible and incompressible parts: text, and a binary (busybox itself).
    data = b"".join(b"line %d of the update image\n" % i for i in range(20000)) + (root / "bin/busybox").read_bytes()
    (work / "data").write_bytes(data)
    subprocess.run(["zstd", "-q", "-19", "-o", str(work / "host.zst"), str(work / "data")], check=True)

    result = run_in(root, """
        set -e
        zstd -q data -o data.zst
        zstd -dc data.zst | cmp - data
        zstdcat data.zst | cmp - data
        unzstd -q -c data.zst | cmp - data
        zstd -dc host.zst | cmp - data
        head -c 4000 data.zst > short.zst
        if zstd -dc short.zst > /dev/null 2>&1; then echo "a truncated file decompressed"; exit 1; fi
        echo done
    """)
    assert result.returncode == 0 and result.stdout.strip() == "done", result.stdout + result.stderr
    assert len((work / "data.zst").read_bytes()) < len(data) // 2


def test_gpgv_verifies_and_refuses(root: Path, keys: dict) -> None:
    work = root / "work"
    manifest = work / "manifest.json"
    manifest.write_text('{\n "format": "keel-update/1",\n "version": "2"\n}\n')
    (work / "keyring.gpg").write_bytes(gpg(keys["trusted"], "--export"))
    for user, sig in (("keel ed25519", "ed.sig"), ("keel rsa", "rsa.sig")):
        gpg(keys["trusted"], "--local-user", user, "--detach-sign", "--output", str(work / sig), str(manifest))
    gpg(keys["trusted"], "--local-user", "keel ed25519", "--armor", "--detach-sign", "--output",
        str(work / "ed.asc"), str(manifest))
    gpg(keys["other"], "--detach-sign", "--output", str(work / "other.sig"), str(manifest))
    shutil.copy(manifest, work / "tampered.json")
    with open(work / "tampered.json", "a") as f:
        f.write(" ")

    def gpgv(sig: str, data: str) -> subprocess.CompletedProcess:
        return run_in(root, f"gpgv --keyring /work/keyring.gpg {sig} {data}")

    for sig, who in (("ed.sig", "keel ed25519"), ("rsa.sig", "keel rsa"), ("ed.asc", "keel ed25519")):
        result = gpgv(sig, "manifest.json")
        assert result.returncode == 0, result.stderr
        assert f'Good signature from "{who} <t@localhost>"' in result.stderr

    tampered = gpgv("ed.sig", "tampered.json")
    assert tampered.returncode != 0 and "BAD signature" in tampered.stderr, tampered.stderr
    unknown = gpgv("other.sig", "manifest.json")
    assert unknown.returncode != 0 and "No public key" in unknown.stderr, unknown.stderr
    empty = run_in(root, ": > empty.gpg; gpgv --keyring /work/empty.gpg ed.sig manifest.json")
    assert empty.returncode != 0 and "Good signature" not in empty.stderr, empty.stderr

