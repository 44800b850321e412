"""toolchain_stage targets, resolved: base stage and ordered packages as addresses; which stage
each rpm_package belongs to.

Every rpm_package belongs to one stage:
- a package listed in a stage's `packages` is *built by* that stage (in its base root);
- any other package is *built in* the stage its `toolchain` field (default `[rpm].toolchain`)
  names: that stage's root is its worker root.
A stage's packages and the packages built in it form one package namespace (its *universe*):
BuildRequires resolve within it, so two distributions in one workspace (keel's own specs and
imported Azure Linux ones, each with its own toolchain) never pick each other's packages.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.collection import Collection
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import AllTargets, Target, WrappedTarget, WrappedTargetRequest
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.target_types import RpmSourcesField, RpmToolchainField
from rules.toolchain.target_types import (
    ToolchainBaseField,
    ToolchainBinShField,
    ToolchainBuildEnvField,
    ToolchainDefinesField,
    ToolchainPackagesField,
    ToolchainProviderChoiceField,
    ToolchainProvidesField,
    ToolchainRemoveFilesField,
    ToolchainRootFilesField,
    ToolchainRpmPlatformField,
    ToolchainRunCheckField,
    ToolchainSeedField,
    ToolchainToolchainPackagesField,
    ToolchainStandInsField,
)


class ToolchainStageError(Exception):
    pass


@dataclass(frozen=True)
class ToolchainStage:
    address: Address
    base: Address | None  # None: a bootstrap stage, made from its seed
    packages: tuple[Address, ...]  # built in this order
    provides: tuple[str, ...]
    defines: FrozenDict[str, str]  # this stage's own `defines` (see stage_defines for the chain)
    build_env: FrozenDict[str, str]
    run_check: bool
    rpm_platform: FrozenDict[str, str]
    bin_sh: str | None
    remove_files: tuple[str, ...]
    root_files: FrozenDict[str, str]
    # What several targets providing one name resolve to (ToolchainProviderChoiceField).
    provider_choice: str = "unique"
    # Package names the root stands in for (ToolchainToolchainPackagesField).
    toolchain_packages: tuple[str, ...] = ()
    # `toolchain-lock` adds Debian stand-ins to its seed (ToolchainStandInsField).
    stand_ins: bool = False

    def index_of(self, address: Address) -> int | None:
        return self.packages.index(address) if address in self.packages else None


@dataclass(frozen=True)
class ToolchainStageRequest:
    address: Address
    description_of_origin: str


class AllToolchainStages(Collection[ToolchainStage]):
    def stage_listing(self, address: Address) -> ToolchainStage | None:
        """The stage whose `packages` list `address`, if any."""
        owners = [s for s in self if address in s.packages]
        if len(owners) > 1:
            raise ToolchainStageError(
                f"{address} is listed in the `packages` of several toolchain stages "
                f"({', '.join(str(s.address) for s in owners)}); a package belongs to one stage."
            )
        return owners[0] if owners else None

    def get(self, address: Address) -> ToolchainStage:
        for stage in self:
            if stage.address == address:
                return stage
        raise ToolchainStageError(
            f"{address} is not a toolchain_stage (named as a `toolchain` or `base`); "
            "`./pants list --filter-target-type=toolchain_stage ::` shows the stages."
        )

    def chain(self, address: Address) -> tuple[ToolchainStage, ...]:
        """The stage and the stages below it, bottom (bootstrap) first."""
        stages: list[ToolchainStage] = []
        current: Address | None = address
        while current is not None:
            stage = self.get(current)
            stages.insert(0, stage)
            current = stage.base
        return tuple(stages)


async def _resolve_stage(target: Target) -> ToolchainStage:
    address = target.address
    packages_field = target[ToolchainPackagesField]
    origin = f"the `packages` of {address}"
    # One by one, to keep the order the user wrote.
    resolved = await MultiGet(
        Get(Addresses, UnparsedAddressInputs([raw], owning_address=address, description_of_origin=origin))
        for raw in (packages_field.value or ())
    )
    packages = tuple(a for addresses in resolved for a in addresses)
    targets = await MultiGet(
        Get(WrappedTarget, WrappedTargetRequest(a, description_of_origin=origin)) for a in packages
    )
    not_rpm = [str(w.target.address) for w in targets if not w.target.has_field(RpmSourcesField)]
    if not_rpm:
        raise ToolchainStageError(
            f"The `packages` of {address} must be rpm_package targets; these are not: "
            f"{', '.join(not_rpm)}."
        )
    base = None
    if target[ToolchainBaseField].value:
        bases = await Get(
            Addresses,
            UnparsedAddressInputs(
                [target[ToolchainBaseField].value],
                owning_address=address,
                description_of_origin=f"the `base` of {address}",
            ),
        )
        base = bases[0]
    return ToolchainStage(
        address=address,
        base=base,
        packages=packages,
        provides=tuple(target[ToolchainProvidesField].value or ()),
        defines=FrozenDict(target[ToolchainDefinesField].value or {}),
        build_env=FrozenDict(target[ToolchainBuildEnvField].value or {}),
        run_check=target[ToolchainRunCheckField].value,
        rpm_platform=FrozenDict(target[ToolchainRpmPlatformField].value or {}),
        bin_sh=target[ToolchainBinShField].value,
        remove_files=tuple(target[ToolchainRemoveFilesField].value or ()),
        root_files=FrozenDict(target[ToolchainRootFilesField].value or {}),
        provider_choice=target[ToolchainProviderChoiceField].value,
        toolchain_packages=tuple(target[ToolchainToolchainPackagesField].value or ()),
        stand_ins=target[ToolchainStandInsField].value,
    )


@rule(desc="Resolve a toolchain stage", level=LogLevel.DEBUG)
async def resolve_stage(request: ToolchainStageRequest) -> ToolchainStage:
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(request.address, description_of_origin=request.description_of_origin),
    )
    if not wrapped.target.has_field(ToolchainSeedField):
        raise ToolchainStageError(
            f"{request.address} ({request.description_of_origin}) is a "
            f"{wrapped.target.alias}, not a toolchain_stage."
        )
    return await _resolve_stage(wrapped.target)


@rule(desc="Find toolchain stages", level=LogLevel.DEBUG)
async def all_toolchain_stages(targets: AllTargets) -> AllToolchainStages:
    stages = await MultiGet(
        Get(ToolchainStage, ToolchainStageRequest(t.address, "a toolchain_stage"))
        for t in targets
        if t.has_field(ToolchainSeedField)
    )
    return AllToolchainStages(stages)


def stage_defines(stages: AllToolchainStages, address: Address) -> tuple[tuple[str, str], ...]:
    """The `defines` of a stage and the stages below it; the upper stage wins."""
    merged: dict[str, str] = {}
    for stage in stages.chain(address):
        merged.update(stage.defines)
    return tuple(sorted(merged.items()))


def stage_build_env(stages: AllToolchainStages, address: Address) -> FrozenDict[str, str]:
    """The `build_env` of a stage and the stages below it; the upper stage wins."""
    merged: dict[str, str] = {}
    for stage in stages.chain(address):
        merged.update(stage.build_env)
    return FrozenDict(merged)


@dataclass(frozen=True)
class TargetStageRequest:
    address: Address  # an rpm_package


@dataclass(frozen=True)
class TargetStage:
    """The stage an rpm_package belongs to (see the module docstring)."""

    stage: Address
    # True: listed in the stage's `packages` (built by it, in its base root); False: built in
    # the stage's root.
    listed: bool
    # The stage whose root the package is read and built in: `stage` itself, or for a package
    # the stage lists, the stage's base.
    root_stage: Address


def _toolchain_of(target: Target, rpm: RpmSubsystem) -> UnparsedAddressInputs:
    """The `toolchain` of an rpm_package, to resolve to its address."""
    toolchain = target[RpmToolchainField].value or rpm.toolchain
    if not toolchain:
        raise ToolchainStageError(
            f"{target.address} has no toolchain to build in: set its `toolchain` field or "
            "`[rpm].toolchain` in pants.toml to a toolchain_stage, e.g. `//toolchain:official`."
        )
    return UnparsedAddressInputs(
        [toolchain],
        owning_address=target.address,
        description_of_origin=f"the toolchain of {target.address}",
    )


@rule(desc="Find the toolchain stage of a package", level=LogLevel.DEBUG)
async def target_stage(request: TargetStageRequest, rpm: RpmSubsystem) -> TargetStage:
    stages = await Get(AllToolchainStages)
    owner = stages.stage_listing(request.address)
    if owner is not None:
        assert owner.base is not None  # a stage with a seed has no packages (target validation)
        return TargetStage(owner.address, listed=True, root_stage=owner.base)
    wrapped = await Get(
        WrappedTarget, WrappedTargetRequest(request.address, description_of_origin="keel toolchain")
    )
    toolchain = await Get(Addresses, UnparsedAddressInputs, _toolchain_of(wrapped.target, rpm))
    return TargetStage(toolchain[0], listed=False, root_stage=toolchain[0])


@dataclass(frozen=True)
class StageMembersRequest:
    stage: Address
    # Only the packages of the stage and of the stages below it (what its builds may use), not
    # the packages built in its root.
    stage_packages_only: bool


class StageMembers(Collection[Address]):
    """rpm_package targets of a stage's universe, sorted."""


