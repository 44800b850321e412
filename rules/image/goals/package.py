"""`./pants package` on a disk_image: packages -> root -> raw disk -> the format, into dist/."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import AddPrefix, Digest, DigestEntries, FileEntry, RemovePrefix, CreateDigest
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.image.target_types import (
    DiskImageFormatField,
    DiskImageHostnameField,
    DiskImageKernelCmdlineField,
    DiskImageOutputPathField,
    DiskImagePackagesField,
    DiskImagePartitionsField,
    DiskImageRpmDbField,
    DiskImageSizeField,
)
from rules.image.util_rules.disk import ConvertDiskRequest, ConvertedDisk, RawDisk, RawDiskRequest
from rules.image.util_rules.image_root import (
    ImagePackages,
    ImagePackagesRequest,
    ImageRoot,
    ImageRootRequest,
)
from rules.image.util_rules.layout import disk_layout


@dataclass(frozen=True)
class DiskImageFieldSet(PackageFieldSet):
    required_fields = (DiskImagePackagesField,)

    packages: DiskImagePackagesField
    format: DiskImageFormatField
    size: DiskImageSizeField
    partitions: DiskImagePartitionsField
    hostname: DiskImageHostnameField
    kernel_cmdline: DiskImageKernelCmdlineField
    rpm_db: DiskImageRpmDbField
    output_path: DiskImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        directory = self.address.spec_path
        return os.path.join("images", os.path.basename(directory) or "root", f"{os.path.basename(directory) or self.address.target_name}.{self.format.value}")


@rule(desc="Package a disk image", level=LogLevel.DEBUG)
async def package_disk_image(field_set: DiskImageFieldSet) -> BuiltPackage:
    packages = await Get(
        ImagePackages, ImagePackagesRequest(field_set.address, tuple(field_set.packages.value or ()))
    )
    root = await Get(
        ImageRoot,
        ImageRootRequest(
            packages=packages,
            hostname=field_set.hostname.value,
            kernel_cmdline=field_set.kernel_cmdline.value,
            rpm_db=field_set.rpm_db.value,
        ),
    )
    # Identifiers (disk GUID, partition and filesystem UUIDs) come from the root's content and
    # the layout settings, never from a random source.
    layout_seed = f"{root.sha256}|{field_set.size.value}|{field_set.partitions.value}"
    layout = disk_layout(field_set.address, field_set.size.value, field_set.partitions.value, layout_seed)
    raw = await Get(RawDisk, RawDiskRequest(root, layout, field_set.address))
    converted = await Get(ConvertedDisk, ConvertDiskRequest(raw, field_set.format.value))
    entries = await Get(DigestEntries, Digest, converted.digest)
    entry = next(e for e in entries if isinstance(e, FileEntry) and e.path == converted.filename)
    output = field_set.output_file()
    digest = await Get(Digest, CreateDigest([FileEntry(output, entry.file_digest)]))
    return BuiltPackage(
        digest,
        (
            BuiltPackageArtifact(
                output,
                extra_log_lines=(f"sha256 {entry.file_digest.fingerprint}, {entry.file_digest.serialized_bytes_length} bytes",),
            ),
        ),
    )


def rules():
    return [*collect_rules(), UnionRule(PackageFieldSet, DiskImageFieldSet)]
