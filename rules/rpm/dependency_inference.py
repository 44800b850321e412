"""BuildRequires and Requires become dependencies on the targets that provide them."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import FieldSet, InferDependenciesRequest, InferredDependencies
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.rpm.target_types import RpmSourcesField
from rules.rpm.util_rules.package_graph import RpmPackageGraph


@dataclass(frozen=True)
class RpmInferenceFieldSet(FieldSet):
    required_fields = (RpmSourcesField,)

    sources: RpmSourcesField


class InferRpmDependencies(InferDependenciesRequest):
    infer_from = RpmInferenceFieldSet


@rule(desc="Infer rpm_package dependencies from BuildRequires and Requires", level=LogLevel.DEBUG)
async def infer_rpm_dependencies(request: InferRpmDependencies) -> InferredDependencies:
    graph = await Get(RpmPackageGraph)
    return InferredDependencies(graph.dependencies(request.field_set.address))


def rules():
    return [*collect_rules(), UnionRule(InferDependenciesRequest, InferRpmDependencies)]
