"""Debian stand-ins: what a seed must add for the packages built on it to find their requirements.

A bootstrap stage with `stand_ins` (the Azure Linux stage) is the bottom of a chain whose
packages are specs imported from a distribution that builds them against each other; here most
of those specs have no sources, so a requirement that only such a target meets (or nothing
meets) would block every package that needs it. `./pants toolchain-lock` asks, through
`StandInNeedsRequest`, which requirements those are (the package stage answers: it holds the
package graph, see rules/rpm/util_rules/stand_in_needs.py, and the toolchain stage does not
import it), finds the Debian package that meets each (debian_index.py) and locks it into the
seed with the rest; the lock's `stand_ins` then sends those requirements to the root.
"""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address
from pants.engine.collection import Collection
from pants.engine.environment import EnvironmentName
from pants.engine.unions import union


# The answer runs processes (rpmspec, source fetches), so the caller's environment goes along.
@union(in_scope_types=[EnvironmentName])
@dataclass(frozen=True)
class StandInNeedsRequest:
    """The requirements of the packages built on `seed_stage` that want a stand-in."""

    seed_stage: Address


# The stand-in of a requirement the seed meets as it is (a seed package the graph would pass over
# for a target without sources): nothing is added, the requirement is only left to the root.
IN_SEED = "(seed)"


@dataclass(frozen=True)
class StandInNeed:
    """A requirement name that no target able to build meets: `needed_by` the buildable
    targets whose builds need it, `unbuildable` the targets without sources that would have met
    it, `in_root` whether the seed provides it already (else a Debian package must)."""

    requirement: str
    needed_by: tuple[Address, ...]
    unbuildable: tuple[Address, ...] = ()
    in_root: bool = False


class StandInNeeds(Collection[StandInNeed]):
    pass
