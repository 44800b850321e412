"""The package graph: which rpm_package provides what every spec requires.

One graph per toolchain stage: the rpmspec queries of the stage's packages and of the packages
built in its root (its *universe*, see rules/toolchain/util_rules/stages.py). A requirement is
matched by name (capability name, ignoring its version; rpmbuild's own check still compares
versions when it runs). What no target provides is left to the root the package is built in.

Two targets providing one name is an error in keel's own stages: a monorepo names what it
means. A stage may instead choose as Azure Linux's toolkit does (`provider_choice =
"highest-version"`, which `azl-import` writes): among the targets whose Provides meet the
requirement's version conditions (`BuildRequires: golang >= 1.24`), the one with the highest
version; for an unversioned requirement, the highest of all. Equal versions from two targets
stay an error. A stage's `toolchain_packages` (Azure Linux's toolchain manifest) are not
offered at all: its root stands in for the distribution's toolchain, which the toolkit builds
every other spec against (a name the root lacks is then met by nothing, as a toolchain RPM
that is not there; measured, that builds more of Azure Linux than sending it to a spec that has
no sources here). The requirements the stage's seed has Debian stand-ins for (its lock's
`stand_ins`, which `toolchain-lock` derives: requirements that only a target without sources,
or nothing, would meet) go to the root too. The target that loses is still a target and still
builds when asked.
Every reader
of the graph (inference, build closures, images, rpm-requires, rpm-graph and so the editor)
goes through `choose`.

A spec rpmspec cannot read is kept apart (`unreadable`): building it, or reading its
dependencies, gives its error, and the rest of the graph stays usable. In a workspace of thousands
of imported specs one broken spec must not stop the others: the graph warns once, naming it, and
a requirement nothing meets says which unreadable specs might have provided it.
"""
from __future__ import annotations

from collections import defaultdict
import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

import logging

from pants.engine.addresses import Address, Addresses
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    DependenciesRequest,
    ExplicitlyProvidedDependencies,
    UnexpandedTargets,
)
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.rpm.target_types import RpmDependenciesField
from rules.rpm.util_rules.naming import conventional_packages
from rules.rpm.util_rules.spec_info import (
    InvalidSpecError,
    RpmDependency,
    RpmSpecInfo,
    RpmSpecInfoRequest,
    SpecRead,
)
from rules.rpm.util_rules.versions import Evr, evr_order, overlaps
from rules.toolchain.util_rules.seed import SeedLock, SeedLockRequest
from rules.toolchain.util_rules.stages import (
    AllToolchainStages,
    StageMembers,
    StageMembersRequest,
    TargetStage,
    TargetStageRequest,
)


logger = logging.getLogger(__name__)

# How many unreadable targets a message lists by name before it says "and N more".
_LISTED = 5


def unreadable_note(unreadable: Iterable[Address]) -> str:
    """The sentence an error about an unmet requirement ends with when the graph left specs out:
    one of them might have been its provider. Empty when every spec was read."""
    names = sorted(unreadable)
    if not names:
        return ""
    listed = ", ".join(str(a) for a in names[:_LISTED])
    if len(names) > _LISTED:
        listed += f" and {len(names) - _LISTED} more"
    return (
        f" The package graph leaves out {len(names)} rpm_package target(s) whose spec cannot be "
        f"read, and one of them might have provided it: {listed} (`./pants package TARGET` "
        "shows why each one cannot be read)."
    )


class AmbiguousProviderError(Exception):
    pass


class BuildCycleError(Exception):
    pass


@dataclass(frozen=True)
class Provider:
    """A binary package built by an rpm_package target."""

    address: Address
    package: str

    def __str__(self) -> str:
        return f"{self.package} ({self.address})"


