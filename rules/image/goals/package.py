"""`./pants package` on a disk_image: packages -> root -> raw disk -> the format, into dist/."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address
from pants.engine.fs import (
    EMPTY_DIGEST,
    CreateDigest,
    Digest,
    DigestEntries,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
)
from pants.engine.process import ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.core.origin import TargetInputError, naming_build_file
from rules.core.report import BuildReportEntry, BuildReportEntryRequest
from rules.image.target_types import (
    DiskImageAbSlotsField,
    DiskImageFilesField,
    DiskImageGroupsField,
    DiskImagePostInstallField,
    DiskImageUsersField,
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
    ImageReposField,
    UpdateImageOutputPathField,
)
from rules.image.util_rules.disk import ConvertDiskRequest, ConvertedDisk, RawDisk, RawDiskRequest
from rules.image.util_rules.image_root import (
    ImagePackages,
    ImagePackagesRequest,
    ImageRoot,
    ImageRootRequest,
)
from rules.image.util_rules.accounts import accounts
from rules.image.util_rules.container import LAYOUT_NAME, ROOTFS_NAME, OciImage, OciImageRequest
from rules.image.util_rules.iso import Iso, IsoRequest
from rules.image.util_rules.keyring import KEYRING_PATH, UpdateKeyring
from rules.image.util_rules.layout import image_disk_layout
from rules.image.util_rules.repos import ImageRepoFiles, ImageReposError, ImageReposRequest
from rules.image.util_rules.update import COSI_NAME, UPDATE_NAME, UpdateArtifact, UpdateArtifactRequest
from rules.image.util_rules.sbom import spdx_document
from rules.rpm.util_rules.signing import SigningKey


class ImageFilesError(TargetInputError):
    pass


async def image_root_of(field_set: ImageSystemFieldSet) -> tuple[ImagePackages, ImageRoot]:
    """The installed root of an image target (any of the three kinds), and its packages."""
    address = field_set.address
    packages = await Get(ImagePackages, ImagePackagesRequest(address, tuple(field_set.packages.value or ())))
    base = address.spec_path

    async def workspace_files(paths: list[str], field: str) -> list[FileEntry]:
        if not paths:
            return []
        # Checked here rather than by Pants' glob error, to say which field and file to fix.
        digest = await Get(Digest, PathGlobs([os.path.join(base, p) for p in paths]))
        entries = {e.path: e for e in await Get(DigestEntries, Digest, digest) if isinstance(e, FileEntry)}
        missing = [p for p in paths if os.path.join(base, p) not in entries]
        if missing:
            raise ImageFilesError(
                f"The `{field}` field of {address} names {', '.join(repr(p) for p in missing)}, but "
                f"{base or 'the build root'} has no such file: add it there, or fix the name (paths "
                "are relative to the BUILD file's directory)."
            )
        return [entries[os.path.join(base, p)] for p in paths]

    files = dict(field_set.files.value or {})
    extra = await workspace_files(list(files.values()), "files")
    scripts = await workspace_files(list(field_set.post_install.value or ()), "post_install")
    repos = await Get(ImageRepoFiles, ImageReposRequest(address, tuple(field_set.repos.value or ())))
    clash = sorted({p.lstrip("/") for p in files} & set(repos.paths))
    if clash:
        raise ImageReposError(
            f"The `files` field of {address} writes /{clash[0]}, which its `repos` field writes "
            "too: drop one of them."
        )
    repo_entries = await Get(DigestEntries, Digest, repos.digest)
    # Every image kind gets the update keyring, so that images with the same packages and
    # settings still share one root; a keyring named in `files` wins.
    keyring, files_digest, post_digest = await MultiGet(
        Get(UpdateKeyring),
        Get(
            Digest,
            CreateDigest(
                [
                    *(
                        FileEntry(f"extra/{image_path.lstrip('/')}", entry.file_digest)
                        for image_path, entry in zip(files, extra)
                    ),
                    *(FileEntry(f"extra/{e.path}", e.file_digest) for e in repo_entries if isinstance(e, FileEntry)),
                ]
            ),
        ),
        Get(
            Digest,
            CreateDigest(
                FileEntry(f"post/{i:03d}-{os.path.basename(e.path)}.sh", e.file_digest)
                for i, e in enumerate(scripts)
            ),
        ),
    )
    extra_digest = (
        files_digest
        if KEYRING_PATH in files
        else await Get(Digest, MergeDigests([files_digest, keyring.digest]))
    )
    # Containers have no kernel; theirs is the default, so they share the root of disk images.
    cmdline = (
        field_set.kernel_cmdline.value
        if hasattr(field_set, "kernel_cmdline")
        else DiskImageKernelCmdlineField.default
    )
    root = await Get(
        ImageRoot,
        ImageRootRequest(
            packages=packages,
            hostname=field_set.hostname.value,
            kernel_cmdline=cmdline,
            rpm_db=field_set.rpm_db.value,
            accounts=accounts(address, field_set.users.value, field_set.groups.value),
            extra_files=extra_digest,
            post_install=post_digest,
            address=address,
            post_install_paths=tuple(os.path.join(address.spec_path, p) for p in field_set.post_install.value or ()),
        ),
    )
    return packages, root


def default_output(address: Address, kind: str, suffix: str) -> str:
    """Where an image goes without `output_path`: DIR/BASE.SUFFIX for a target in DIR named after
    its kind (`kind`: the disk format, `iso` or `container`), else DIR/BASE-NAME.SUFFIX, BASE being
    DIR's last component. images/core:vhdx gives images/core/core.vhdx, and a second vhdx target
    images/core:big gives images/core/core-big.vhdx: no two targets share a default."""
    base = os.path.basename(address.spec_path) or "image"
    stem = base if address.target_name == kind else f"{base}-{address.target_name}"
    return os.path.join(address.spec_path, f"{stem}.{suffix}")


async def image_package(
    field_set,
    packages: ImagePackages,
    files: list[FileEntry],
    process: ProcessResultMetadata,
    worker: str | None = None,
) -> BuiltPackage:
    """`files` (the first is the image itself) and the image's SBOM, IMAGE.spdx.json, with the
    build report's line on each: how the last step (`process`) was obtained and, when it ran in a
    build root by remote execution, on which `worker`."""
    image = files[0]
    sbom = spdx_document(
        str(field_set.address), os.path.basename(image.path), image.file_digest.fingerprint,
        packages.rpms, packages.source_date_epoch,
    )
    digest, report = await MultiGet(
        Get(Digest, CreateDigest([*files, FileContent(f"{image.path}.spdx.json", sbom.encode())])),
        Get(
            BuildReportEntry,
            BuildReportEntryRequest(
                "image", str(field_set.address), tuple(f.path for f in files), process, worker=worker
            ),
        ),
    )
    return BuiltPackage(
        digest,
        (
            *(
                BuiltPackageArtifact(
                    f.path,
                    extra_log_lines=(
                        f"sha256 {f.file_digest.fingerprint}, {f.file_digest.serialized_bytes_length} bytes, "
                        f"{report.describe()}",
                    ),
                )
                for f in files
            ),
            BuiltPackageArtifact(f"{image.path}.spdx.json"),
        ),
    )

@dataclass(frozen=True)
class ImageSystemFieldSet(PackageFieldSet):
    """The fields every image kind shares (target_types.SYSTEM_FIELDS); not a union member."""

    packages: DiskImagePackagesField
    hostname: DiskImageHostnameField
    rpm_db: DiskImageRpmDbField
    users: DiskImageUsersField
    groups: DiskImageGroupsField
    files: DiskImageFilesField
    post_install: DiskImagePostInstallField
    repos: ImageReposField


@dataclass(frozen=True)
class DiskImageFieldSet(ImageSystemFieldSet):
    required_fields = (DiskImagePackagesField, DiskImageFormatField)

    format: DiskImageFormatField
    size: DiskImageSizeField
    partitions: DiskImagePartitionsField
    ab_slots: DiskImageAbSlotsField
    kernel_cmdline: DiskImageKernelCmdlineField
    output_path: DiskImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        return default_output(self.address, self.format.value, self.format.value)


async def build_disk_image(field_set: DiskImageFieldSet) -> BuiltPackage:
    packages, root = await image_root_of(field_set)
    # Identifiers (disk GUID, partition and filesystem UUIDs) come from the root's content and
    # the layout settings, never from a random source.
    layout = image_disk_layout(
        field_set.address, root.sha256, field_set.size.value, field_set.partitions.value,
        ab_slots=field_set.ab_slots.value,
    )
    raw = await Get(RawDisk, RawDiskRequest(root, layout, field_set.address))
    converted = await Get(ConvertedDisk, ConvertDiskRequest(raw, field_set.format.value))
    entries = await Get(DigestEntries, Digest, converted.digest)
    entry = next(e for e in entries if isinstance(e, FileEntry) and e.path == converted.filename)
    image = FileEntry(field_set.output_file(), entry.file_digest)
    return await image_package(field_set, packages, [image], converted.process, converted.worker)


@rule(desc="Package a disk image", level=LogLevel.DEBUG)
async def package_disk_image(field_set: DiskImageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_disk_image(field_set))


@dataclass(frozen=True)
class ContainerImageFieldSet(ImageSystemFieldSet):
    required_fields = (DiskImagePackagesField, ContainerImageOutputPathField)

    output_path: ContainerImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        return default_output(self.address, "container", "oci.tar")


async def build_container_image(field_set: ContainerImageFieldSet) -> BuiltPackage:
    packages, root = await image_root_of(field_set)
    image = await Get(OciImage, OciImageRequest(root, field_set.address.target_name))
    entries = {e.path: e for e in await Get(DigestEntries, Digest, image.digest) if isinstance(e, FileEntry)}
    layout = field_set.output_file()
    rootfs = (layout[: -len(".oci.tar")] if layout.endswith(".oci.tar") else layout) + ".rootfs.tar.zst"
    files = [
        FileEntry(layout, entries[LAYOUT_NAME].file_digest),
        FileEntry(rootfs, entries[ROOTFS_NAME].file_digest),
    ]
    return await image_package(field_set, packages, files, image.process)


@rule(desc="Package a container image", level=LogLevel.DEBUG)
async def package_container_image(field_set: ContainerImageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_container_image(field_set))


@dataclass(frozen=True)
class IsoImageFieldSet(ImageSystemFieldSet):
    required_fields = (DiskImagePackagesField, IsoVolumeIdField)

    kernel_cmdline: DiskImageKernelCmdlineField
    volume_id: IsoVolumeIdField
    output_path: IsoImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        return default_output(self.address, "iso", "iso")


async def build_iso_image(field_set: IsoImageFieldSet) -> BuiltPackage:
    packages, root = await image_root_of(field_set)
    iso = await Get(Iso, IsoRequest(root, field_set.volume_id.value))
    entries = await Get(DigestEntries, Digest, iso.digest)
    entry = next(e for e in entries if isinstance(e, FileEntry))
    image = FileEntry(field_set.output_file(), entry.file_digest)
    return await image_package(field_set, packages, [image], iso.process, iso.worker)


@rule(desc="Package an ISO image", level=LogLevel.DEBUG)
async def package_iso_image(field_set: IsoImageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_iso_image(field_set))


class UnsignedUpdateError(Exception):
    pass


@dataclass(frozen=True)
class UpdateImageFieldSet(ImageSystemFieldSet):
    required_fields = (DiskImagePackagesField, UpdateImageOutputPathField)

    size: DiskImageSizeField
    partitions: DiskImagePartitionsField
    kernel_cmdline: DiskImageKernelCmdlineField
    output_path: UpdateImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        return default_output(self.address, "update", "update.tar")


def require_signing_key(key: SigningKey, address: Address) -> None:
    if not key.fingerprint:
        raise UnsignedUpdateError(
            f"{address} is an update_image, and an update must be signed (keel-update refuses "
            "any other), but no signing key is configured. Set `[rpm-sign].key` (a fingerprint) "
            "and `[rpm-sign].gnupg_home` (the GnuPG home holding its secret key), or "
            "PANTS_RPM_SIGN_KEY and PANTS_RPM_SIGN_GNUPG_HOME; `./pants help rpm-sign` says more."
        )


async def build_update_image(field_set: UpdateImageFieldSet) -> BuiltPackage:
    key = await Get(SigningKey)
    require_signing_key(key, field_set.address)
    packages, root = await image_root_of(field_set)
    # The layout of the A/B disk of the same system and fields: the root goes into its slot.
    layout = image_disk_layout(
        field_set.address, root.sha256, field_set.size.value, field_set.partitions.value, ab_slots=True
    )
    update_file = field_set.output_file()
    stem = update_file[: -len(".update.tar")] if update_file.endswith(".update.tar") else update_file
    artifact = await Get(
        UpdateArtifact,
        UpdateArtifactRequest(
            root=root,
            layout=layout,
            rpms=EMPTY_DIGEST if field_set.rpm_db.value else packages.digest,
            name=os.path.basename(stem),
            key=key,
            address=field_set.address,
        ),
    )
    entries = {e.path: e for e in await Get(DigestEntries, Digest, artifact.digest) if isinstance(e, FileEntry)}
    files = [
        FileEntry(update_file, entries[UPDATE_NAME].file_digest),
        FileEntry(f"{stem}.cosi", entries[COSI_NAME].file_digest),
    ]
    return await image_package(field_set, packages, files, artifact.process)


@rule(desc="Package an update image", level=LogLevel.DEBUG)
async def package_update_image(field_set: UpdateImageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_update_image(field_set))


def rules():
    return [
        *collect_rules(),
        UnionRule(PackageFieldSet, DiskImageFieldSet),
        UnionRule(PackageFieldSet, ContainerImageFieldSet),
        UnionRule(PackageFieldSet, IsoImageFieldSet),
        UnionRule(PackageFieldSet, UpdateImageFieldSet),
    ]
