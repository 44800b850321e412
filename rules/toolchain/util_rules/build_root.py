"""Which root each rpm_package is read and built in.

- A package listed in a toolchain stage's `packages`: the stage's base root, plus the RPMs of the
  packages before it in the list (the Azure Linux toolkit's serial toolchain build).
- Any other package: the root of its `toolchain` (default `[rpm].toolchain`), the worker root.

Specs are read (rpmspec) in the same root, without the earlier packages of a stage: reading a
stage's specs must not wait for its builds.
"""
from __future__ import annotations

from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, Digest, MergeDigests
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from rules.sandbox.root import BuildRoot, BuildRootRequest, SpecRoot, SpecRootRequest
from rules.toolchain.util_rules.roots import (
    StagePackage,
    StagePackageRequest,
    StageRoot,
    StageRootRequest,
)
from rules.toolchain.util_rules.stages import (
    AllToolchainStages,
    TargetStage,
    TargetStageRequest,
    stage_build_env,
    stage_defines,
)


def _stage_packages(stages: AllToolchainStages, address: Address) -> frozenset[Address]:
    """Every package built by `address` and the stages below it: all are in its root."""
    return frozenset(a for stage in stages.chain(address) for a in stage.packages)


async def _target_root(address: Address) -> tuple[AllToolchainStages, TargetStage, StageRoot]:
    """The stages, the stage the package belongs to, and the root it is read and built in: the
    stage's own for a package built in it, the stage's base for one of its `packages`."""
    stages, target_stage = await MultiGet(
        Get(AllToolchainStages), Get(TargetStage, TargetStageRequest(address))
    )
    return stages, target_stage, await Get(StageRoot, StageRootRequest(target_stage.root_stage))


@rule(desc="Choose the root a spec is read in", level=LogLevel.DEBUG)
async def spec_root(request: SpecRootRequest) -> SpecRoot:
    stages, target_stage, root = await _target_root(request.address)
    return SpecRoot(
        archive=root.archive,
        description=f"the root of {root.address}",
        defines=stage_defines(stages, target_stage.stage),
        capabilities=root.capabilities,
        env=stage_build_env(stages, root.address),
    )


@rule(desc="Choose the build root of a package", level=LogLevel.DEBUG)
async def build_root(request: BuildRootRequest) -> BuildRoot:
    stages, target_stage, root = await _target_root(request.address)
    env = stage_build_env(stages, root.address)
    if not target_stage.listed:
        return BuildRoot(
            archive=root.archive,
            description=f"the root of {root.address}",
            preinstalled=EMPTY_DIGEST,
            in_root=_stage_packages(stages, root.address),
            stage=None,
            run_check=stages.get(target_stage.stage).run_check,
            env=env,
        )
    owner = stages.get(target_stage.stage)
    earlier = owner.packages[: owner.index_of(request.address)]
    before = await MultiGet(
        Get(StagePackage, StagePackageRequest(owner.address, a)) for a in earlier
    )
    return BuildRoot(
        archive=root.archive,
        description=f"the root of {root.address} with the {len(earlier)} packages before it in {owner.address}",
        preinstalled=await Get(Digest, MergeDigests(b.digest for b in before)),
        in_root=frozenset(earlier) | _stage_packages(stages, root.address),
        stage=owner.address,
        run_check=owner.run_check,
        env=env,
    )


def rules():
    return collect_rules()