@dataclass(frozen=True)
class Offer:
    """One Provides of a target's binary package: `golang = 1.23.4-1.azl3` of
    azl/SPECS/golang:golang-1.23's package golang."""

    provider: Provider
    provides: RpmDependency

    def evr(self, graph: RpmPackageGraph) -> Evr:
        """The version it offers: its own, or for an unversioned Provides its package's."""
        if self.provides.version:
            return Evr.parse(self.provides.version)
        pkg = graph.infos[self.provider.address].package(self.provider.package)
        return Evr(pkg.epoch, pkg.version, pkg.release)

    def describe(self, graph: RpmPackageGraph) -> str:
        return f"{self.provider.package} {self.evr(graph)} ({self.provider.address})"


@dataclass(frozen=True)
class ProviderChoice:
    """What a requirement resolves to among the targets, and the target packages that provide
    its name but were passed over (an older version, or one outside its version conditions)."""

    chosen: Provider | None
    passed_over: tuple[Offer, ...] = ()
    # The Debian package of the seed that stands in for the requirement (chosen is then None).
    stand_in: str | None = None


T = TypeVar("T")


def closure(roots: Iterable[T], successors: Callable[[T], Iterable[T]]) -> tuple[T, ...]:
    """`roots` and everything `successors` reaches from them, each once, in the order first
    reached. The one walk behind build closures, install closures and an image's candidate
    targets and RPM files: Requires cycles are normal in a distribution and end the walk, not it."""
    seen: dict[T, None] = {}
    pending = list(roots)
    while pending:
        node = pending.pop(0)
        if node in seen:
            continue
        seen[node] = None
        pending.extend(s for s in successors(node) if s not in seen)
    return tuple(seen)


@dataclass(frozen=True)
class BuildClosure:
    """What to install for a build: binary packages of targets (the rest is the root's)."""

    packages: tuple[Provider, ...]


@dataclass(frozen=True)
class RpmPackageGraphRequest:
    stage: Address  # the toolchain stage whose universe the graph covers
    # Only the packages of the stage and of the stages below it: what the stage's own builds
    # may use (the packages built in its root need its root to be read).
    stage_packages_only: bool = False


@dataclass(frozen=True)
class TargetPackageGraphRequest:
    """The graph an rpm_package's requirements resolve in: its stage's (see the docstring of
    rules/toolchain/util_rules/stages.py)."""

    address: Address


