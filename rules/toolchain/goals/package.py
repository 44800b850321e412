"""`./pants package` on a toolchain_stage: its root archive, manifest and capabilities into
dist/."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import AddPrefix, CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.sandbox.root import ARCHIVE_NAME
from rules.toolchain.target_types import ToolchainOutputPathField, ToolchainSeedField
from rules.toolchain.util_rules.roots import StageRoot, StageRootRequest

MANIFEST_NAME = "manifest.json"
CAPABILITIES_NAME = "capabilities.txt"


@dataclass(frozen=True)
class ToolchainStageFieldSet(PackageFieldSet):
    required_fields = (ToolchainSeedField,)

    seed: ToolchainSeedField
    output_path: ToolchainOutputPathField


@rule(desc="Package a toolchain stage", level=LogLevel.DEBUG)
async def package_toolchain_stage(field_set: ToolchainStageFieldSet) -> BuiltPackage:
    root = await Get(StageRoot, StageRootRequest(field_set.address))
    # The target's directory and name: toolchain:official -> toolchain/official, and stages of
    # the same name in other directories (toolchain/azl:bootstrap) do not overwrite each other.
    address = field_set.address
    directory = field_set.output_path.value or os.path.join(address.spec_path, address.target_name)
    listing = "".join(f"{c}\n" for c in sorted(root.capabilities))
    manifest = await Get(
        Digest,
        CreateDigest(
            [
                FileContent(MANIFEST_NAME, root.manifest.encode()),
                FileContent(CAPABILITIES_NAME, listing.encode()),
            ]
        ),
    )
    merged = await Get(Digest, MergeDigests([root.archive.digest, manifest]))
    digest = await Get(Digest, AddPrefix(merged, directory))
    return BuiltPackage(
        digest,
        (
            BuiltPackageArtifact(
                os.path.join(directory, ARCHIVE_NAME),
                extra_log_lines=(f"sha256 {root.archive.sha256}, {root.archive.size} bytes",),
            ),
            BuiltPackageArtifact(os.path.join(directory, MANIFEST_NAME)),
            BuiltPackageArtifact(
                os.path.join(directory, CAPABILITIES_NAME),
                extra_log_lines=(
                    f"{len(root.capabilities)} RPM capabilities the root provides without any target",
                ),
            ),
        ),
    )


def rules():
    return [*collect_rules(), UnionRule(PackageFieldSet, ToolchainStageFieldSet)]
