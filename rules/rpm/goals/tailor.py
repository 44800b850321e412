"""`./pants tailor` adds `rpm_package()` for every directory with a spec no target owns."""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

from pants.core.goals.tailor import (
    AllOwnedSources,
    PutativeTarget,
    PutativeTargets,
    PutativeTargetsRequest,
)
from pants.engine.fs import PathGlobs, Paths
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.rpm.target_types import RpmPackageTarget


@dataclass(frozen=True)
class PutativeRpmTargetsRequest(PutativeTargetsRequest):
    pass


@rule(level=LogLevel.DEBUG, desc="Find spec files without an rpm_package")
async def find_putative_rpm_targets(
    request: PutativeRpmTargetsRequest, owned: AllOwnedSources
) -> PutativeTargets:
    specs = await Get(Paths, PathGlobs, request.path_globs("*.spec"))
    by_dir: dict[str, list[str]] = defaultdict(list)
    for spec in specs.files:
        if spec not in owned:
            by_dir[os.path.dirname(spec)].append(os.path.basename(spec))
    putative = []
    for directory, names in sorted(by_dir.items()):
        if len(names) == 1:
            putative.append(
                PutativeTarget.for_target_type(
                    RpmPackageTarget, path=directory, name=None, triggering_sources=names
                )
            )
            continue
        # Several specs in one directory: one target per spec, each owning just its spec
        # (add its patches to `sources` by hand).
        for name in sorted(names):
            putative.append(
                PutativeTarget.for_target_type(
                    RpmPackageTarget,
                    path=directory,
                    name=name[: -len(".spec")],
                    triggering_sources=[name],
                    kwargs={"spec": name, "sources": (name,)},
                )
            )
    return PutativeTargets(putative)


def rules():
    return [*collect_rules(), UnionRule(PutativeTargetsRequest, PutativeRpmTargetsRequest)]
