"""keel's version order against rpm's own (`rpm.vercmp` in rpm's Lua), and rpm's rules for
whether a Provides meets a requirement."""
from __future__ import annotations

import itertools
import subprocess

import pytest

from rules.rpm.util_rules.versions import Evr, overlaps, rpmvercmp

VERSIONS = [
    "1.0", "1.0.0", "1.00", "1.01", "1.1", "1.10", "1.9", "2", "2.0a", "2.0b", "2.0.1", "2a",
    "1.0~rc1", "1.0~rc2", "1.0~~", "1.0^git1", "1.0^git2", "1.0^", "1.0.1^", "a", "b", "1_0",
    "1.0-1", "1.0-2", "1.0-10", "1:0.5", "2:0.1-1", "0:1.0", "1.23.4-1.azl3", "1.25.0-2.azl3",
    "5.38.2", "3.48", "3.44", "20230801", "2.0.0git", "FC5", "fc4", "10.2+git",
]


def rpm_vercmp(pairs: list[tuple[str, str]]) -> list[int]:
    """rpm's answers for every pair, in one rpm process."""
    body = "".join(f'print(rpm.vercmp("{a}", "{b}")) print(" ")' for a, b in pairs)
    out = subprocess.run(
        ["rpm", "--eval", "%{lua:" + body + "}"], capture_output=True, text=True, check=True
    ).stdout
    return [int(x) for x in out.split()]


def test_version_order_is_rpms() -> None:
    pairs = list(itertools.product(VERSIONS, VERSIONS))
    expected = rpm_vercmp(pairs)
    found = [Evr.parse(a).compare(Evr.parse(b)) for a, b in pairs]
    wrong = [(a, b, f, e) for (a, b), f, e in zip(pairs, found, expected) if f != e]
    assert not wrong, f"differs from rpm (a, b, keel, rpm): {wrong[:10]}"


def test_segments() -> None:
    assert rpmvercmp("1.10", "1.9") == 1  # numbers, not text
    assert rpmvercmp("1.0~rc1", "1.0") == -1  # a pre-release sorts first
    assert rpmvercmp("1.0^git1", "1.0") == 1 and rpmvercmp("1.0^git1", "1.0.1") == -1
    assert rpmvercmp("2.0", "2a") == 1  # a number is newer than letters


def test_evr_parsing() -> None:
    assert Evr.parse("1:2.3-4.azl3") == Evr("1", "2.3", "4.azl3")
    assert Evr.parse("2.3") == Evr(None, "2.3", None)
    assert str(Evr.parse("1:2.3-4")) == "1:2.3-4"


@pytest.mark.parametrize(
    "provides, requirement, met",
    [
        (("=", "2.0-1"), (">=", "2"), True),
        (("=", "1.0-1"), (">=", "2"), False),
        (("=", "1.0-1"), ("<", "2"), True),
        (("=", "2.0-1"), ("<", "2"), False),
        (("=", "2.0-1"), ("=", "2.0"), True),  # no release asked: any release
        (("=", "2.0-1"), ("=", "2.0-2"), False),
        (("=", "2.0-1"), ("", ""), True),  # unversioned requirement
        (("", ""), ("<", "1"), True),  # unversioned Provides meets any
        (("=", "1:1.0"), (">", "2.0"), True),  # the epoch first
        ((">=", "3"), ("<", "4"), True),  # two ranges overlap
        (("<", "3"), (">", "4"), False),
    ],
)
def test_a_provides_meets_a_requirement_as_rpm_decides(provides, requirement, met) -> None:
    assert overlaps(*provides, *requirement) is met
