"""Remote cache servers gone wrong, besides one that goes away (test_remote_cache.py): one that
serves blobs whose bytes do not match their digest, and one that never answers. A proxy in
front of a real BuildGrid makes the fault (faulty_reapi.py). The build never takes a wrong
result, keeps nothing wrong, and waits for a silent server only as long as its options say."""
from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.integration.chain_workspace import OTHER, PROGRAM, built, workspace
from tests.integration.remote_cache_server import SCRIPT, RemoteCache, free_port
from tests.pants_workspace import RULES_ROOT

PROXY = RULES_ROOT / "tests" / "integration" / "faulty_reapi.py"
PACKAGES = (PROGRAM, OTHER)
WRONG = "Remote CAS gave wrong digest"


@contextmanager
def faulty(mode: str, upstream: RemoteCache) -> Iterator[int]:
    """The proxy's port: `mode` is "corrupt" or "hang" (see faulty_reapi.py)."""
    python = subprocess.run(
        [str(SCRIPT), "python"], env=upstream.env, capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    proxy = subprocess.Popen(
        [python, str(PROXY), mode, str(port), str(upstream.port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proxy.stdout.readline().strip() == "ready"
        yield port
    finally:
        proxy.kill()
        proxy.wait()


def through(port: int, *extra: str, write: bool = False, content: str = "validate") -> tuple[str, ...]:
    """pants.ci.toml's settings, pointed at `port`."""
    return (
        "--remote-cache-read",
        f"--{'' if write else 'no-'}remote-cache-write",
        f"--remote-store-address=grpc://127.0.0.1:{port}",
        f"--cache-content-behavior={content}",
        *extra,
    )


def test_blobs_with_the_wrong_bytes_are_never_taken(tmp_path: Path, remote_cache: RemoteCache) -> None:
    ws = workspace(tmp_path)
    ws.pants("package", *PACKAGES, *remote_cache.options(), cache="machine-1")
    first = ws.dist_hashes()
    shutil.rmtree(ws.root / "dist")

    with faulty("corrupt", remote_cache) as port:
        # pants.ci.toml's `validate`: a hit is only checked for presence, and its bytes are
        # fetched when needed, then checked against their digest: the run stops there, naming
        # the digest, and writes nothing.
        lazy = ws.pants("package", *PACKAGES, *through(port), cache="machine-2", check=False)
        assert lazy.returncode != 0 and WRONG in lazy.stderr, lazy.stderr
        assert not (ws.root / "dist").exists()
        # `fetch`: every output of a hit is fetched and checked during the lookup; a wrong one
        # makes it a miss, and the action runs here.
        eager = ws.pants(
            "package", *PACKAGES, *through(port, content="fetch"), cache="machine-3"
        )
        assert WRONG in eager.stderr, eager.stderr
        assert built(ws) == set(PACKAGES)
        assert ws.dist_hashes() == first

    # Nothing wrong was kept: the machine whose run stopped gets the right bytes from the server.
    shutil.rmtree(ws.root / "dist")
    ws.pants("package", *PACKAGES, *through(remote_cache.port), cache="machine-2")
    assert ws.dist_hashes() == first


def test_a_server_that_never_answers_is_waited_for_only_as_long_as_configured(
    tmp_path: Path, remote_cache: RemoteCache
) -> None:
    ws = workspace(tmp_path)
    ws.pants("package", *PACKAGES, cache="alone")
    first = ws.dist_hashes()
    shutil.rmtree(ws.root / "dist")

    with faulty("hang", remote_cache) as port:
        # Lookups give up after `remote_cache_rpc_timeout_millis` (1.5 s), store calls after
        # `remote_store_rpc_timeout_millis`; the uploads still pending when the run ends are
        # waited for `session_end_tasks_timeout`.
        options = through(
            port, "--remote-store-rpc-timeout-millis=3000", "--session-end-tasks-timeout=15", write=True
        )
        argv, env = ws.pants_command("package", *PACKAGES, *options, cache="machine-2")
        run = subprocess.run(argv, cwd=ws.root, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr
    assert "Failed to read from remote cache" in run.stderr, run.stderr
    assert built(ws) == set(PACKAGES)
    assert ws.dist_hashes() == first