@dataclass(frozen=True)
class RpmPackageGraph:
    infos: FrozenDict[Address, RpmSpecInfo]
    explicit: FrozenDict[Address, tuple[Address, ...]]
    providers: FrozenDict[str, tuple[Provider, ...]]
    unreadable: FrozenDict[Address, str] = FrozenDict()  # target -> rpmspec's error
    # binary package name -> its target (with `by_version`, the one with the highest version)
    builders: FrozenDict[str, Address] = FrozenDict()
    # capability -> every Provides of it, for choosing by version
    offers: FrozenDict[str, tuple[Offer, ...]] = FrozenDict()
    # The stage's `provider_choice` is "highest-version" (see the module docstring).
    by_version: bool = False
    # The stage's `toolchain_packages`: names no target provides here (the root does).
    toolchain_packages: frozenset = frozenset()
    # Requirement name -> the Debian package of the seed that stands in for it (the seed lock's
    # `stand_ins`): left to the root, whatever targets provide it.
    stand_ins: FrozenDict[str, str] = FrozenDict()

    @property
    def unreadable_note(self) -> str:
        return unreadable_note(self.unreadable)

    def info(self, address: Address) -> RpmSpecInfo:
        if address in self.unreadable:
            raise InvalidSpecError(self.unreadable[address])
        return self.infos[address]

    @classmethod
    def create(
        cls,
        infos: dict[Address, RpmSpecInfo],
        explicit: dict[Address, tuple[Address, ...]],
        unreadable: dict[Address, str] | None = None,
        by_version: bool = False,
        toolchain_packages: frozenset[str] = frozenset(),
        stand_ins: dict[str, str] | None = None,
    ) -> RpmPackageGraph:
        providers: dict[str, set[Provider]] = defaultdict(set)
        offers: dict[str, list[Offer]] = defaultdict(list)
        built_by: dict[str, list[Address]] = defaultdict(list)
        for address, info in sorted(infos.items()):
            if not info.for_target_arch:
                continue  # builds nothing here (ExclusiveArch/ExcludeArch), so provides nothing
            for pkg in info.packages:
                if pkg.name in toolchain_packages:
                    continue  # the root stands in for it (the stage's `toolchain_packages`)
                built_by[pkg.name].append(address)
                provider = Provider(address, pkg.name)
                for capability in (pkg.name, *(p.name for p in pkg.provides)):
                    providers[capability].add(provider)
                if by_version:
                    # rpm gives every package `Provides: NAME = EVR`; a test's info may not.
                    own = () if any(p.name == pkg.name for p in pkg.provides) else (
                        RpmDependency(pkg.name, "=", str(Evr(pkg.epoch, pkg.version, pkg.release))),
                    )
                    for provides in (*own, *pkg.provides):
                        offers[provides.name].append(Offer(provider, provides))
        builders: dict[str, Address] = {}
        for name, addresses in built_by.items():
            if len(addresses) > 1 and not by_version:
                a, b = addresses[:2]
                raise AmbiguousProviderError(
                    f"Two rpm_package targets build the package {name}: {a} "
                    f"({infos[a].spec_path}) and {b} ({infos[b].spec_path}). Rename one "
                    "package or remove one target."
                )
            builders[name] = addresses[0]
        graph = cls(
            FrozenDict(infos),
            FrozenDict(explicit),
            FrozenDict({k: tuple(sorted(v, key=str)) for k, v in sorted(providers.items())}),
            FrozenDict(unreadable or {}),
            FrozenDict(sorted(builders.items())),
            FrozenDict({k: tuple(dict.fromkeys(v)) for k, v in sorted(offers.items())}),
            by_version,
            frozenset(toolchain_packages),
            FrozenDict(sorted((stand_ins or {}).items())),
        )
        if by_version:
            # A package name built by several targets goes to the newest of them (a tie is
            # left for `choose` to refuse where it matters).
            newest = {
                name: graph._newest([o for o in graph.offers[name] if o.provider.package == name])
                for name, addresses in built_by.items()
                if len(addresses) > 1
            }
            graph = dataclasses.replace(
                graph,
                builders=FrozenDict(
                    sorted({**builders, **{n: o[0].provider.address for n, o in newest.items()}}.items())
                ),
            )
        return graph

    def _newest(self, offers: list[Offer]) -> list[Offer]:
        """The offers of the highest version, of one target or (a tie) several."""
        order = {o: evr_order(o.evr(self)) for o in offers}
        top = max(order.values())
        return [o for o in offers if not order[o] < top]

    def choose(self, requirement: RpmDependency, origin: str) -> ProviderChoice:
        """The target package a requirement goes to (None: the root's, or nothing's), and the
        ones passed over. `origin` says who asks, for the error a tie gives."""
        stand_in = self.stand_ins.get(requirement.name)
        if stand_in is not None:
            passed_over = self.offers.get(requirement.name) or tuple(
                Offer(p, RpmDependency(requirement.name)) for p in self.providers.get(requirement.name, ())
            )
            return ProviderChoice(None, passed_over, stand_in)
        if not self.by_version:
            return ProviderChoice(self.provider_of(requirement.name, origin, str(requirement)))
        offers = self.offers.get(requirement.name, ())
        meeting = [
            o for o in offers
            if overlaps(o.provides.flags, o.provides.version, requirement.flags, requirement.version)
        ]
        if not meeting:
            return ProviderChoice(None, offers)
        best = self._newest(meeting)
        if len({o.provider.address for o in best}) > 1:
            listed = " and ".join(
                f"{o.provider.address} ({self.infos[o.provider.address].spec_path}, package "
                f"{o.provider.package}: {o.provides})"
                for o in best
            )
            raise AmbiguousProviderError(
                f"{origin}: `{requirement}` is provided at the same version by two targets: "
                f"{listed}. Their stage takes the highest version that meets a requirement, and "
                "these tie: remove one target, or require a version only one of them has."
            )
        chosen = best[0].provider
        return ProviderChoice(chosen, tuple(o for o in offers if o.provider.address != chosen.address))

    def by_convention(self, requirement: RpmDependency, requirer: Address) -> Provider | None:
        """The target package that a capability rpm generates from files (`perl(Foo::Bar)`)
        conventionally comes with (see naming.py), if another target builds one."""
        for name in conventional_packages(requirement.name):
            if self.builders.get(name, requirer) != requirer:
                return Provider(self.builders[name], name)
        return None

    def provider_of(self, capability: str, origin: str, wanted: str | None = None) -> Provider | None:
        """The one target package that provides `capability` by name (its own or a Provides),
        or None. Two targets providing it is an error, for builds and images alike: never a
        silent first pick. `origin` says who asks and `wanted` what (default: the name), for
        that error."""
        if self.by_version:
            return self.choose(RpmDependency(capability), origin).chosen
        found = self.providers.get(capability, ())
        if len({p.address for p in found}) > 1:
            listed = " and ".join(
                f"{p.address} ({self.infos[p.address].spec_path}, package {p.package})"
                for p in found
            )
            raise AmbiguousProviderError(
                f"{origin}: `{wanted or capability}` is provided by two targets: {listed}. Keep one "
                "Provides, or require a package name instead of the shared capability."
            )
        return found[0] if found else None

    def resolve(self, requirement: RpmDependency, requirer: Address) -> Provider | None:
        """The one target package that provides `requirement`, or None for the environment."""
        origin = f"{self.infos[requirer].spec_path} (target {requirer})"
        choice = self.choose(requirement, origin)
        if choice.chosen is not None or choice.stand_in is not None:
            return choice.chosen
        return self.by_convention(requirement, requirer)

    def requirements(self, address: Address) -> tuple[RpmDependency, ...]:
        """Every BuildRequires and Requires of a target's spec, in spec order."""
        info = self.info(address)
        seen: dict[RpmDependency, None] = dict.fromkeys(info.build_requires)
        for pkg in info.packages:
            seen.update(dict.fromkeys(pkg.requires))
        return tuple(seen)

    def dependencies(self, address: Address) -> tuple[Address, ...]:
        """Targets this one needs: providers of its BuildRequires and Requires."""
        found = {
            provider.address
            for requirement in self.requirements(address)
            if (provider := self.resolve(requirement, address)) is not None
        }
        found.discard(address)
        return tuple(sorted(found))

    def required_packages(self, provider: Provider) -> tuple[Provider, ...]:
        """The target packages a binary package Requires (what no target provides is left to
        the root, or reported by install_closure)."""
        requires = self.infos[provider.address].package(provider.package).requires
        return tuple(found for r in requires if (found := self.resolve(r, provider.address)) is not None)

    def build_closure(self, address: Address) -> BuildClosure:
        """Packages to install before building `address`: the providers of its BuildRequires and
        every package of its explicit dependencies, then everything those Require, transitively."""
        info = self.info(address)
        wanted = [p for r in info.build_requires if (p := self.resolve(r, address)) is not None]
        for dep in self.explicit.get(address, ()):
            wanted.extend(Provider(dep, pkg.name) for pkg in self.info(dep).packages)
        return BuildClosure(tuple(sorted(closure(wanted, self.required_packages), key=str)))

    def install_closure(
        self, roots: tuple[Provider, ...]
    ) -> tuple[tuple[Provider, ...], tuple[tuple[Provider, RpmDependency], ...]]:
        """`roots` and every package they Require, transitively, as far as targets provide them;
        and the Requires by name that no target provides. Requirements rpm generates from files
        (sonames like `libc.so.6()(64bit)`, paths, `rpmlib(...)`) and rich ones (`(a or b)`) are
        left to the RPM headers (see image_root.py)."""
        packages = closure(roots, self.required_packages)
        unresolved = tuple(
            (p, r)
            for p in packages
            for r in self.infos[p.address].package(p.package).requires
            if not (r.is_rpmlib or "(" in r.name or r.name.startswith("/"))
            and self.resolve(r, p.address) is None
        )
        return tuple(sorted(packages, key=str)), tuple(dict.fromkeys(unresolved))

    def reachable_targets(self, addresses: Iterable[Address]) -> tuple[Address, ...]:
        """`addresses` and every target they depend on, transitively, sorted."""
        return tuple(sorted(closure(addresses, self.dependencies)))

    def build_order_dependencies(self, address: Address) -> tuple[Address, ...]:
        """Targets whose RPMs must be built before this one."""
        return tuple(sorted({p.address for p in self.build_closure(address).packages}))

    def check_no_build_cycle(self, address: Address) -> None:
        """Raise BuildCycleError if building `address` would, through BuildRequires and the
        Requires of what they pull in, need `address` itself (or any other cycle it reaches)."""
        visiting: list[Address] = []
        done: set[Address] = set()

        def visit(node: Address) -> None:
            if node in done:
                return
            if node in visiting:
                cycle = visiting[visiting.index(node):] + [node]
                raise BuildCycleError(
                    "BuildRequires cycle: "
                    + " -> ".join(f"{a} ({self.infos[a].spec_path})" for a in cycle)
                    + ". Each target must be buildable from packages built before it: drop one "
                    "BuildRequires, or split the package that closes the loop."
                )
            visiting.append(node)
            for dep in self.build_order_dependencies(node):
                visit(dep)
            visiting.pop()
            done.add(node)

        visit(address)


