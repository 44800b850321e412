"""A toolchain stage depends on its `base` and on the packages it builds.

With rpm_package's inferred dependency on the stage it is built in (rules/rpm/dependency_inference.py),
this puts the whole toolchain in Pants' graph: bootstrap <- official <- every package built in it.
"""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import FieldSet, InferDependenciesRequest, InferredDependencies
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.toolchain.target_types import ToolchainDependenciesField
from rules.toolchain.util_rules.stages import ToolchainStage, ToolchainStageRequest


@dataclass(frozen=True)
class ToolchainInferenceFieldSet(FieldSet):
    required_fields = (ToolchainDependenciesField,)

    dependencies: ToolchainDependenciesField


class InferToolchainDependencies(InferDependenciesRequest):
    infer_from = ToolchainInferenceFieldSet


@rule(desc="Infer toolchain_stage dependencies from base and packages", level=LogLevel.DEBUG)
async def infer_toolchain_dependencies(request: InferToolchainDependencies) -> InferredDependencies:
    stage = await Get(
        ToolchainStage, ToolchainStageRequest(request.field_set.address, "a toolchain_stage")
    )
    return InferredDependencies([*((stage.base,) if stage.base else ()), *stage.packages])


def rules():
    return [*collect_rules(), UnionRule(InferDependenciesRequest, InferToolchainDependencies)]
