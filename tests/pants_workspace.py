"""Run real Pants with keel's rules on a throw-away workspace, as a user would."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

# The test sandbox holds rules/ at its root; the workspace puts that on Pants' pythonpath.
RULES_ROOT = Path.cwd()

# keel builds small PEXes (the images' zstd compressor) for CPython 3.9: the interpreter running the test.
PYTHON_SEARCH_PATH = ["<PYENV>", "<PATH>", str(Path(sys.base_prefix) / "bin")]

PANTS_TOML = f"""
[GLOBAL]
pythonpath = ["{RULES_ROOT}"]
backend_packages = ["rules.rpm", "rules.toolchain", "rules.image", "rules.azl"]

[anonymous-telemetry]
enabled = false

[python-bootstrap]
search_path = {PYTHON_SEARCH_PATH!r}

[rpm]
defines = {{ dist = ".t1" }}
"""


def pex_cli_pin() -> tuple[str, Path, str]:
    """The local pex-cli that ./pants built (KEEL_PEX_CLI): its version, path and
    `sha256|length`, as the repository's [pex-cli] pins it."""
    path = Path(os.environ["KEEL_PEX_CLI"])
    content = path.read_bytes()
    version = "v" + path.name.split("-", 1)[1]  # pex-2.1.137
    return version, path, f"{hashlib.sha256(content).hexdigest()}|{len(content)}"


def pex_cli_config() -> str:
    """[pex-cli] as the repository sets it."""
    version, path, entry = pex_cli_pin()
    return (
        f'[pex-cli]\nversion = "{version}"\n'
        f'url_template = "file://{path}"\n'
        f'known_versions = ["{version}|linux_x86_64|{entry}", "{version}|linux_arm64|{entry}"]\n'
    )


# The repository's seed locks (a `files` dependency of the tests that use them).
REPO_SEED_LOCK = RULES_ROOT / "toolchain" / "seed.lock.json"
REPO_IMAGER_LOCK = RULES_ROOT / "toolchain" / "imager.lock.json"
# The bootstrap of Azure Linux's build root, as the repository defines it (toolchain/azl:files).
REPO_AZL_TOOLCHAIN = ("toolchain/azl/BUILD", "toolchain/azl/seed.lock.json")
# Runs that do not ask for their own cache share one, across every test file, like the runs of
# one user's clones do: a toolchain root is then built once for the whole suite, not once per
# test file (on 2 cores each cold root and its tools took a minute or two, which made a cold
# suite overrun CI's 90 minutes). Pants processes sharing one store and one named-caches dir at
# once is what tests/reliability/test_interrupted_and_concurrent.py checks; immutable inputs are
# materialized per Pants process, not in the store.
SHARED_CACHE = Path.home() / ".cache" / "keel" / "tests"
# Named caches hold what is addressed by content (unpacked roots by root digest, seed packages and
# sources by sha256) and Pants' pip and PEX caches: every run shares the suite's, as runs on one
# machine share Pants' default named caches, also those of a cache of their own (an empty store
# still runs every action; its roots are not unpacked again). A workspace that looks into its
# named caches, or runs as another user, keeps its own (`shared_named_caches = False`).


def toolchain_files(
    official_packages: tuple[str, ...] = (),
    provides: tuple[str, ...] = ("gcc", "make"),
    prebuilt: str | None = None,
) -> dict[str, str]:
    """toolchain/: a bootstrap stage from the repository's seed lock, `official` on it, and the
    image tools' stage `imager` from the repository's lock."""
    requested = json.loads(REPO_SEED_LOCK.read_text())["requested"]
    imager = json.loads(REPO_IMAGER_LOCK.read_text())["requested"]
    return {
        "toolchain/seed.lock.json": REPO_SEED_LOCK.read_text(),
        "toolchain/imager.lock.json": REPO_IMAGER_LOCK.read_text(),
        "toolchain/BUILD": (
            f"toolchain_stage(name='bootstrap', seed='seed.lock.json', seed_packages={requested!r}, "
            f"provides={list(provides)!r})\n"
            f"toolchain_stage(name='official', base=':bootstrap', packages={list(official_packages)!r}, "
            f"prebuilt={prebuilt!r})\n"
            f"toolchain_stage(name='imager', seed='imager.lock.json', seed_packages={imager!r})\n"
        ),
    }


def azl_toolchain_files() -> dict[str, str]:
    """toolchain/azl/: the repository's own, unchanged."""
    return {path: (RULES_ROOT / path).read_text() for path in REPO_AZL_TOOLCHAIN}


class Workspace:
    shared_named_caches = True

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self.root = root / "ws"
        defaults = {} if "toolchain/BUILD" in files else toolchain_files()
        self.write({"pants.toml": PANTS_TOML + pex_cli_config(), **defaults, **files})

    def write(self, files: dict[str, str]) -> None:
        for path, content in files.items():
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def pants(
        self,
        *args: str,
        cache: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        daemon: bool = False,
    ) -> subprocess.CompletedProcess:
        """One Pants run (no daemon unless `daemon`: then pantsd, watching the workspace's files,
        serves this and later daemon runs until stop_pantsd()). Runs with the same `cache` name
        share Pants' local store; a new name starts from an empty store, like a clean machine
        (with the suite's named caches unless `shared_named_caches` is off). `env` adds to the environment (options such as PANTS_RPM_SIGN_KEY)."""
        argv, base_env = self.pants_command(*args, cache=cache, daemon=daemon)
        result = subprocess.run(argv, cwd=self.root, env={**base_env, **(env or {})}, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"pants {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def pants_command(
        self, *args: str, cache: str | None = None, daemon: bool = False
    ) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of `pants`, for tests that watch a run as it goes."""
        caches = SHARED_CACHE if cache is None else self.root.parent / cache
        argv = [
            sys.executable, "-m", "pants",
            *(("--pantsd",) if daemon else ("--no-pantsd", "--no-watch-filesystem")), "--no-dynamic-ui",
            f"--local-store-dir={caches / 'store'}",
            f"--named-caches-dir={(SHARED_CACHE if self.shared_named_caches else caches) / 'named'}",
            *args,
        ]
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "LC_ALL": "C.UTF-8",
            "NO_SCIE_WARNING": "1",
            **({"PYENV_ROOT": os.environ["PYENV_ROOT"]} if "PYENV_ROOT" in os.environ else {}),
            # The test runner's own sys.path holds the Pants distribution this test depends on.
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
        return argv, env

    def dist_hashes(self) -> dict[str, str]:
        """sha256 of every build output under dist/ (not the build report and its page, which
        describe the run)."""
        dist = self.root / "dist"
        return {
            str(p.relative_to(dist)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(dist.rglob("*"))
            if p.is_file() and p.name not in ("keel-report.json", "keel-report.html")
        }

    def stop_pantsd(self) -> None:
        """Stop the workspace's pantsd, if a daemon run started one ([GLOBAL].pants_subprocessdir,
        .pids/ by default)."""
        for pidfile in self.root.glob(".pids/*/pantsd/pid"):
            pid = pidfile.read_text().strip()
            if pid:
                subprocess.run(["kill", pid], check=False, stderr=subprocess.DEVNULL)
