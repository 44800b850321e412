"""`./pants package` on a disk_image: packages -> root -> raw disk -> the format, into dist/."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import CreateDigest, Digest, DigestEntries, FileContent, FileEntry
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.image.target_types import (
    IsoImageOutputPathField,
    IsoVolumeIdField,
    ContainerImageOutputPathField,
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
from rules.image.util_rules.container import LAYOUT_NAME, ROOTFS_NAME, OciImage, OciImageRequest
from rules.image.util_rules.iso import Iso, IsoRequest
from rules.image.util_rules.layout import disk_layout
from rules.image.util_rules.sbom import spdx_document


@dataclass(frozen=True)
class DiskImageFieldSet(PackageFieldSet):
    required_fields = (DiskImagePackagesField, DiskImageFormatField)

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
    sbom = spdx_document(
        str(field_set.address), os.path.basename(output), entry.file_digest.fingerprint, packages.rpms,
        packages.source_date_epoch,
    )
    digest = await Get(
        Digest,
        CreateDigest([FileEntry(output, entry.file_digest), FileContent(f"{output}.spdx.json", sbom.encode())]),
    )
    return BuiltPackage(
        digest,
        (
            BuiltPackageArtifact(
                output,
                extra_log_lines=(f"sha256 {entry.file_digest.fingerprint}, {entry.file_digest.serialized_bytes_length} bytes",),
            ),
            BuiltPackageArtifact(f"{output}.spdx.json"),
        ),
    )




@dataclass(frozen=True)
class ContainerImageFieldSet(PackageFieldSet):
    required_fields = (DiskImagePackagesField, ContainerImageOutputPathField)

    packages: DiskImagePackagesField
    hostname: DiskImageHostnameField
    rpm_db: DiskImageRpmDbField
    output_path: ContainerImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        name = os.path.basename(self.address.spec_path) or self.address.target_name
        return os.path.join("images", name, f"{name}.oci.tar")


@rule(desc="Package a container image", level=LogLevel.DEBUG)
async def package_container_image(field_set: ContainerImageFieldSet) -> BuiltPackage:
    packages = await Get(
        ImagePackages, ImagePackagesRequest(field_set.address, tuple(field_set.packages.value or ()))
    )
    root = await Get(
        ImageRoot,
        ImageRootRequest(
            packages=packages,
            hostname=field_set.hostname.value,
            kernel_cmdline=DiskImageKernelCmdlineField.default,
            rpm_db=field_set.rpm_db.value,
        ),
    )
    image = await Get(OciImage, OciImageRequest(root, field_set.address.target_name))
    entries = await Get(DigestEntries, Digest, image.digest)
    layout = field_set.output_file()
    rootfs = layout[: -len(".oci.tar")] + ".rootfs.tar.zst" if layout.endswith(".oci.tar") else layout + ".rootfs.tar.zst"
    names = {LAYOUT_NAME: layout, ROOTFS_NAME: rootfs}
    files = [FileEntry(names[e.path], e.file_digest) for e in entries if isinstance(e, FileEntry)]
    layout_sha = next(f.file_digest.fingerprint for f in files if f.path == layout)
    sbom = spdx_document(
        str(field_set.address), os.path.basename(layout), layout_sha, packages.rpms, packages.source_date_epoch
    )
    digest = await Get(Digest, CreateDigest([*files, FileContent(f"{layout}.spdx.json", sbom.encode())]))
    return BuiltPackage(
        digest,
        (
            *(
                BuiltPackageArtifact(f.path, extra_log_lines=(f"sha256 {f.file_digest.fingerprint}",))
                for f in sorted(files, key=lambda f: f.path)
            ),
            BuiltPackageArtifact(f"{layout}.spdx.json"),
        ),
    )


@dataclass(frozen=True)
class IsoImageFieldSet(PackageFieldSet):
    required_fields = (DiskImagePackagesField, IsoVolumeIdField)

    packages: DiskImagePackagesField
    hostname: DiskImageHostnameField
    kernel_cmdline: DiskImageKernelCmdlineField
    rpm_db: DiskImageRpmDbField
    volume_id: IsoVolumeIdField
    output_path: IsoImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        name = os.path.basename(self.address.spec_path) or self.address.target_name
        return os.path.join("images", name, f"{name}.iso")


@rule(desc="Package an ISO image", level=LogLevel.DEBUG)
async def package_iso_image(field_set: IsoImageFieldSet) -> BuiltPackage:
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
    iso = await Get(Iso, IsoRequest(root, field_set.volume_id.value))
    entries = await Get(DigestEntries, Digest, iso.digest)
    entry = next(e for e in entries if isinstance(e, FileEntry))
    output = field_set.output_file()
    sbom = spdx_document(
        str(field_set.address), os.path.basename(output), entry.file_digest.fingerprint, packages.rpms,
        packages.source_date_epoch,
    )
    digest = await Get(
        Digest,
        CreateDigest([FileEntry(output, entry.file_digest), FileContent(f"{output}.spdx.json", sbom.encode())]),
    )
    return BuiltPackage(
        digest,
        (
            BuiltPackageArtifact(output, extra_log_lines=(f"sha256 {entry.file_digest.fingerprint}",)),
            BuiltPackageArtifact(f"{output}.spdx.json"),
        ),
    )


def rules():
    return [
        *collect_rules(),
        UnionRule(PackageFieldSet, DiskImageFieldSet),
        UnionRule(PackageFieldSet, ContainerImageFieldSet),
        UnionRule(PackageFieldSet, IsoImageFieldSet),
    ]
