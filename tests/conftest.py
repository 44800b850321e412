"""What every test file shares: a passed test's temporary directory goes when the test ends.

A test workspace holds what a fresh machine would (a Pants store, named caches with unpacked
toolchain roots, dist/ with images): a few GiB for the tests that give a run its own cache.
pytest (7.0) keeps every test's `tmp_path` until a later session removes it, and the test files
run in parallel: on a CI machine with 50 GiB free the suite filled the disk and failed far from
the cause. So a passed test's directory is removed when it ends; a failed test's stays, for
inspection. The cache that runs without a cache of their own share (tests/pants_workspace.py)
is one for the whole suite and stays, so that the next run finds its toolchain roots.
"""
from __future__ import annotations

import shutil

import pytest


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
