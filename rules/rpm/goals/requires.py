"""`./pants rpm-requires`: how each BuildRequires and Requires of a spec is satisfied."""
from __future__ import annotations

from pants.engine.console import Console
from pants.engine.goal import Goal, GoalSubsystem, Outputting
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule
from pants.engine.target import Targets

from rules.rpm.target_types import RpmPackageTarget
from rules.rpm.util_rules.package_graph import (
    RpmPackageGraph,
    TargetPackageGraphRequest,
    unreadable_note,
)
from rules.rpm.util_rules.spec_info import RpmDependency
from rules.sandbox.root import SpecRoot, SpecRootRequest
from rules.toolchain.util_rules.stand_ins import IN_SEED

NOTHING = "NOTHING provides it"


class RpmRequiresSubsystem(Outputting, GoalSubsystem):
    name = "rpm-requires"
    help = (
        "List every BuildRequires and Requires of the given rpm_package targets with what "
        "satisfies it: a package of another target, the root of the toolchain it is built in "
        f"(a capability its seed provides or a package installed in it), or `{NOTHING}`."
    )


class RpmRequires(Goal):
    subsystem_cls = RpmRequiresSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


def satisfied_by(graph: RpmPackageGraph, root: SpecRoot, address, requirement: RpmDependency) -> str:
    """What meets the requirement, and in a stage that chooses by version, the target packages
    that provide its name but were passed over (older, or outside its version conditions)."""
    choice = graph.choose(requirement, f"{graph.infos[address].spec_path} (target {address})")
    passed = (
        " (passed over: " + ", ".join(o.describe(graph) for o in choice.passed_over) + ")"
        if choice.passed_over
        else ""
    )
    if choice.chosen is not None:
        return f"{choice.chosen}{passed}"
    if choice.stand_in is not None:
        # Locked into the seed by `toolchain-lock` (the stage's `stand_ins`).
        if choice.stand_in == IN_SEED:
            return f"{root.description}: its seed stands in{passed}"
        return f"{root.description}: Debian stand-in {choice.stand_in}{passed}"
    provider = graph.by_convention(requirement, address)
    if provider is not None:
        return f"{provider} (by naming convention){passed}"
    if requirement.name in root.capabilities:
        return root.description + passed
    return NOTHING + passed


@goal_rule
async def rpm_requires(
    console: Console, subsystem: RpmRequiresSubsystem, targets: Targets
) -> RpmRequires:
    packages = [t for t in targets if isinstance(t, RpmPackageTarget)]
    graphs = await MultiGet(
        Get(RpmPackageGraph, TargetPackageGraphRequest(t.address)) for t in packages
    )
    roots = await MultiGet(Get(SpecRoot, SpecRootRequest(t.address)) for t in packages)
    unmet = 0
    unreadable: set = set()
    with subsystem.output(console) as write_stdout:
        for target, graph, root in zip(packages, graphs, roots):
            info = graph.info(target.address)
            write_stdout(f"{target.address} ({info.spec_path})\n")
            sections = [("BuildRequires", info.build_requires)] + [
                (f"Requires of {pkg.name}", pkg.requires) for pkg in info.packages
            ]
            for title, requirements in sections:
                for requirement in requirements:
                    answer = satisfied_by(graph, root, target.address, requirement)
                    unmet += answer.startswith(NOTHING) and title == "BuildRequires"
                    if answer.startswith(NOTHING):
                        unreadable.update(graph.unreadable)
                    write_stdout(f"  {title}: {requirement} -> {answer}\n")
    if unmet:
        console.print_stderr(
            f"{unmet} BuildRequires met by nothing: add specs that provide them, or add them to "
            "the toolchain (its seed's `seed_packages`, or `provides` for a name the seed has "
            "under another)." + unreadable_note(unreadable)
        )
    elif unreadable:
        console.print_stderr(f"Some Requires are met by nothing.{unreadable_note(unreadable)}")
    return RpmRequires(exit_code=0)


def rules():
    return collect_rules()
