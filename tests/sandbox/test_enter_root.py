"""enter_root.sh's cache of unpacked roots, run as keel's rules run it (a sandbox whose
`.keel/roots` is the named cache), and build-support/cache-clean, which bounds that cache.

An unpack goes to ROOT_ID.partial and is renamed into place with its marker: a killed unpack
leaves nothing that a later run uses. A run in a root holds its lock shared, so cache-clean
skips a root in use; an idle root past the age limit is removed and unpacked again when needed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from tests.ordinary_user import ordinary_user

ENTER_ROOT = Path("rules/sandbox/scripts/enter_root.sh").resolve()
CACHE_CLEAN = Path("build-support/cache-clean").resolve()
# Bytes zstd cannot shrink, so that half an archive is half an unpack.
BIG = 8 * 1024 * 1024
DAY = 86400


def copy_with_libraries(binary: str, rootfs: Path) -> None:
    """A host program and the shared libraries it loads, at the same paths under `rootfs`."""
    wanted = [os.path.realpath(binary)]
    ldd = subprocess.run(["ldd", wanted[0]], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        path = line.split("=>")[-1].split("(")[0].strip()
        if path.startswith("/"):
            wanted.append(path)
    for path in wanted:
        target = rootfs / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(path), target)


def make_root(tmp_path: Path, label: str) -> tuple[Path, str]:
    """A root archive (tar.zst, as toolchain stages write them) holding sleep, cat, a label and a
    large file; and its id (the archive's sha256, as rules/sandbox/root.py names it)."""
    rootfs = tmp_path / f"rootfs-{label}"
    for program in ("sleep", "cat"):
        copy_with_libraries(shutil.which(program), rootfs)
    # Mount points bubblewrap needs in a read-only root.
    for directory in ("etc", "dev", "proc", "tmp", "var/tmp"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/label").write_text(f"{label}\n")
    (rootfs / "data").write_bytes(os.urandom(BIG))
    plain = tmp_path / f"{label}.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(rootfs, arcname=".")
    archive = tmp_path / f"{label}.tar.zst"
    subprocess.run(["zstd", "-q", "-f", str(plain), "-o", str(archive)], check=True)
    plain.unlink()
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


class Roots:
    """A named cache of roots and sandboxes that link it, as Pants sets them up."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.named = tmp_path / "named"
        self.dir = self.named / "keel_roots"
        self.dir.mkdir(parents=True)
        self.sandboxes = 0

    def sandbox(self) -> Path:
        self.sandboxes += 1
        sandbox = self.tmp / f"sandbox-{self.sandboxes}"
        (sandbox / ".keel").mkdir(parents=True)
        (sandbox / ".keel/roots").symlink_to(self.dir)
        return sandbox

    def command(self, archive: Path, root_id: str, *argv: str) -> tuple[list[str], dict]:
        env = {"PATH": os.environ["PATH"], "KEEL_ROOT_ENV": ""}
        return ["bash", str(ENTER_ROOT), str(archive), root_id, "--read-only", "--", *argv], env

    def run(self, archive: Path, root_id: str, *argv: str) -> subprocess.CompletedProcess:
        command, env = self.command(archive, root_id, *argv)
        return subprocess.run(command, cwd=self.sandbox(), env=env, capture_output=True, text=True)

    def start(self, archive: Path, root_id: str, *argv: str) -> subprocess.Popen:
        command, env = self.command(archive, root_id, *argv)
        return subprocess.Popen(command, cwd=self.sandbox(), env=env, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def entries(self) -> set[str]:
        return {p.name for p in self.dir.iterdir() if p.suffix != ".lock"}


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["INT", "KILL"])
def test_an_interrupted_unpack_is_never_used(tmp_path: Path, sig: signal.Signals) -> None:
    roots = Roots(tmp_path)
    archive, root_id = make_root(tmp_path, "a")
    # The archive comes through a pipe that the test fills halfway, then the unpack is killed.
    fifo = tmp_path / "slow.tar.zst"
    os.mkfifo(fifo)
    unpack = roots.start(fifo, root_id, "/usr/bin/cat", "/etc/label")
    half = archive.read_bytes()[: archive.stat().st_size // 2]
    with open(fifo, "wb") as writer:
        writer.write(half)
        writer.flush()
        wait_for(lambda: (roots.dir / f"{root_id}.partial" / "data").exists(), "the unpack to start")
        os.killpg(unpack.pid, sig)
        unpack.wait(timeout=30)
    assert unpack.returncode != 0
    # What the killed unpack left is not a root: no ROOT_ID directory, only its .partial.
    assert roots.entries() == {f"{root_id}.partial"}

    again = roots.run(archive, root_id, "/usr/bin/cat", "/etc/label")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "a\n"
    assert roots.entries() == {root_id}
    assert (roots.dir / root_id / "data").stat().st_size == BIG


def test_concurrent_runs_share_one_unpack(tmp_path: Path) -> None:
    roots = Roots(tmp_path)
    archive, root_id = make_root(tmp_path, "b")
    runs = [roots.start(archive, root_id, "/usr/bin/cat", "/etc/label") for _ in range(4)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out == b"b\n"
    assert roots.entries() == {root_id}


def clean(roots: Roots, *args: str, source_cache: Path, specs: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CACHE_CLEAN), "--named-caches-dir", str(roots.named),
         "--source-cache", str(source_cache), "--specs", str(specs), *args],
        capture_output=True, text=True,
    )


def age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def test_cache_clean_removes_only_what_nothing_uses(tmp_path: Path) -> None:
    roots = Roots(tmp_path)
    (old, old_id), (recent, recent_id), (busy, busy_id) = (make_root(tmp_path, n) for n in ("old", "recent", "busy"))
    for archive, root_id in ((old, old_id), (recent, recent_id)):
        assert roots.run(archive, root_id, "/usr/bin/cat", "/etc/label").returncode == 0
    running = roots.start(busy, busy_id, "/usr/bin/sleep", "600")
    wait_for(lambda: (roots.dir / busy_id / ".keel-complete").exists(), "the busy root")
    age(roots.dir / f"{old_id}.lock", 30)
    age(roots.dir / f"{busy_id}.lock", 30)  # in use, whatever its age
    leftover = roots.dir / f"{'0' * 64}.partial"
    (leftover / "usr").mkdir(parents=True)
    (leftover / "usr/half-written").write_text("x")

    # Sources: pinned ones stay whatever their age; unpinned ones go once past the limit.
    specs = tmp_path / "specs"
    (specs / "x").mkdir(parents=True)
    pinned = b"pinned source\n"
    pinned_sha = hashlib.sha256(pinned).hexdigest()
    (specs / "x/x.signatures.json").write_text(json.dumps({"Signatures": {"x-1.tar.gz": pinned_sha}}))
    source_cache = tmp_path / "sources"
    (source_cache / "by-sha256").mkdir(parents=True)
    downloads = roots.named / "keel_sources"
    downloads.mkdir()
    files = {
        source_cache / "x-1.tar.gz": (pinned, 90, True),
        source_cache / "by-sha256" / pinned_sha: (pinned, 90, True),
        downloads / pinned_sha: (pinned, 90, True),
        source_cache / "gone-1.tar.gz": (b"old\n", 30, False),
        source_cache / "by-sha256" / hashlib.sha256(b"old\n").hexdigest(): (b"old\n", 30, False),
        downloads / hashlib.sha256(b"old\n").hexdigest(): (b"old\n", 30, False),
        source_cache / "new-1.tar.gz": (b"new\n", 1, True),
    }
    for path, (content, days, _) in files.items():
        path.write_bytes(content)
        age(path, days)

    try:
        dry = clean(roots, "--dry-run", "--older-than", "14", source_cache=source_cache, specs=specs)
        assert dry.returncode == 0, dry.stderr
        assert f"would remove {roots.dir / old_id} " in dry.stdout, dry.stdout
        assert f"would remove {leftover} " in dry.stdout, dry.stdout
        assert f"kept {roots.dir / busy_id}: a build is using it" in dry.stdout, dry.stdout
        assert recent_id not in dry.stdout
        assert dry.stdout.count("would remove") == 2 + sum(not keep for *_, keep in files.values()), dry.stdout
        assert roots.entries() == {old_id, recent_id, busy_id, leftover.name}
        assert all(path.exists() for path in files)

        done = clean(roots, "--older-than", "14", source_cache=source_cache, specs=specs)
        assert done.returncode == 0, done.stderr
        assert roots.entries() == {recent_id, busy_id}
        assert {path: path.exists() for path in files} == {path: keep for path, (*_, keep) in files.items()}
        assert running.poll() is None, "the build in the busy root was disturbed"

        # Once nothing runs in it, the busy root goes too (age 0: every root not in use).
        os.killpg(running.pid, signal.SIGKILL)
        running.wait(timeout=30)
        assert clean(roots, "--older-than", "0", source_cache=source_cache, specs=specs).returncode == 0
        assert roots.entries() == set()
        # A removed root is unpacked again by the next run that needs it.
        again = roots.run(old, old_id, "/usr/bin/cat", "/etc/label")
        assert again.returncode == 0 and again.stdout == "old\n", again.stderr
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)


def test_cache_clean_refuses_when_a_signatures_file_cannot_be_read(tmp_path: Path) -> None:
    roots = Roots(tmp_path)
    specs = tmp_path / "specs"
    (specs / "x").mkdir(parents=True)
    (specs / "x/x.signatures.json").write_text('{"Signatures": ')
    source_cache = tmp_path / "sources"
    source_cache.mkdir()
    unpinned = source_cache / "y-1.tar.gz"
    unpinned.write_bytes(b"y\n")
    age(unpinned, 30)
    result = clean(roots, source_cache=source_cache, specs=specs)
    assert result.returncode != 0
    assert f"{specs / 'x/x.signatures.json'} cannot be read" in result.stderr, result.stderr
    assert unpinned.exists()


def test_an_ordinary_user_unpacks_and_uses_a_root_with_its_owners() -> None:
    """With a range of subordinate ids, files keep owners other than root, and a command in the
    root may give files any owner (an image's users), as when run as root."""
    user = ordinary_user()
    Path.cwd().chmod(0o755)  # the test's sandbox, which holds enter_root.sh
    base = Path(tempfile.mkdtemp(prefix="keel-enter-root-"))
    try:
        base.chmod(0o755)
        rootfs = base / "rootfs"
        for program in ("dash", "stat", "chown", "mkdir"):
            copy_with_libraries(shutil.which(program), rootfs)
        for directory in ("etc", "dev", "proc", "tmp", "var/tmp", "home/ada"):
            (rootfs / directory).mkdir(parents=True, exist_ok=True)
        (rootfs / "home/ada/notes").write_text("mine\n")

        def owners(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 1001 if info.name.startswith("./home/ada") else 0
            return info

        with tarfile.open(base / "root.tar", "w") as tar:
            tar.add(rootfs, arcname=".", filter=owners)
        archive = base / "root.tar.zst"
        subprocess.run(["zstd", "-q", str(base / "root.tar"), "-o", str(archive)], check=True)
        sandbox = base / "sandbox"
        (sandbox / ".keel").mkdir(parents=True)
        (base / "named").mkdir()
        (sandbox / ".keel/roots").symlink_to(base / "named")
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(sandbox), str(base / "named")], check=True)
        script = (
            "/usr/bin/stat -c '%u:%g' /home/ada/notes && /usr/bin/mkdir /tmp/build/home && "
            "/usr/bin/chown 1002:1003 /tmp/build/home && /usr/bin/stat -c '%u:%g' /tmp/build/home"
        )
        run = subprocess.run(
            ["bash", str(ENTER_ROOT), str(archive), hashlib.sha256(archive.read_bytes()).hexdigest(), "--",
             "/usr/bin/dash", "-c", script],
            cwd=sandbox, env={"PATH": os.environ["PATH"], "KEEL_ROOT_ENV": ""},
            user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True, text=True,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["1001:1001", "1002:1003"]
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)
