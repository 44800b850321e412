"""Fixtures of the integration tests."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.remote_cache_server import RemoteCache


@pytest.fixture
def remote_cache(tmp_path: Path) -> Iterator[RemoteCache]:
    server = RemoteCache(tmp_path / "remote-cache")
    server.run("start")
    try:
        yield server
    finally:
        server.run("stop")
