"""The ordinary user that tests run Pants and build roots as (created by .ci/run)."""
from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

# .ci/run creates it; KEEL_TEST_USER names another.
USER = os.environ.get("KEEL_TEST_USER", "keel-nonroot")


def ordinary_user() -> pwd.struct_passwd:
    """The user, with its range of subordinate ids; skipped on a workstation without it, failed
    in CI (CI is set), where .ci/run makes it."""
    def missing(why: str) -> None:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; .ci/run prepares it")
        pytest.skip(why)

    if os.geteuid() != 0:
        pytest.skip("switches to an ordinary user: only root can")
    try:
        user = pwd.getpwnam(USER)
    except KeyError:
        missing(f"no user {USER}")
    for ids in ("/etc/subuid", "/etc/subgid"):
        if not any(line.split(":")[0] in (USER, str(user.pw_uid)) for line in Path(ids).read_text().splitlines()):
            missing(f"{USER} has no range in {ids}")
    return user
