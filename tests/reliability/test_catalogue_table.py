"""The README's catalogue of bad inputs is the one the tests check."""
from __future__ import annotations

from pathlib import Path

from tests.reliability.catalogue import README_END, README_START, table


def test_the_readme_holds_the_catalogue_the_tests_check() -> None:
    generated = table()
    assert README_START + generated + README_END in Path("README.md").read_text(), (
        "README.md's catalogue of bad inputs is not the tests' one: "
        "`python3 -m tests.reliability.catalogue --write` puts it there"
    )
    rows = generated.splitlines()[2:]
    assert len(rows) >= 30 and len(set(rows)) == len(rows), f"{len(rows)} cases"
