"""`./pants package` for rpm_package: the RPMs and the SRPM under dist/."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import CreateDigest, Digest, DigestEntries, FileEntry
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.core.dependency_rules import check_dependency_rules
from rules.core.origin import naming_build_file
from rules.core.report import BuildReportEntry, BuildReportEntryRequest
from rules.rpm.target_types import RpmOutputPathField, RpmSourcesField
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms


@dataclass(frozen=True)
class RpmPackageFieldSet(PackageFieldSet):
    required_fields = (RpmSourcesField,)

    sources: RpmSourcesField
    output_path: RpmOutputPathField


async def build_rpm_package(field_set: RpmPackageFieldSet) -> BuiltPackage:
    await check_dependency_rules(field_set.address, transitive=False)
    built = await Get(BuiltRpms, BuildRpmRequest(field_set.address))
    digest = built.digest
    paths = (*built.rpms, *((built.srpm,) if built.srpm else ()))
    if field_set.output_path.value:
        # One flat directory of this package's RPMs, as the user asked.
        out_dir = field_set.output_path.value.strip("/")
        entries = await Get(DigestEntries, Digest, built.digest)
        moved = [
            FileEntry(os.path.join(out_dir, os.path.basename(e.path)), e.file_digest)
            for e in entries
            if isinstance(e, FileEntry)
        ]
        digest = await Get(Digest, CreateDigest(moved))
        paths = tuple(sorted(e.path for e in moved))
    report = await Get(BuildReportEntry, BuildReportEntryRequest, built.report_request(paths))
    how = report.describe()
    if built.seed is not None:
        how = f"seeded from {built.seed} (no SRPM: a seed holds binary RPMs)"
    return BuiltPackage(
        digest,
        tuple(BuiltPackageArtifact(p, extra_log_lines=(how,) if i == 0 else ()) for i, p in enumerate(paths)),
    )


@rule(desc="Package RPMs", level=LogLevel.DEBUG)
async def package_rpm(field_set: RpmPackageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_rpm_package(field_set))


def rules():
    return [*collect_rules(), UnionRule(PackageFieldSet, RpmPackageFieldSet)]