@rule(desc="Read the rpm package graph", level=LogLevel.DEBUG)
async def rpm_package_graph(request: RpmPackageGraphRequest) -> RpmPackageGraph:
    members, stages = await MultiGet(
        Get(StageMembers, StageMembersRequest(request.stage, request.stage_packages_only)),
        Get(AllToolchainStages),
    )
    targets = await Get(UnexpandedTargets, Addresses(members))
    # A spec rpmspec cannot read is left out of the graph with its error (SpecRead, not a
    # caught exception: see spec_info.py).
    reads = await MultiGet(Get(SpecRead, RpmSpecInfoRequest(a)) for a in members)
    explicit = await MultiGet(
        Get(ExplicitlyProvidedDependencies, DependenciesRequest(t[RpmDependenciesField]))
        for t in targets
    )
    stage = stages.get(request.stage)
    # The Debian stand-ins locked into the seed at the bottom of the stage's chain, if it has them.
    seed_stage = stages.chain(request.stage)[0]
    stand_ins = (
        (await Get(SeedLock, SeedLockRequest(seed_stage.address))).stand_ins
        if seed_stage.stand_ins
        else {}
    )
    rpm_addresses = set(members)
    for address, read in zip(members, reads):
        if read.error is not None:
            # Once per graph (a rule's result is memoized): a build of anything else goes on.
            logger.warning(
                f"The package graph of {request.stage} leaves {address} out: packages that do not "
                f"need it still build, and a requirement nothing meets names it.\n{read.error}"
            )
    return RpmPackageGraph.create(
        {a: r.info for a, r in zip(members, reads) if r.info is not None},
        {
            t.address: tuple(sorted(a for a in deps.includes if a in rpm_addresses))
            for t, deps in zip(targets, explicit)
        },
        {a: r.error for a, r in zip(members, reads) if r.error is not None},
        by_version=stage.provider_choice == "highest-version",
        toolchain_packages=frozenset(stage.toolchain_packages),
        stand_ins=dict(stand_ins),
    )


@rule(desc="Read the package graph of a package's toolchain", level=LogLevel.DEBUG)
async def target_package_graph(request: TargetPackageGraphRequest) -> RpmPackageGraph:
    stage = await Get(TargetStage, TargetStageRequest(request.address))
    # A stage's own packages resolve among the stage's packages (and those below it); the
    # others among everything built in their toolchain.
    return await Get(RpmPackageGraph, RpmPackageGraphRequest(stage.stage, stage.listed))


def rules():
    return collect_rules()
