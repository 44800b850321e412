"""Which requirements of the packages built on a seed want a Debian stand-in (for
`toolchain-lock`, see rules/toolchain/util_rules/stand_ins.py).

A target *can build* when every source it pins can be had (what `rpm-compat` checks before it
builds). Starting from every such target, its BuildRequires and then the Requires of every
target package they bring into its build root are resolved in the graph as it would be without
stand-ins. A requirement wants one when it goes to a target that cannot build (its build would
block, as `rpm-compat` reports it; if the seed provides it, the stand-in is the seed as it is),
or to no target and the root does not provide it (a `missing BuildRequires`). A requirement an
earlier lock stood in for with a Debian package stays one as long as a buildable package still
needs it and no buildable target meets it: the root provides it then only because of that
stand-in.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

from pants.engine.addresses import Address
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.rpm.util_rules.build import PackageSourcesRequest
from rules.rpm.util_rules.package_graph import Provider, RpmPackageGraph, RpmPackageGraphRequest
from rules.rpm.util_rules.spec_info import RpmDependency
from rules.sources.fetch import SourcesAvailability
from rules.toolchain.util_rules.roots import StageRoot, StageRootRequest
from rules.toolchain.util_rules.seed import SeedLock, SeedLockRequest
from rules.toolchain.util_rules.stages import AllToolchainStages
from rules.toolchain.util_rules.stand_ins import (
    IN_SEED,
    StandInNeed,
    StandInNeeds,
    StandInNeedsRequest,
)


def _considered(requirement: RpmDependency) -> bool:
    # rpmlib() features are rpm's own; a rich dependency `(a or b)` is rpm's to weigh.
    return not (requirement.is_rpmlib or requirement.name.startswith("("))


def stand_in_needs(
    graph: RpmPackageGraph,
    buildable: Iterable[Address],
    root_provides: Callable[[str], bool],
) -> tuple[StandInNeed, ...]:
    """The requirements that want a stand-in (see the module docstring), sorted by name.
    `graph` is read without its stand-ins; `root_provides` answers for a requirement name."""
    graph = dataclasses.replace(graph, stand_ins=type(graph.stand_ins)())
    can_build = frozenset(a for a in buildable if a in graph.infos)
    needed_by: dict[str, set[Address]] = defaultdict(set)
    unbuildable: dict[str, set[Address]] = defaultdict(set)
    for address in sorted(can_build):
        pending = [(r, address) for r in graph.infos[address].build_requires]
        installed: set[Provider] = set()
        while pending:
            requirement, requirer = pending.pop()
            if not _considered(requirement):
                continue
            provider = graph.resolve(requirement, requirer)
            if provider is None:
                if not root_provides(requirement.name):
                    needed_by[requirement.name].add(address)
            elif provider.address not in can_build:
                needed_by[requirement.name].add(address)
                unbuildable[requirement.name].add(provider.address)
            elif provider not in installed and provider.address != address:
                installed.add(provider)
                info = graph.infos[provider.address].package(provider.package)
                pending.extend((r, provider.address) for r in info.requires)
    return tuple(
        StandInNeed(
            name,
            tuple(sorted(needed_by[name])),
            tuple(sorted(unbuildable.get(name, ()))),
            in_root=root_provides(name),
        )
        for name in sorted(needed_by)
    )


@dataclass(frozen=True)
class PackageStandInNeedsRequest(StandInNeedsRequest):
    pass


@rule(desc="Find the requirements a seed's stand-ins are for", level=LogLevel.DEBUG)
async def package_stand_in_needs(request: PackageStandInNeedsRequest) -> StandInNeeds:
    stages = await Get(AllToolchainStages)
    # The seed's stage and every stage built on it: each root has packages built in it.
    chain = [s.address for s in stages if stages.chain(s.address)[0].address == request.seed_stage]
    lock = await Get(SeedLock, SeedLockRequest(request.seed_stage))
    every = await MultiGet(Get(RpmPackageGraph, RpmPackageGraphRequest(s, False)) for s in chain)
    # Only the roots packages are built in (a seed with nothing on it needs no root made).
    used = [(s, g) for s, g in zip(chain, every) if g.infos]
    graphs = tuple(g for _, g in used)
    roots = await MultiGet(Get(StageRoot, StageRootRequest(s)) for s, _ in used)
    members = sorted({a for graph in graphs for a in graph.infos})
    availability = await MultiGet(Get(SourcesAvailability, PackageSourcesRequest(a)) for a in members)
    buildable = {a for a, found in zip(members, availability) if found.available}
    merged: dict[str, tuple[set[Address], set[Address], bool]] = {}
    for graph, root in zip(graphs, roots):
        # The root provides what an earlier lock stood in for with a package only because of it.
        def provides(name: str, root: StageRoot = root) -> bool:
            return name in root.capabilities and lock.stand_ins.get(name, IN_SEED) == IN_SEED

        for need in stand_in_needs(graph, buildable, provides):
            by, unbuildable, in_root = merged.setdefault(need.requirement, (set(), set(), need.in_root))
            by.update(need.needed_by)
            unbuildable.update(need.unbuildable)
    return StandInNeeds(
        StandInNeed(name, tuple(sorted(by)), tuple(sorted(unbuildable)), in_root)
        for name, (by, unbuildable, in_root) in sorted(merged.items())
    )


def rules():
    return (*collect_rules(), UnionRule(StandInNeedsRequest, PackageStandInNeedsRequest))
