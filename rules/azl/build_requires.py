"""What building some specs of a checkout needs from the rest of it: `azl-import
--with-build-requires`.

The walk is the package graph's build closure (see RpmPackageGraph.build_closure), repeated for
every target it reaches: a spec's BuildRequires go to the target packages that provide them,
chosen as the graph chooses (by version, as Azure Linux's toolkit does); those packages' Requires
are installed with them, transitively; and every target whose packages a build installs must be
built first, so its own BuildRequires count too. A requirement no target provides is left to the
root, as the graph leaves it. Each target reached remembers the first requirement that reached
it, so the import can say why it brings a directory.

That walk, over a whole checkout, brings Azure Linux's toolchain along (perl, gcc, glibc and
what builds them) for almost any spec, because a spec of the checkout provides nearly every
BuildRequires. With `--root-first` a requirement the root already meets (the seed's Debian
packages, as rpmbuild checks them) is left to it, so only what the seed lacks is imported.

No Pants engine here: graph in, targets and reasons out (the goal reads the specs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from pants.engine.addresses import Address
from pants.util.frozendict import FrozenDict

from rules.rpm.util_rules.package_graph import AmbiguousProviderError, Provider, RpmPackageGraph
from rules.rpm.util_rules.spec_info import RpmDependency
from rules.rpm.util_rules.versions import Evr, overlaps


@dataclass(frozen=True)
class RootProvides:
    """What a root's rpm database provides (the package keel generates for its seed, and the
    RPMs installed in it): with `--root-first`, a requirement it meets, by name and version as
    rpmbuild checks a BuildRequires, is left to it."""

    offers: FrozenDict[str, tuple[RpmDependency, ...]]

    @classmethod
    def parse(cls, listing: str) -> RootProvides:
        """`NAME<TAB>FLAGS<TAB>VERSION` lines, as `rpm -qa --qf` prints Provides."""
        offers: dict[str, list[RpmDependency]] = {}
        for line in listing.splitlines():
            name, flags, version = (line.split("\t") + ["", ""])[:3]
            if name:
                offers.setdefault(name, []).append(RpmDependency(name, flags.strip(), version.strip()))
        return cls(FrozenDict({n: tuple(dict.fromkeys(o)) for n, o in sorted(offers.items())}))

    def meets(self, requirement: RpmDependency) -> bool:
        return any(
            overlaps(o.flags, o.version, requirement.flags, requirement.version)
            for o in self.offers.get(requirement.name, ())
        )


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
    # Each target the roots' builds need (the roots excluded), in the order reached.
    targets: tuple[Address, ...]
    # Why, for each of `targets`: the first requirement that reached it; with `root_meets`,
    # the one that brought its directory into the import (see build_requires_closure), which
    # may have gone to another spec of that directory.
    needs: tuple[Need, ...]
    ties: tuple[Tie, ...]
    # Roots rpmspec could not read: their requirements are unknown, so not followed.
    unreadable_roots: tuple[Address, ...]


Resolve = Callable[[RpmDependency, Address], Optional[Provider]]


@dataclass(frozen=True)
class _Walk:
    needs: tuple[Need, ...]  # every requirement that went to a target, in the order met
    ties: tuple[Tie, ...]
    unreadable: tuple[Address, ...]

    def first_needs(self, roots: tuple[Address, ...]) -> dict[Address, Need]:
        """{target reached: the first need that reached it}, in the order reached."""
        first: dict[Address, Need] = {}
        for need in self.needs:
            if need.provider.address not in roots:
                first.setdefault(need.provider.address, need)
        return first


def _walk(graph: RpmPackageGraph, roots: tuple[Address, ...], resolve: Resolve, enter: Callable[[Address], bool]) -> _Walk:
    """The closure of `roots` over build order dependencies, requirements resolved by `resolve`;
    the needs of a target reached are followed only if `enter` says so."""
    needs: list[Need] = []
    ties: dict[tuple[Address, RpmDependency], Tie] = {}
    unreadable: list[Address] = []
    pending_targets = list(roots)
    built: set[Address] = set()
    installed: set[Provider] = set()
    pending_packages: list[Provider] = []

    def resolved(requirement: RpmDependency, requirer: Address) -> Provider | None:
        try:
            return resolve(requirement, requirer)
        except AmbiguousProviderError as e:
            ties.setdefault((requirer, requirement), Tie(requirer, requirement, str(e)))
            return None

    def reach(provider: Provider, need: Need) -> None:
        needs.append(need)
        if not enter(provider.address):
            return
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
            if (provider := resolved(requirement, target)) is not None:
                reach(provider, Need(provider, requirement, target))
        # What those packages Require is installed with them; a package reached before was
        # followed then (its Requires do not depend on whose build installs it).
        while pending_packages:
            package = pending_packages.pop(0)
            info = graph.infos[package.address].package(package.package)
            for requirement in info.requires:
                if (provider := resolved(requirement, package.address)) is not None:
                    reach(provider, Need(provider, requirement, package.address, package.package))
    return _Walk(tuple(needs), tuple(ties.values()), tuple(a for a in unreadable if a in roots))


def build_requires_closure(
    graph: RpmPackageGraph,
    roots: Iterable[Address],
    imported: Iterable[Address] = (),
    root_meets: Callable[[RpmDependency], bool] | None = None,
) -> BuildRequiresClosure:
    """The targets that must be built before `roots` can be: the closure of `roots` over the
    graph's build order dependencies, with a reason for each.

    With `root_meets`, a requirement is first resolved as the stage will resolve it once the
    import is done: among the targets imported (`imported`, the roots and whatever the walk
    brings, each with the other specs of its directory); if none meets it and the root does, it
    is left to the root; only otherwise does it bring the checkout's best provider, with its
    directory. What is imported changes what the imported targets resolve to, so the walk is
    repeated until it brings nothing new; its last round gives the targets, and each target's
    reason is the requirement that brought its directory (a later round may send other
    requirements to it that the root alone would have met)."""
    roots = tuple(roots)
    if root_meets is None:
        walked = _walk(graph, roots, graph.resolve, lambda _: True)
        first = walked.first_needs(roots)
        return BuildRequiresClosure(tuple(first), tuple(first.values()), walked.ties, walked.unreadable)
    siblings: dict[str, list[Address]] = {}
    for address in (*graph.infos, *graph.unreadable):
        siblings.setdefault(address.spec_path, []).append(address)

    def with_siblings(addresses: Iterable[Address]) -> set[Address]:
        return {s for a in addresses for s in siblings.get(a.spec_path, [a])}

    selected = with_siblings((*imported, *roots))
    brought: dict[str, Need] = {}  # directory -> the need that brought it
    while True:
        chosen = RpmPackageGraph.create(
            {a: graph.infos[a] for a in sorted(selected) if a in graph.infos}, {}, by_version=graph.by_version,
            toolchain_packages=graph.toolchain_packages,
        )

        def resolve(requirement: RpmDependency, requirer: Address) -> Provider | None:
            found = chosen.resolve(requirement, requirer)
            if found is not None or root_meets(requirement):
                return found
            return graph.resolve(requirement, requirer)

        # A target brought this round is entered the next, once it is among the imported.
        walked = _walk(graph, roots, resolve, lambda a: a in selected)
        for need in walked.needs:
            if need.provider.address not in selected:
                brought.setdefault(need.provider.address.spec_path, need)
        new = with_siblings(n.provider.address for n in walked.needs) - selected
        if not new:
            first = walked.first_needs(roots)
            return BuildRequiresClosure(
                tuple(first),
                tuple(brought.get(t.spec_path, need) for t, need in first.items()),
                walked.ties,
                walked.unreadable,
            )
        selected |= new


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
