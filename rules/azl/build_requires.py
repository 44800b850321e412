"""What building some specs of a checkout needs from the rest of it: `azl-import
--with-build-requires`.

The walk is the package graph's build closure (see RpmPackageGraph.build_closure), repeated for
every target it reaches: a spec's BuildRequires go to the target packages that provide them,
chosen as the graph chooses (by version, as Azure Linux's toolkit does); those packages' Requires
are installed with them, transitively; and every target whose packages a build installs must be
built first, so its own BuildRequires count too. A requirement no target provides is left to the
root, as the graph leaves it. Each target reached remembers the first requirement that reached
it, so the import can say why it brings a directory.

No Pants engine here: graph in, targets and reasons out (the goal reads the specs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from pants.engine.addresses import Address

from rules.rpm.util_rules.package_graph import AmbiguousProviderError, Provider, RpmPackageGraph
from rules.rpm.util_rules.spec_info import RpmDependency
from rules.rpm.util_rules.versions import Evr


@dataclass(frozen=True)
class Need:
    """Why `provider`'s target is needed: `requirement` is a BuildRequires of the spec of
    `requirer` (`package` None), or a Requires of its binary package `package`."""

    provider: Provider
    requirement: RpmDependency
    requirer: Address
    package: str | None = None

    @property
    def kind(self) -> str:
        return "BuildRequires" if self.package is None else "Requires"


@dataclass(frozen=True)
class Tie:
    """A requirement two targets meet at the same version: the graph refuses to choose, so the
    walk follows neither (importing both would only move the error to the build)."""

    requirer: Address
    requirement: RpmDependency
    message: str


@dataclass(frozen=True)
class BuildRequiresClosure:
    # Each target the roots' builds need (the roots excluded), with the first requirement that
    # reached it, in the order reached.
    needs: tuple[Need, ...]
    ties: tuple[Tie, ...]
    # Roots rpmspec could not read: their requirements are unknown, so not followed.
    unreadable_roots: tuple[Address, ...]

    @property
    def targets(self) -> tuple[Address, ...]:
        return tuple(n.provider.address for n in self.needs)


def build_requires_closure(graph: RpmPackageGraph, roots: Iterable[Address]) -> BuildRequiresClosure:
    """The targets that must be built (or be in the root) before `roots` can be: the closure of
    `roots` over the graph's build order dependencies, with a reason for each."""
    roots = tuple(roots)
    needs: dict[Address, Need] = {}
    ties: dict[tuple[Address, RpmDependency], Tie] = {}
    unreadable: list[Address] = []
    pending_targets = list(roots)
    built: set[Address] = set()
    installed: set[Provider] = set()
    pending_packages: list[Provider] = []

    def resolve(requirement: RpmDependency, requirer: Address) -> Provider | None:
        try:
            return graph.resolve(requirement, requirer)
        except AmbiguousProviderError as e:
            ties.setdefault((requirer, requirement), Tie(requirer, requirement, str(e)))
            return None

    def reach(provider: Provider, need: Need) -> None:
        if provider.address not in needs and provider.address not in roots:
            needs[provider.address] = need
        pending_targets.append(provider.address)
        if provider not in installed:
            installed.add(provider)
            pending_packages.append(provider)

    while pending_targets:
        target = pending_targets.pop(0)
        if target in built:
            continue
        built.add(target)
        if target not in graph.infos:
            unreadable.append(target)
            continue
        for requirement in graph.infos[target].build_requires:
            if (provider := resolve(requirement, target)) is not None:
                reach(provider, Need(provider, requirement, target))
        # What those packages Require is installed with them; a package reached before was
        # followed then (its Requires do not depend on whose build installs it).
        while pending_packages:
            package = pending_packages.pop(0)
            info = graph.infos[package.address].package(package.package)
            for requirement in info.requires:
                if (provider := resolve(requirement, package.address)) is not None:
                    reach(provider, Need(provider, requirement, package.address, package.package))
    return BuildRequiresClosure(
        tuple(needs.values()),
        tuple(ties.values()),
        tuple(a for a in unreadable if a in roots),
    )


def describe_need(need: Need, graph: RpmPackageGraph, where: Callable[[Address], str]) -> str:
    """`x (SPECS/x) for BuildRequires: x-devel >= 2 of SPECS/want-new`. `where` names a target's
    spec directory in the checkout (`SPECS/x`), or its spec when the directory has several
    (`SPECS/x/x-1.spec`); a directory of several specs also says which package met the need."""
    directory = where(need.provider.address)
    provided = ""
    if directory.endswith(".spec"):
        pkg = graph.infos[need.provider.address].package(need.provider.package)
        directory, spec = directory.rsplit("/", 1)
        provided = f", package {pkg.name} {Evr(pkg.epoch, pkg.version, pkg.release)} of {spec}"
    name = directory.rsplit("/", 1)[-1]
    requirer = where(need.requirer)
    of = requirer if need.package is None else f"{need.package} ({requirer})"
    return f"{name} ({directory}{provided}) for {need.kind}: {need.requirement} of {of}"
