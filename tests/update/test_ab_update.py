"""Image-based A/B updates of keel core, end to end under QEMU with OVMF (software emulation).

keel core version 1 boots from its VHDX (slot a). The update artifact of version 2 (core-release
at another Version), attached as a second virtio disk, is applied with `keel-update /dev/vdb`;
the machine reboots (no -no-reboot: QEMU resets like hardware) into version 2 on root-b. An
artifact whose manifest was changed after signing is refused and nothing changes. A version 3
whose root has no /sbin/init is applied next: its trial boot panics, `panic=5` resets the
machine, and the initramfs falls back to version 2.

How the images are built, and why this way. The VHDX and the artifacts need a signing key, which
the repository has none of, so they are built here with a throw-away key by real Pants, on a
workspace that copies the repository's specs/, toolchain/, images/core and pants.toml unchanged
(same `[rpm]` dist `.keel1`, same options), run with the interpreter and the environment
variables `./pants test` ran Pants with (KEEL_PANTS_PYTHON and [subprocess-environment]'s, passed
by [test].extra_env_vars; both are in action keys). Every action of the packages and the toolchain
roots then has the key the outer run computed for images/core:vhdx (a runtime dependency here, so
it is built first) and comes from Pants' default local store, where the outer run wrote it. Two
runs (version 1's disk; then core-release at 2.0, the repository's own `update` target and a
`broken` one) build only what the key and the new version change: core-release 2.0, three image
roots (holding the key's public part), a disk and two artifacts. Measured on the 2-core VM,
shared with other builds: 78 to 108 s for both runs, and 85 s for the four boots.

The alternative, an isolated store holding only the outer build's RPMs (runtime dependencies),
still needs the toolchain roots to read specs and the imager root to assemble images: a run here
that could not reuse them (its interpreter differed) took 242 s instead of 108 s, rebuilding
the bootstrap, official and imager roots; with empty caches it would also rebuild every RPM, the
kernel alone taking 5 to 25 minutes, as keel's package stage cannot yet take prebuilt RPMs.
A Pants run without the outer run's store or interpreter still passes, building what it misses.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.boot.console import BANNER, OVMF_CODE, PROMPT, SerialConsole
from tests.integration.signing_key import kill_agent, make_key

REPO = Path.cwd()
CORE = "images/core"
# Under software emulation on a loaded 2-core machine a boot takes minutes.
BOOT_TIMEOUT = 600

# Appended to the copy of images/core/BUILD: a version that cannot boot, made from the same
# system as `update` (the repository's own update_image target of these disks).
BROKEN = """

# tests/update/test_ab_update.py: an update whose root has no /sbin/init.
update_image(name="broken", post_install=["no-init.sh"], **dict(SYSTEM, size=DISK["size"]))
"""
NO_INIT = """# The root of an update that cannot boot: the kernel finds no init to start and panics.
rm /sbin/init
sed -i 's/^VERSION_ID=.*/VERSION_ID=3.0/; s/^PRETTY_NAME=.*/PRETTY_NAME="keel core 3.0"/' /usr/lib/os-release
"""
# What Pants hands to the processes it runs (its `[subprocess-environment]` default): part of
# every action's key, so the nested run must see what `./pants test` saw ([test] passes them).
SUBPROCESS_ENV = ("LANG", "LC_CTYPE", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR")
# What ./pants sets for Pants itself that reaches action keys: the interpreter search path is in
# the key of the PEX that compresses images.
LAUNCHER_ENV = ("PANTS_PYTHON_BOOTSTRAP_SEARCH_PATH",)


def nested_workspace(root: Path) -> Path:
    """The repository's keel core, its specs and stages, and its options, in `root`."""
    ws = root / "ws"
    shutil.copytree(REPO / "specs", ws / "specs")
    for path in ("toolchain/BUILD", "toolchain/seed.lock.json", "toolchain/imager.lock.json", f"{CORE}/motd"):
        (ws / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / path, ws / path)
    (ws / CORE / "BUILD").write_text((REPO / CORE / "BUILD").read_text() + BROKEN)
    (ws / CORE / "no-init.sh").write_text(NO_INIT)
    # The repository's options; only where keel's rules and the pex-cli are differs.
    options = (REPO / "pants.toml").read_text()
    pex_cli = os.environ["KEEL_PEX_CLI"]
    changed = options.replace('pythonpath = ["%(buildroot)s"]', f'pythonpath = ["{REPO}"]').replace(
        f"%(buildroot)s/.keel/pex-cli/{Path(pex_cli).name}", pex_cli
    )
    assert "%(buildroot)s" not in changed, "pants.toml names %(buildroot)s in a new place: update this test"
    (ws / "pants.toml").write_text(changed)
    return ws


