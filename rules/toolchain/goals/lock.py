"""`./pants toolchain-lock` writes or refreshes the seed lock of bootstrap stages.

For a stage with `stand_ins` it also derives Debian stand-ins (see util_rules/stand_ins.py): the
requirements the packages built on the seed want one for, each looked up in the host's Debian
Contents and Packages indexes (util_rules/debian_index.py), and the packages found locked along
with `seed_packages`.
"""
from __future__ import annotations

import os
from pathlib import Path

from pants.engine.addresses import Address
from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule
from pants.engine.target import Targets
from pants.engine.unions import UnionMembership
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.toolchain.target_types import (
    ToolchainSeedField,
    ToolchainSeedPackagesField,
    ToolchainStandInPackagesField,
    ToolchainStandInsField,
)
from rules.toolchain.util_rules.debian_index import CONTENTS_PATTERN, StandIn, parse_index_output
from rules.toolchain.util_rules.seed import (
    SEED_APT_TOOLS,
    CurrentSeedLock,
    CurrentSeedLockRequest,
    SeedLock,
)
from rules.toolchain.util_rules.stand_ins import IN_SEED, StandInNeed, StandInNeeds, StandInNeedsRequest

_SEED_APT = (Path(__file__).parent.parent / "scripts" / "seed_apt.sh").read_bytes()
# How many requirements without a Debian package the goal names before it says "and N more".
_LISTED = 15


class ToolchainLockSubsystem(GoalSubsystem):
    name = "toolchain-lock"
    help = (
        "Write the seed lock file of bootstrap toolchain_stage targets: resolve their "
        "`seed_packages` (plus dependencies and essential packages) with the build host's "
        "package manager and record every package's name, version and sha256. For a stage "
        "with `stand_ins`, also find the Debian package that meets each requirement of the "
        "packages built on it that no target with sources and no seed package meets, and lock "
        "those too."
    )


class ToolchainLock(Goal):
    subsystem_cls = ToolchainLockSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


def _apt_process(tools: HostTools, host: HostSettings, script: Digest, argv: tuple[str, ...], description: str, env: dict[str, str] | None = None) -> Process:
    return Process(
        argv=(tools["bash"], "seed_apt.sh", *argv),
        input_digest=script,
        env={"PATH": host.path_env, **(env or {})},
        description=description,
        level=LogLevel.INFO,
        # The answer depends on the host's package sources today: never cache it.
        cache_scope=ProcessCacheScope.PER_SESSION,
        timeout_seconds=None,
    )


async def _find_stand_ins(
    address: Address,
    by_hand: dict[str, str],
    union_membership: UnionMembership,
    tools: HostTools,
    host: HostSettings,
    script: Digest,
) -> tuple[tuple[StandInNeed, ...], dict[str, StandIn]]:
    """The requirements wanting a stand-in and, for each the root meets or Debian has, its
    package (IN_SEED: one the seed holds already). `by_hand` (stand_in_packages) comes before
    the rules; an empty package there leaves its requirement unmet."""
    members = union_membership.get(StandInNeedsRequest)
    if not members:
        return (), {}
    needs = await MultiGet(
        Get(StandInNeeds, StandInNeedsRequest, member(address)) for member in members
    )
    wanted = tuple(need for found in needs for need in found)
    found = {
        need.requirement: StandIn(need.requirement, IN_SEED, "the seed provides it")
        for need in wanted
        if need.in_root
    }
    lookup = [need.requirement for need in wanted if not need.in_root and need.requirement not in by_hand]
    found.update(
        (need.requirement, StandIn(need.requirement, by_hand[need.requirement], "named in stand_in_packages"))
        for need in wanted
        if not need.in_root and by_hand.get(need.requirement)
    )
    if lookup:
        result = await Get(
            ProcessResult,
            Process,
            _apt_process(
                tools, host, script, ("index", CONTENTS_PATTERN),
                f"Read the Debian package indexes for the stand-ins of {address}",
            ),
        )
        index = parse_index_output(result.stdout.decode(errors="replace"))
        found.update((r, stand_in) for r in lookup if (stand_in := index.find(r)) is not None)
    return wanted, found