@dataclass(frozen=True)
class WorkerPackages:
    """Every rpm_package not listed in a stage, by the stage it is built in."""

    by_stage: FrozenDict[Address, tuple[Address, ...]]


@rule(desc="Group rpm_package targets by toolchain", level=LogLevel.DEBUG)
async def worker_packages(all_targets: AllTargets, rpm: RpmSubsystem) -> WorkerPackages:
    stages = await Get(AllToolchainStages)
    listed = {a for s in stages for a in s.packages}
    targets = [t for t in all_targets if t.has_field(RpmSourcesField) and t.address not in listed]
    # Most targets name the same toolchain (the default, or a directory's __defaults__): resolve
    # each distinct absolute address once.
    by_value: dict[str, list[Target]] = defaultdict(list)
    relative: list[Target] = []
    for t in targets:
        value = t[RpmToolchainField].value or rpm.toolchain
        (by_value[value] if value.startswith("//") else relative).append(t)
    resolved = await MultiGet(
        Get(Addresses, UnparsedAddressInputs, _toolchain_of(t, rpm))
        for t in [*(group[0] for group in by_value.values()), *relative]
    )
    by_stage: dict[Address, list[Address]] = defaultdict(list)
    for group, stage in zip([*by_value.values(), *([t] for t in relative)], resolved):
        by_stage[stage[0]].extend(t.address for t in group)
    return WorkerPackages(FrozenDict({k: tuple(sorted(v)) for k, v in by_stage.items()}))


@rule(desc="List the packages of a toolchain stage", level=LogLevel.DEBUG)
async def stage_members(request: StageMembersRequest) -> StageMembers:
    stages = await Get(AllToolchainStages)
    members = {a for stage in stages.chain(request.stage) for a in stage.packages}
    if not request.stage_packages_only:
        workers = await Get(WorkerPackages)
        members.update(workers.by_stage.get(request.stage, ()))
    return StageMembers(sorted(members))


def rules():
    return collect_rules()
