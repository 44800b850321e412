"""toolchain_stage targets, resolved: base stage and ordered packages as addresses."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.collection import Collection
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import AllTargets, Target, WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from rules.rpm.target_types import RpmSourcesField
from rules.toolchain.target_types import (
    ToolchainBaseField,
    ToolchainPackagesField,
    ToolchainProvidesField,
    ToolchainSeedField,
)


class ToolchainStageError(Exception):
    pass


@dataclass(frozen=True)
class ToolchainStage:
    address: Address
    base: Address | None  # None: a bootstrap stage, made from its seed
    packages: tuple[Address, ...]  # built in this order
    provides: tuple[str, ...]

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


def rules():
    return collect_rules()