@goal_rule
async def toolchain_lock(
    targets: Targets,
    console: Console,
    workspace: Workspace,
    host: HostSettings,
    union_membership: UnionMembership,
) -> ToolchainLock:
    stages = [t for t in targets if t.has_field(ToolchainSeedField) and t[ToolchainSeedField].value]
    if not stages:
        console.print_stderr("No bootstrap toolchain_stage (one with a `seed`) among the targets.")
        return ToolchainLock(exit_code=1)
    tools, script = await MultiGet(
        Get(HostTools, HostToolsRequest(SEED_APT_TOOLS, host.search_path)),
        Get(Digest, CreateDigest([FileContent("seed_apt.sh", _SEED_APT, is_executable=True)])),
    )
    for target in stages:
        requested = tuple(target[ToolchainSeedPackagesField].value or ())
        wanted: tuple[StandInNeed, ...] = ()
        stand_ins: dict[str, StandIn] = {}
        again = False
        if target[ToolchainStandInsField].value:
            # Stand-ins are found with the root made from the lock: a lock that is missing or
            # stale is first written without them, and the next run adds them.
            current = await Get(CurrentSeedLock, CurrentSeedLockRequest(target.address))
            if current.lock is not None:
                by_hand = dict(target[ToolchainStandInPackagesField].value or {})
                wanted, stand_ins = await _find_stand_ins(
                    target.address, by_hand, union_membership, tools, host, script
                )
            else:
                again = True
        extra = sorted({s.package for s in stand_ins.values()} - set(requested) - {IN_SEED})
        result = await Get(
            ProcessResult,
            Process,
            _apt_process(
                tools, host, script, ("lock", *requested),
                f"Resolve the seed of {target.address} with apt"
                + (f" ({len(extra)} Debian stand-ins)" if extra else ""),
                # Each stand-in is tried alone if the whole set cannot be installed together.
                env={"KEEL_STAND_INS": " ".join(extra)},
            ),
        )
        tsv = result.stdout.decode()
        dropped = {line.split("\t")[1] for line in tsv.splitlines() if line.startswith("#dropped\t")}
        kept = {r: s.package for r, s in stand_ins.items() if s.package not in dropped}
        lock = SeedLock.from_tsv(tsv, requested, kept)
        path = os.path.join(target.address.spec_path, target[ToolchainSeedField].value)
        digest = await Get(Digest, CreateDigest([FileContent(path, lock.to_json(target.address).encode())]))
        workspace.write_digest(digest)
        console.print_stdout(f"Wrote {path}: {len(lock.packages)} packages ({lock.suite}).")
        if wanted:
            console.print_stdout(_stand_in_summary(wanted, stand_ins, dropped))
        if again:
            console.print_stdout(
                f"The lock was missing or made for other `seed_packages`: it is written without "
                f"Debian stand-ins, which are found with the root it makes. Run "
                f"`./pants toolchain-lock {target.address}` again to add them."
            )
    return ToolchainLock(exit_code=0)


def _stand_in_summary(wanted: tuple[StandInNeed, ...], found: dict[str, StandIn], dropped: set[str]) -> str:
    """What the lock stands in for, and what it could not, most needed first."""
    packages = {s.package for r, s in found.items() if s.package not in dropped and s.package != IN_SEED}
    in_seed = sum(1 for s in found.values() if s.package == IN_SEED)
    lines = [
        f"{len(wanted)} requirements of the packages built on it want a stand-in: "
        f"{in_seed} by the seed as it is, {sum(1 for s in found.values() if s.package not in dropped) - in_seed} "
        f"by {len(packages)} Debian packages added to it (the lock's `stand_ins`)."
    ]
    if dropped:
        lines.append(
            f"Left out, apt cannot install them with the seed: {', '.join(sorted(dropped))}."
        )
    missing = sorted((n for n in wanted if n.requirement not in found), key=lambda n: (-len(n.needed_by), n.requirement))
    if missing:
        lines.append(
            f"{len(missing)} found in no Debian package (most needed first; `./pants rpm-requires` "
            "shows who needs each):"
        )
        for need in missing[:_LISTED]:
            count = len(need.needed_by)
            lines.append(f"  {need.requirement}: needed by {count} buildable target{'s' * (count != 1)}")
        if len(missing) > _LISTED:
            lines.append(f"  and {len(missing) - _LISTED} more")
    return "\n".join(lines)


def rules():
    return collect_rules()
