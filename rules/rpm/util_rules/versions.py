"""RPM version order and version conditions, as rpm itself decides them.

The package graph of a stage that chooses providers by version (Azure Linux's, see
`provider_choice` on toolchain_stage) compares the EVRs rpmspec read for thousands of packages
while it is built in the rule's own process. rpm offers the comparison only as a C function
(`rpmvercmp`, `rpmdsCompare`) or a process per comparison (`rpmdev-vercmp`); its Python bindings
are not in Pants' interpreter. So the two functions are written here, following rpm 4.18's
lib/rpmvercmp.c and lib/rpmds.c (epoch, then version, then release only when both sides have
one; `~` sorts before anything, `^` after the base version), and tests/rpm/test_versions.py
checks them against `rpm --eval '%{lua: print(rpm.vercmp(...))}'` on the host.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cmp_to_key


def _alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as version (or release) `a` is older than, the same as or newer than `b`."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        one = a[i] if i < len(a) else ""
        two = b[j] if j < len(b) else ""
        # `~` sorts before everything, the end of the string included (1.0~rc1 < 1.0).
        if one == "~" or two == "~":
            if one != "~":
                return 1
            if two != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        # `^` sorts after the end of the string but before anything else (1.0 < 1.0^git1 < 1.0.1).
        if one == "^" or two == "^":
            if not one:
                return -1
            if not two:
                return 1
            if one != "^":
                return 1
            if two != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (one and two):
            break
        kind = _digit if _digit(one) else (lambda c: _alnum(c) and not _digit(c))
        start_i, start_j = i, j
        while i < len(a) and kind(a[i]):
            i += 1
        while j < len(b) and kind(b[j]):
            j += 1
        seg_a, seg_b = a[start_i:i], b[start_j:j]
        if not seg_b:
            # Segments of different kinds: a number is newer than letters.
            return 1 if kind is _digit else -1
        if kind is _digit:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    one_left, two_left = i < len(a), j < len(b)
    if not one_left and not two_left:
        return 0
    # Whichever still has characters left is newer.
    return 1 if one_left else -1


@dataclass(frozen=True)
class Evr:
    """`[epoch:]version[-release]`."""

    epoch: str | None
    version: str
    release: str | None

    @classmethod
    def parse(cls, text: str) -> Evr:
        epoch, sep, rest = text.partition(":")
        if not sep or not epoch.isdigit():
            epoch, rest = None, text
        version, sep, release = rest.rpartition("-")
        if not sep:
            version, release = rest, None
        return cls(epoch, version, release or None)

    def compare(self, other: Evr) -> int:
        """Which is newer, as rpm orders versions (rpmverCmp): a missing epoch is 0, a missing
        release is older than any (`1.0` < `1.0-1`)."""
        found = rpmvercmp(self.epoch or "0", other.epoch or "0")
        if not found:
            found = rpmvercmp(self.version, other.version)
        if not found and (self.release or other.release):
            found = rpmvercmp(self.release or "", other.release or "")
        return found

    def __str__(self) -> str:
        text = f"{self.epoch}:{self.version}" if self.epoch else self.version
        return f"{text}-{self.release}" if self.release else text


# Sorts Evr values oldest first.
evr_order = cmp_to_key(Evr.compare)


def overlaps(provide_flags: str, provide_version: str, require_flags: str, require_version: str) -> bool:
    """Whether a Provides (`x = 2-1`, or unversioned) meets a requirement (`x >= 2`, `x < 2`,
    or unversioned), as rpm decides (rpmdsCompare, rpmverOverlap): an unversioned side meets
    anything; an epoch counts when only one side has a non-zero one; releases are compared only
    when both sides have one (`x >= 2` is met by 2-1 and 2-9, `x = 2` by any release of 2)."""
    if not provide_flags or not require_flags or not provide_version or not require_version:
        return True
    one, two = Evr.parse(provide_version), Evr.parse(require_version)
    if one.epoch and two.epoch:
        sense = rpmvercmp(one.epoch, two.epoch)
    elif one.epoch and int(one.epoch) > 0:
        sense = 1
    elif two.epoch and int(two.epoch) > 0:
        sense = -1
    else:
        sense = 0
    if not sense:
        sense = rpmvercmp(one.version, two.version)
        if not sense:
            if one.release and two.release:
                sense = rpmvercmp(one.release, two.release)
            elif (one.release and "=" in require_flags) or (two.release and "=" in provide_flags):
                return True  # the side with no release asks for this version, any release
    if sense < 0:
        return ">" in provide_flags or "<" in require_flags
    if sense > 0:
        return "<" in provide_flags or ">" in require_flags
    return any(c in provide_flags and c in require_flags for c in "=<>")
