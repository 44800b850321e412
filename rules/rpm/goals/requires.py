"""`./pants rpm-requires`: how each BuildRequires and Requires of a spec is satisfied."""
from __future__ import annotations

from pants.engine.console import Console
from pants.engine.goal import Goal, GoalSubsystem, Outputting
from pants.engine.rules import Get, collect_rules, goal_rule
from pants.engine.target import Targets

from rules.rpm.target_types import RpmPackageTarget
from rules.rpm.util_rules.package_graph import RpmPackageGraph

ENVIRONMENT = "toolchain root"


class RpmRequiresSubsystem(Outputting, GoalSubsystem):
    name = "rpm-requires"
    help = (
        "List every BuildRequires and Requires of the given rpm_package targets with what "
        "satisfies it: a package of another target, or the root of the toolchain it is built in (left to it)."
    )


class RpmRequires(Goal):
    subsystem_cls = RpmRequiresSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def rpm_requires(
    console: Console, subsystem: RpmRequiresSubsystem, targets: Targets
) -> RpmRequires:
    graph = await Get(RpmPackageGraph)
    with subsystem.output(console) as write_stdout:
        for target in targets:
            if not isinstance(target, RpmPackageTarget):
                continue
            info = graph.infos[target.address]
            write_stdout(f"{target.address} ({info.spec_path})\n")
            sections = [("BuildRequires", info.build_requires)] + [
                (f"Requires of {pkg.name}", pkg.requires) for pkg in info.packages
            ]
            for title, requirements in sections:
                for requirement in requirements:
                    provider = graph.resolve(requirement, target.address)
                    satisfied_by = str(provider) if provider else ENVIRONMENT
                    write_stdout(f"  {title}: {requirement} -> {satisfied_by}\n")
    return RpmRequires(exit_code=0)


def rules():
    return collect_rules()
