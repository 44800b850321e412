"""What every test file shares: what a test leaves on disk goes when it is no longer needed.

A test workspace holds what a fresh machine would (a Pants store, named caches with unpacked
toolchain roots, dist/ with images): a few GiB for the tests that give a run its own cache.
pytest (7.0) keeps every test's `tmp_path` until a later session removes it, and the test files
run in parallel: on a CI machine with 50 GiB free the suite filled the disk and failed far from
the cause. So a passed test's directory is removed when it ends (a failed test's stays, for
inspection), and under CI, where no later run reuses them, so is the Pants cache a test file's
runs share (tests/pants_workspace.py) once the file is done; on a developer's machine it is kept,
so that the next run of the file finds its toolchain roots.
"""
from __future__ import annotations

import os
import shutil

import pytest

from tests.pants_workspace import shared_cache_of


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.keel_failed = True  # type: ignore[attr-defined]
    # After teardown: the fixtures using the directory (servers, daemons) have finished.
    if report.when == "teardown" and not getattr(item, "keel_failed", False):
        tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
        if tmp_path is not None:
            shutil.rmtree(tmp_path, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.environ.get("CI", "false").lower() in ("", "0", "false"):
        return
    for test_file in sorted({item.nodeid.split("::")[0] for item in session.items}):
        shutil.rmtree(shared_cache_of(test_file), ignore_errors=True)
