"""A real REAPI cache for tests: BuildGrid, started with build-support/remote-cache as users
start it, with a data directory and ports of its own."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.pants_workspace import RULES_ROOT

SCRIPT = RULES_ROOT / "build-support" / "remote-cache"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RemoteCache:
    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "KEEL_REMOTE_CACHE_DIR": str(data),
            "KEEL_REMOTE_CACHE_PORT": str(self.port),
            "KEEL_REMOTE_CACHE_REDIS_PORT": str(free_port()),
        }

    def run(self, command: str) -> None:
        subprocess.run([str(SCRIPT), command], env=self.env, check=True, capture_output=True, text=True)

    def options(self, write: bool = True) -> tuple[str, ...]:
        """What pants.ci.toml sets, pointed at this server."""
        return (
            "--remote-cache-read",
            f"--{'' if write else 'no-'}remote-cache-write",
            f"--remote-store-address=grpc://127.0.0.1:{self.port}",
            "--cache-content-behavior=validate",
            "--session-end-tasks-timeout=300",
        )
