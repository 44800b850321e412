"""`./pants toolchain-lock` writes or refreshes the seed lock of bootstrap stages."""
from __future__ import annotations

import os
from pathlib import Path

from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule
from pants.engine.target import Targets
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.toolchain.target_types import ToolchainSeedField, ToolchainSeedPackagesField
from rules.toolchain.util_rules.seed import SEED_APT_TOOLS, SeedLock

_SEED_APT = (Path(__file__).parent.parent / "scripts" / "seed_apt.sh").read_bytes()


class ToolchainLockSubsystem(GoalSubsystem):
    name = "toolchain-lock"
    help = (
        "Write the seed lock file of bootstrap toolchain_stage targets: resolve their "
        "`seed_packages` (plus dependencies and essential packages) with the build host's "
        "package manager and record every package's name, version and sha256."
    )


class ToolchainLock(Goal):
    subsystem_cls = ToolchainLockSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def toolchain_lock(
    targets: Targets, console: Console, workspace: Workspace, host: HostSettings
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
        result = await Get(
            ProcessResult,
            Process(
                argv=(tools["bash"], "seed_apt.sh", "lock", *requested),
                input_digest=script,
                env={"PATH": host.path_env},
                description=f"Resolve the seed of {target.address} with apt",
                level=LogLevel.INFO,
                # The answer depends on the host's package sources today: never cache it.
                cache_scope=ProcessCacheScope.PER_SESSION,
                timeout_seconds=None,
            ),
        )
        lock = SeedLock.from_tsv(result.stdout.decode(), requested)
        path = os.path.join(target.address.spec_path, target[ToolchainSeedField].value)
        digest = await Get(Digest, CreateDigest([FileContent(path, lock.to_json(target.address).encode())]))
        workspace.write_digest(digest)
        console.print_stdout(f"Wrote {path}: {len(lock.packages)} packages ({lock.suite}).")
    return ToolchainLock(exit_code=0)


def rules():
    return collect_rules()