def set_version(ws: Path, version: str) -> None:
    """core-release at another Version: what a new release of keel core changes."""
    path = ws / "specs/core-release/core-release.spec"
    spec = path.read_text()
    bumped = re.sub(r"(?m)^Version:(\s+)\S+$", rf"Version:\g<1>{version}", spec)
    assert bumped != spec
    path.write_text(bumped)


def tampered(update: Path, out: Path) -> Path:
    """The same artifact with its manifest changed after signing (another version, same length)."""
    result = io.BytesIO()
    with tarfile.open(update) as src, tarfile.open(fileobj=result, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for member in src.getmembers():
            content = src.extractfile(member).read()
            if member.name == "manifest.json":
                changed = content.replace(b'"version": "2.0"', b'"version": "9.0"')
                assert changed != content
                content = changed
            tar.addfile(member, io.BytesIO(content))
    out.write_bytes(result.getvalue())
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """core.vhdx of version 1, the artifacts of version 2 and of the broken version 3, and a
    tampered copy of version 2's."""
    tmp = tmp_path_factory.mktemp("ab")
    home = tmp / "gnupg"
    fingerprint = make_key(home, "keel updates")
    ws = nested_workspace(tmp)
    # The interpreter and environment `./pants test` ran Pants with: both are in action keys (the
    # interpreter in those of the images' zstd PEX). Run by another Pants, this test still
    # passes, building what it cannot find.
    python = os.environ.get("KEEL_PANTS_PYTHON", sys.executable)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "NO_SCIE_WARNING": "1",
        **{name: os.environ[name] for name in ("PYENV_ROOT", *SUBPROCESS_ENV, *LAUNCHER_ENV) if name in os.environ},
        # The key as CI hands it in.
        "PANTS_RPM_SIGN_KEY": fingerprint,
        "PANTS_RPM_SIGN_GNUPG_HOME": str(home),
    }
    if python == sys.executable:
        # The test runner's own sys.path holds the Pants distribution this test depends on.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    ran: list[str] = []

    def package(*targets: str) -> None:
        # No store options: Pants' default local store and named caches, where `./pants test ::`
        # built the same actions.
        result = subprocess.run(
            [python, "-m", "pants", "--no-pantsd", "--no-watch-filesystem", "--no-dynamic-ui",
             "package", *targets],
            cwd=ws, env=env, capture_output=True, text=True,
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        ran.extend(re.findall(r"Starting: (.*)", result.stderr))

    started = time.monotonic()
    dist = ws / "dist" / CORE
    try:
        package(f"{CORE}:vhdx")
        shutil.move(dist / "core.vhdx", tmp / "v1.vhdx")
        set_version(ws, "2.0")
        package(f"{CORE}:update", f"{CORE}:broken")
    finally:
        kill_agent(home)
    print(f"nested builds: {time.monotonic() - started:.0f} s; ran: {ran}")
    # Packages and toolchain roots came from the outer run's cache: at most core-release 2.0 was
    # built (nothing else changed), and no root of a toolchain stage. (The update images' zstd
    # PEX may be built here: no earlier test needs it with this interpreter.)
    assert all(r.startswith("rpmbuild core-release-2.0-") for r in ran if r.startswith("rpmbuild ")), ran
    assert not [r for r in ran if "toolchain" in r or "bootstrap root" in r], ran
    return {
        "vhdx": tmp / "v1.vhdx",
        "v2": dist / "core.update.tar",
        "v3": dist / "core-broken.update.tar",
        "tampered": tampered(dist / "core.update.tar", tmp / "tampered.update.tar"),
    }


def virtio(path: Path, name: str, fmt: str, **options: str) -> tuple[str, ...]:
    extra = "".join(f",{k}={v}" for k, v in options.items())
    return ("-drive", f"if=none,id={name},file={path},format={fmt}{extra}", "-device", f"virtio-blk-pci,drive={name}")


def next_lines(first: bytes, second: bytes) -> bytes:
    """A console pattern: the line `first`, then `second` as the next line the initramfs prints.
    The kernel's own messages (clocksource, tsc calibration) may come between them on the
    serial console at any time; another `keel:` line may not."""
    return re.escape(first) + rb"[^\n]*\n(?:(?!keel:)[^\n]*\n)*?" + re.escape(second)


def booted(console: SerialConsole, version: str, slot: str) -> None:
    """The machine reached the prompt on `slot` with keel core `version`, no trial pending."""
    console.expect(re.escape(BANNER), timeout=BOOT_TIMEOUT)
    console.expect(re.escape(PROMPT), timeout=120)
    assert f'VERSION_ID={version}\n' in console.run("cat /etc/os-release")
    assert f"PARTNAME=root-{slot}\n" in console.run("cat /sys/dev/block/$(mountpoint -d /)/uevent")
    assert console.run("keel-update --status") == f"active={slot} slot={slot} try=\n"


def test_an_update_boots_a_tampered_one_is_refused_a_broken_one_falls_back(built, tmp_path: Path) -> None:
    if not (OVMF_CODE.exists() and shutil.which("qemu-system-x86_64")):
        pytest.fail("this test needs qemu-system-x86 and ovmf (apt-get install qemu-system-x86 ovmf)")
    console = SerialConsole(
        tmp_path,
        # vda: the system disk (writes go to a temporary overlay, kept across resets); vdb, vdc,
        # vdd: the artifacts as whole disks, read-only.
        *virtio(built["vhdx"], "system", "vhdx", snapshot="on"),
        *virtio(built["v2"], "v2", "raw", readonly="on"),
        *virtio(built["tampered"], "tampered", "raw", readonly="on"),
        *virtio(built["v3"], "v3", "raw", readonly="on"),
        reboot=True,
    )
    try:
        assert b"keel: booting slot a" in console.expect(re.escape(BANNER), timeout=BOOT_TIMEOUT)
        console.expect(re.escape(PROMPT), timeout=120)
        assert "VERSION_ID=1.0\n" in console.run("cat /etc/os-release")
        assert console.run("keel-update --status") == "active=a slot=a try=\n"

        # Version 2: written to b, tried once, kept by rcS's --mark-good.
        console.type("keel-update /dev/vdb")
        console.expect(rb"keel-update: slot b holds core 2\.0; rebooting to try it once \(keel/try: b 1\)", timeout=600)
        console.expect(next_lines(b"keel: trying slot b", b"keel: booting slot b"), timeout=BOOT_TIMEOUT)
        console.expect(rb"keel-update: slot b booted; it is the active slot now", timeout=BOOT_TIMEOUT)
        booted(console, "2.0", "b")

        # A manifest changed after signing: refused, the boot state as it was.
        output = console.run("keel-update /dev/vdc; echo exit=$?", timeout=600)
        assert "keel-update: the signature of manifest.json in /dev/vdc does not verify" in output
        assert output.rstrip().endswith("exit=1")
        assert console.run("keel-update --status") == "active=b slot=b try=\n"

        # Version 3 cannot boot: its trial panics, the machine resets, the initramfs goes back to b.
        console.type("keel-update /dev/vdd")
        console.expect(rb"keel-update: slot a holds core-broken 3\.0; rebooting to try it once", timeout=600)
        console.expect(next_lines(b"keel: trying slot a", b"keel: booting slot a"), timeout=BOOT_TIMEOUT)
        console.expect(rb"Kernel panic", timeout=BOOT_TIMEOUT)
        console.expect(
            next_lines(b"keel: slot a did not boot; back to slot b", b"keel: booting slot b"), timeout=BOOT_TIMEOUT
        )
        booted(console, "2.0", "b")

        console.type("poweroff")
        assert console.qemu.wait(timeout=120) == 0
    finally:
        console.close()
