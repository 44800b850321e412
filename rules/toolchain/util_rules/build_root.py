"""Which root each rpm_package is built in.

- A package listed in a toolchain stage's `packages`: the stage's base root, plus the RPMs of the
  packages before it in the list (the Azure Linux toolkit's serial toolchain build).
- Any other package: the root of its `toolchain` (default `[rpm].toolchain`), the worker root.
"""
from __future__ import annotations

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.fs import EMPTY_DIGEST, Digest, MergeDigests
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.target_types import RpmToolchainField
from rules.sandbox.root import BuildRoot, BuildRootRequest
from rules.toolchain.util_rules.roots import (
    StagePackage,
    StagePackageRequest,
    StageRoot,
    StageRootRequest,
)
from rules.toolchain.util_rules.stages import (
    AllToolchainStages,
    ToolchainStage,
    ToolchainStageError,
    ToolchainStageRequest,
)


async def _stage_packages(address: Address) -> frozenset[Address]:
    """Every package built by `address` and the stages below it: all are in its root."""
    packages: set[Address] = set()
    current: Address | None = address
    while current is not None:
        stage = await Get(ToolchainStage, ToolchainStageRequest(current, "a toolchain root"))
        packages.update(stage.packages)
        current = stage.base
    return frozenset(packages)


@rule(desc="Choose the build root of a package", level=LogLevel.DEBUG)
async def build_root(request: BuildRootRequest, rpm: RpmSubsystem) -> BuildRoot:
    stages = await Get(AllToolchainStages)
    owner = stages.stage_listing(request.address)
    if owner is not None:
        assert owner.base is not None  # a stage with a seed has no packages (target validation)
        earlier = owner.packages[: owner.index_of(request.address)]
        base = await Get(StageRoot, StageRootRequest(owner.base))
        before = await MultiGet(
            Get(StagePackage, StagePackageRequest(owner.address, a)) for a in earlier
        )
        return BuildRoot(
            archive=base.archive,
            description=f"the root of {owner.base} with the {len(earlier)} packages before it in {owner.address}",
            preinstalled=await Get(Digest, MergeDigests(b.digest for b in before)),
            in_root=frozenset(earlier) | await _stage_packages(owner.base),
            stage=owner.address,
        )

    wrapped = await Get(
        WrappedTarget, WrappedTargetRequest(request.address, description_of_origin="keel build root")
    )
    toolchain = wrapped.target[RpmToolchainField].value or rpm.toolchain
    if not toolchain:
        raise ToolchainStageError(
            f"{request.address} has no toolchain to build in: set its `toolchain` field or "
            "`[rpm].toolchain` in pants.toml to a toolchain_stage, e.g. `//toolchain:official`."
        )
    addresses = await Get(
        Addresses,
        UnparsedAddressInputs(
            [toolchain],
            owning_address=request.address,
            description_of_origin=f"the toolchain of {request.address}",
        ),
    )
    root = await Get(StageRoot, StageRootRequest(addresses[0]))
    return BuildRoot(
        archive=root.archive,
        description=f"the root of {addresses[0]}",
        preinstalled=EMPTY_DIGEST,
        in_root=await _stage_packages(addresses[0]),
        stage=None,
    )


def rules():
    return collect_rules()
