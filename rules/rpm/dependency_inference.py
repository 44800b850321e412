"""BuildRequires and Requires become dependencies on the targets that provide them, and every
rpm_package depends on the toolchain stage whose root it is built in."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import FieldSet, InferDependenciesRequest, InferredDependencies
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.rpm.target_types import RpmSourcesField
from rules.rpm.util_rules.package_graph import RpmPackageGraph, TargetPackageGraphRequest
from rules.toolchain.util_rules.stages import TargetStage, TargetStageRequest


@dataclass(frozen=True)
class RpmInferenceFieldSet(FieldSet):
    required_fields = (RpmSourcesField,)

    sources: RpmSourcesField


class InferRpmDependencies(InferDependenciesRequest):
    infer_from = RpmInferenceFieldSet


@rule(desc="Infer rpm_package dependencies from BuildRequires and Requires", level=LogLevel.DEBUG)
async def infer_rpm_dependencies(request: InferRpmDependencies) -> InferredDependencies:
    address = request.field_set.address
    stage = await Get(TargetStage, TargetStageRequest(address))
    graph = await Get(RpmPackageGraph, TargetPackageGraphRequest(address))
    if address in graph.unreadable:
        # Building it gives the error (the graph has warned); listing dependencies goes on.
        return InferredDependencies([stage.root_stage])
    return InferredDependencies([stage.root_stage, *graph.dependencies(address)])


def rules():
    return [*collect_rules(), UnionRule(InferDependenciesRequest, InferRpmDependencies)]
