"""Stage 1, the toolchain: `toolchain_stage` targets and the roots packages are built in.

Reading order: target_types, util_rules/stages (targets resolved), util_rules/seed (the lock and
its packages), util_rules/roots (bootstrap root, serial builds, worker root), util_rules/build_root
(which root each rpm_package is built in), goals/.
"""
from rules.core import zstd
from rules.sandbox import root, workers
from rules.toolchain import dependency_inference
from rules.toolchain.goals import lock, package
from rules.toolchain.target_types import ToolchainStageTarget
from rules.toolchain.util_rules import build_root, roots, seed, stages


def target_types():
    return [ToolchainStageTarget]


def rules():
    return [
        *zstd.rules(),
        *root.rules(),
        *workers.rules(),
        *stages.rules(),
        *seed.rules(),
        *roots.rules(),
        *build_root.rules(),
        *package.rules(),
        *lock.rules(),
        *dependency_inference.rules(),
    ]
