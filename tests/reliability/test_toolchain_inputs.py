"""Bad inputs of the toolchain stage: stages, their seed locks, their packages.
(tests/reliability/catalogue.py says how each case is checked.)"""
from __future__ import annotations

import json
from typing import Iterator

import pytest

from tests.integration.chain_workspace import workspace
from tests.reliability.catalogue import Case, Catalogue, catalogue, replace

LOCK = "toolchain/seed.lock.json"
STAGES = "toolchain/BUILD"
MARKER = "specs/tc-marker/tc-marker.spec"


def lock_edit(change):
    """An edit of the seed lock's JSON: `change(lock)` alters the parsed lock in place."""

    def edit(text: str) -> str:
        lock = json.loads(text)
        change(lock)
        return json.dumps(lock, indent=2)

    return edit


def _changed_sha(lock: dict) -> None:
    lock["packages"][0]["sha256"] = "0" * 64


def _gone(lock: dict) -> None:
    # A version no package source has, with bytes no cache holds.
    package = lock["packages"][0]
    package["version"] += "~gone"
    package["filename"] = f"{package['name']}_{package['version']}_{package['architecture']}.deb"
    package["sha256"] = "1" * 64


CASES = [
    Case(
        "stage-order",
        "a toolchain package listed before one it BuildRequires",
        {STAGES: replace("packages=['specs/tc-marker']", "packages=['specs/greet', 'specs/tc-marker']")},
        "specs/other",
        "Move them before specs/greet:greet in the `packages` of toolchain:official",
        names=("toolchain/BUILD",),
    ),
    Case(
        "seed-sha-changed",
        "a seed lock whose package sha256 is not what the package manager serves",
        {LOCK: lock_edit(_changed_sha)},
        "specs/other",
        "The seed of toolchain:bootstrap no longer matches its lock toolchain/seed.lock.json",
        names=("./pants toolchain-lock toolchain:bootstrap",),
        also=(", lock says 0000000000000000000000000000000000000000000000000000000000000000",),
    ),
    Case(
        "seed-package-gone",
        "a seed lock naming a package version the package manager no longer has",
        {LOCK: lock_edit(_gone)},
        "specs/other",
        "The seed of toolchain:bootstrap no longer matches its lock toolchain/seed.lock.json",
        names=("./pants toolchain-lock toolchain:bootstrap",),
        also=("~gone (amd64): not available from this host's package sources",),
    ),
    Case(
        "seed-lock-malformed",
        "a seed lock that is not JSON",
        {LOCK: lambda text: text[: len(text) // 2]},
        "specs/other",
        "toolchain/seed.lock.json (seed of toolchain:bootstrap) is not a valid seed lock",
        names=("./pants toolchain-lock toolchain:bootstrap",),
    ),
    Case(
        "seed-lock-stale",
        "`seed_packages` changed since the lock was written",
        {STAGES: replace("'bash', ", "'bash', 'zsh', ")},
        "specs/other",
        "The seed lock toolchain/seed.lock.json was made for other `seed_packages` than toolchain:bootstrap lists now",
        names=("./pants toolchain-lock toolchain:bootstrap",),
    ),
    Case(
        "toolchain-package-fails",
        "a toolchain package whose rpmbuild fails",
        {MARKER: replace("%install\n", "%install\necho 'compiler exploded'; exit 1\n")},
        "specs/other",
        "Building toolchain stage toolchain:official failed: rpmbuild failed for specs/tc-marker/tc-marker.spec",
        also=("compiler exploded",),
    ),
    Case(
        "bootstrap-root-fails",
        "a bootstrap root that cannot be made (`bin_sh` names no shell of the seed)",
        {STAGES: replace("name='bootstrap', ", "name='bootstrap', bin_sh='nosuchsh', ")},
        "specs/other",
        "Making the bootstrap root of toolchain:bootstrap from its seed failed: check the stage's "
        "fields in toolchain/BUILD",
        also=("keel: bin_sh=nosuchsh, but the root has no /usr/bin/nosuchsh", "--keep-sandboxes=on_failure"),
    ),
    Case(
        "missing-base",
        "a stage whose `base` does not exist",
        {STAGES: replace("base=':bootstrap'", "base=':bootstrapp'")},
        "specs/other",
        "The address toolchain:bootstrapp from the `base` of toolchain:official does not exist",
        # Pants' own error: it names the directory and the names that are there.
        names=("is not defined in the directory toolchain", "* :bootstrap"),
    ),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[Catalogue]:
    ws = workspace(tmp_path_factory.mktemp("toolchain"))
    yield from catalogue(ws, ("specs/other",))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_toolchain_input_is_one_clear_error_and_nothing_wrong_is_kept(built: Catalogue, case: Case) -> None:
    built.check(case)
