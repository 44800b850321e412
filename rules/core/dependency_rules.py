"""Pants checks dependency rules (`__dependencies_rules__` / `__dependents_rules__`, e.g. the
team visibility of teams/BUILD) when it resolves a target's dependencies. keel's build rules
read `packages`, `base` and BuildRequires through the package graph and never resolve them as
dependencies, so the package goals ask for them: a rule violation then fails `./pants package`
too, with Pants' own error naming both targets."""
from __future__ import annotations

from pants.engine.addresses import Address, Addresses
from pants.engine.rules import Get
from pants.engine.target import (
    Dependencies,
    DependenciesRequest,
    TransitiveTargets,
    TransitiveTargetsRequest,
    WrappedTarget,
    WrappedTargetRequest,
)


async def check_dependency_rules(address: Address, transitive: bool) -> None:
    """Resolve the dependencies of `address`, and with `transitive` of everything it reaches (an
    image: its packages and what they were built with). A package checks only its own (its
    BuildRequires): `package ::` of thousands of specs checks every edge once."""
    if transitive:
        await Get(TransitiveTargets, TransitiveTargetsRequest(Addresses([address])))
        return
    wrapped = await Get(WrappedTarget, WrappedTargetRequest(address, description_of_origin="the package goal"))
    await Get(Addresses, DependenciesRequest(wrapped.target[Dependencies]))
