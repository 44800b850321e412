"""`./pants package` on a disk_image: packages -> root -> raw disk -> the format, into dist/."""
from __future__ import annotations

import dataclasses
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
    DigestSubset,
    PathGlobs,
)
from pants.engine.process import ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.core.dependency_rules import check_dependency_rules
from rules.core.origin import TargetInputError, naming_build_file
from rules.core.report import BuildReportEntry, BuildReportEntryRequest
from rules.image.target_types import (
    ContainerImageOutputPathField,
    ContainerImageTarget,
    DiskImageFormatField,
    DiskImageOutputPathField,
    DiskImagePackagesField,
    IsoImageOutputPathField,
    IsoVolumeIdField,
    UpdateImageOutputPathField,
)
from rules.image.util_rules.disk import ConvertDiskRequest, ConvertedDisk, RawDisk, RawDiskRequest
from rules.image.util_rules.image_root import (
    ImagePackages,
    ImagePackagesRequest,
    ImageRoot,
    ImageRootRequest,
)
from rules.image.subsystems import ImageSubsystem
from rules.image.util_rules.accounts import Accounts, accounts
from rules.image.util_rules.container import (
    LAYOUT_NAME,
    ROOTFS_NAME,
    LayerDiffRequest,
    LayerTar,
    OciImage,
    OciImageRequest,
    root_layer,
)
from rules.image.util_rules.iso import Iso, IsoRequest
from rules.image.util_rules.keyring import KEYRING_PATH, UpdateKeyring
from rules.image.util_rules.layout import image_disk_layout
from rules.image.util_rules.repos import ImageRepoFiles, ImageReposError, ImageReposRequest
from rules.image.util_rules.update import COSI_NAME, UPDATE_NAME, UpdateArtifact, UpdateArtifactRequest
from rules.image.util_rules.sbom import spdx_document
from rules.image.util_rules.settings import ImageSettings, ImageSettingsRequest, WorkspaceFile
from rules.rpm.util_rules.signing import SigningKey


class ImageFilesError(TargetInputError):
    pass


@dataclass(frozen=True)
class ImageInputs:
    """What an image's root is made of besides its RPMs."""

    extra: tuple[FileEntry, ...]  # extra/<path in the image>: files, repository files, keyring
    scripts: tuple[FileEntry, ...]  # post/NNN-name.sh
    accounts: Accounts


async def image_inputs(settings: ImageSettings) -> ImageInputs:
    address = settings.address

    async def workspace_files(files: list[WorkspaceFile], field: str) -> list[FileEntry]:
        if not files:
            return []
        # Checked here rather than by Pants' glob error, to say which field and file to fix.
        digest = await Get(Digest, PathGlobs([f.workspace_path for f in files]))
        entries = {e.path: e for e in await Get(DigestEntries, Digest, digest) if isinstance(e, FileEntry)}
        missing = [f for f in files if f.workspace_path not in entries]
        if missing:
            owner = missing[0].owner
            raise ImageFilesError(
                f"The `{field}` field of {owner} names "
                f"{', '.join(repr(f.path) for f in missing if f.owner == owner)}, but "
                f"{owner.spec_path or 'the build root'} has no such file: add it there, or fix the "
                "name (paths are relative to the BUILD file's directory).",
                owner=owner,
            )
        return [entries[f.workspace_path] for f in files]

    files = dict(settings.files)
    extra = await workspace_files(list(files.values()), "files")
    scripts = await workspace_files(list(settings.post_install), "post_install")
    repos = await Get(ImageRepoFiles, ImageReposRequest(address, settings.repos))
    clash = sorted({p.lstrip("/") for p in files} & set(repos.paths))
    if clash:
        raise ImageReposError(
            f"The `files` field of {address} writes /{clash[0]}, which its `repos` field writes "
            "too: drop one of them."
        )
    repo_entries = await Get(DigestEntries, Digest, repos.digest)
    # Every image kind gets the update keyring, so that images with the same packages and
    # settings still share one root; a keyring named in `files` wins.
    keyring = await Get(UpdateKeyring)
    keyring_entries = () if KEYRING_PATH in files else await Get(DigestEntries, Digest, keyring.digest)
    return ImageInputs(
        extra=(
            *(FileEntry(f"extra/{image_path.lstrip('/')}", entry.file_digest) for image_path, entry in zip(files, extra)),
            *(FileEntry(f"extra/{e.path}", e.file_digest) for e in repo_entries if isinstance(e, FileEntry)),
            *(e for e in keyring_entries if isinstance(e, FileEntry)),  # already extra/...
        ),
        scripts=tuple(
            FileEntry(f"post/{i:03d}-{os.path.basename(e.path)}.sh", e.file_digest) for i, e in enumerate(scripts)
        ),
        accounts=accounts(address, settings.users, settings.groups),
    )


@dataclass(frozen=True)
class InstalledImageRequest:
    address: Address


@dataclass(frozen=True)
class InstalledImage:
    settings: ImageSettings
    packages: ImagePackages  # every RPM in the root, layered or not
    root: ImageRoot
    inputs: ImageInputs
    layered_on: Address | None  # the base whose root it was installed on
    base_root: ImageRoot | None = None
    added_rpms: int = 0  # installed on the base's root


@rule(desc="Install an image's root", level=LogLevel.DEBUG)
async def installed_image(request: InstalledImageRequest, image: ImageSubsystem) -> InstalledImage:
    """The installed root of an image target (any kind), from its settings with its base applied.
    With a base (and `[image].layered_roots`), on the base's root: only what the base lacks is
    installed (README, "Teams: your packages on keel core")."""
    settings = await Get(ImageSettings, ImageSettingsRequest(request.address))
    packages = await Get(ImagePackages, ImagePackagesRequest(settings.address, settings.packages))
    inputs = await image_inputs(settings)
    base = None
    if settings.bases and image.layered_roots and settings.rpm_db:
        below = await Get(InstalledImage, InstalledImageRequest(settings.bases[0]))
        # rpm installs on the base's database; every RPM of the base must be the image's too.
        if below.settings.rpm_db and set(below.packages.files) <= set(packages.files):
            base = below
    rpms, extra, scripts, accounts_ = packages, inputs.extra, inputs.scripts, inputs.accounts
    if base is not None:
        in_base = set(base.packages.files)
        added = tuple(f for f in packages.files if f not in in_base)
        rpms = dataclasses.replace(
            packages,
            digest=await Get(Digest, DigestSubset(packages.digest, PathGlobs(list(added)))) if added else EMPTY_DIGEST,
            files=added,
        )
        base_extra = set(base.inputs.extra)
        extra = tuple(e for e in inputs.extra if e not in base_extra)
        scripts = inputs.scripts[len(base.inputs.scripts):]
        accounts_ = inputs.accounts.beyond(base.inputs.accounts)
    extra_digest, post_digest = await MultiGet(Get(Digest, CreateDigest(extra)), Get(Digest, CreateDigest(scripts)))
    root = await Get(
        ImageRoot,
        ImageRootRequest(
            packages=rpms,
            hostname=settings.hostname,
            # Containers have no kernel: theirs is the default, so they share the root of disk images.
            kernel_cmdline=settings.kernel_cmdline,
            rpm_db=settings.rpm_db,
            accounts=accounts_,
            extra_files=extra_digest,
            post_install=post_digest,
            base=base.root if base is not None else None,
            address=settings.address,
            post_install_paths=tuple(f.workspace_path for f in settings.post_install),
        ),
    )
    if base is None:
        return InstalledImage(settings, packages, root, inputs, None)
    return InstalledImage(settings, packages, root, inputs, base.settings.address, base.root, len(rpms.files))


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
    installed: InstalledImage,
    files: list[FileEntry],
    process: ProcessResultMetadata,
    worker: str | None = None,
) -> BuiltPackage:
    """`files` (the first is the image itself) and the image's SBOM, IMAGE.spdx.json, with the
    build report's line on each: how the last step (`process`) was obtained and, when it ran in a
    build root by remote execution, on which `worker`; for a layered root, how the base's root
    was obtained too (its own report entry, kind "root"). An image with a `base` says in its SBOM
    which RPMs the base holds too."""
    image = files[0]
    settings, packages = installed.settings, installed.packages
    base = None
    if settings.bases:
        base_settings = await Get(ImageSettings, ImageSettingsRequest(settings.bases[0]))
        base_packages = await Get(ImagePackages, ImagePackagesRequest(base_settings.address, base_settings.packages))
        base = (str(base_settings.address), frozenset(r.sha256 for r in base_packages.rpms))
    sbom = spdx_document(
        str(field_set.address), os.path.basename(image.path), image.file_digest.fingerprint,
        packages.rpms, packages.source_date_epoch, base=base,
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
    layered = ()
    if installed.layered_on is not None:
        base_root = await Get(
            BuildReportEntry, BuildReportEntryRequest("root", str(installed.layered_on), (), installed.base_root.process)
        )
        layered = (
            f"its root: {installed.added_rpms} RPM{'' if installed.added_rpms == 1 else 's'} installed on the "
            f"root of {installed.layered_on} ({base_root.describe()})",
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
                        *(layered if f is image else ()),
                    ),
                )
                for f in files
            ),
            BuiltPackageArtifact(f"{image.path}.spdx.json"),
        ),
    )

@dataclass(frozen=True)
class DiskImageFieldSet(PackageFieldSet):
    # Only where the image goes: everything else is read from its ImageSettings (its base applied).
    required_fields = (DiskImagePackagesField, DiskImageFormatField)

    format: DiskImageFormatField
    output_path: DiskImageOutputPathField

    def output_file(self, format: str | None = None) -> str:
        """`format`: the merged one (an image may take its format from its base)."""
        if self.output_path.value:
            return self.output_path.value
        format = format or self.format.value or DiskImageFormatField.fallback
        return default_output(self.address, format, format)


async def build_disk_image(field_set: DiskImageFieldSet) -> BuiltPackage:
    await check_dependency_rules(field_set.address, transitive=True)
    installed = await Get(InstalledImage, InstalledImageRequest(field_set.address))
    settings, root = installed.settings, installed.root
    # Identifiers (disk GUID, partition and filesystem UUIDs) come from the root's content and
    # the layout settings, never from a random source.
    layout = image_disk_layout(
        field_set.address, root.sha256, settings.size, settings.partitions, ab_slots=settings.ab_slots
    )
    raw = await Get(RawDisk, RawDiskRequest(root, layout, field_set.address))
    converted = await Get(ConvertedDisk, ConvertDiskRequest(raw, settings.format))
    entries = await Get(DigestEntries, Digest, converted.digest)
    entry = next(e for e in entries if isinstance(e, FileEntry) and e.path == converted.filename)
    image = FileEntry(field_set.output_file(settings.format), entry.file_digest)
    return await image_package(field_set, installed, [image], converted.process, converted.worker)


@rule(desc="Package a disk image", level=LogLevel.DEBUG)
async def package_disk_image(field_set: DiskImageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_disk_image(field_set))


@dataclass(frozen=True)
class ContainerImageFieldSet(PackageFieldSet):
    required_fields = (DiskImagePackagesField, ContainerImageOutputPathField)

    output_path: ContainerImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        return default_output(self.address, "container", "oci.tar")


@dataclass(frozen=True)
class ContainerLayersRequest:
    address: Address


@dataclass(frozen=True)
class ContainerLayers:
    installed: InstalledImage
    layers: tuple[LayerTar, ...]  # bottom first


@rule(desc="Layer a container on its base", level=LogLevel.DEBUG)
async def container_layers(request: ContainerLayersRequest) -> ContainerLayers:
    """On a `base` container_image: the base's layers and what this root changes; else one
    layer, the root. (A rule, not a helper: it asks for its base's layers.)"""
    installed = await Get(InstalledImage, InstalledImageRequest(request.address))
    if installed.settings.bases:
        base = await Get(ImageSettings, ImageSettingsRequest(installed.settings.bases[0]))
        if base.alias == ContainerImageTarget.alias:
            below = await Get(ContainerLayers, ContainerLayersRequest(base.address))
            diff = await Get(LayerTar, LayerDiffRequest(below.installed.root, installed.root))
            return ContainerLayers(installed, (*below.layers, diff))
    return ContainerLayers(installed, (root_layer(installed.root),))


async def build_container_image(field_set: ContainerImageFieldSet) -> BuiltPackage:
    await check_dependency_rules(field_set.address, transitive=True)
    built = await Get(ContainerLayers, ContainerLayersRequest(field_set.address))
    installed = built.installed
    image = await Get(OciImage, OciImageRequest(installed.root, field_set.address.target_name, built.layers))
    entries = {e.path: e for e in await Get(DigestEntries, Digest, image.digest) if isinstance(e, FileEntry)}
    layout = field_set.output_file()
    rootfs = (layout[: -len(".oci.tar")] if layout.endswith(".oci.tar") else layout) + ".rootfs.tar.zst"
    files = [
        FileEntry(layout, entries[LAYOUT_NAME].file_digest),
        FileEntry(rootfs, entries[ROOTFS_NAME].file_digest),
    ]
    return await image_package(field_set, installed, files, image.process)


@rule(desc="Package a container image", level=LogLevel.DEBUG)
async def package_container_image(field_set: ContainerImageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_container_image(field_set))


@dataclass(frozen=True)
class IsoImageFieldSet(PackageFieldSet):
    required_fields = (DiskImagePackagesField, IsoVolumeIdField)

    output_path: IsoImageOutputPathField

    def output_file(self) -> str:
        if self.output_path.value:
            return self.output_path.value
        return default_output(self.address, "iso", "iso")


async def build_iso_image(field_set: IsoImageFieldSet) -> BuiltPackage:
    await check_dependency_rules(field_set.address, transitive=True)
    installed = await Get(InstalledImage, InstalledImageRequest(field_set.address))
    settings, root = installed.settings, installed.root
    iso = await Get(Iso, IsoRequest(root, settings.volume_id))
    entries = await Get(DigestEntries, Digest, iso.digest)
    entry = next(e for e in entries if isinstance(e, FileEntry))
    image = FileEntry(field_set.output_file(), entry.file_digest)
    return await image_package(field_set, installed, [image], iso.process, iso.worker)


@rule(desc="Package an ISO image", level=LogLevel.DEBUG)
async def package_iso_image(field_set: IsoImageFieldSet) -> BuiltPackage:
    return await naming_build_file(field_set.address, build_iso_image(field_set))


class UnsignedUpdateError(Exception):
    pass


@dataclass(frozen=True)
class UpdateImageFieldSet(PackageFieldSet):
    required_fields = (DiskImagePackagesField, UpdateImageOutputPathField)

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
    await check_dependency_rules(field_set.address, transitive=True)
    key = await Get(SigningKey)
    require_signing_key(key, field_set.address)
    installed = await Get(InstalledImage, InstalledImageRequest(field_set.address))
    settings, root = installed.settings, installed.root
    # The layout of the A/B disk of the same system and fields: the root goes into its slot.
    layout = image_disk_layout(field_set.address, root.sha256, settings.size, settings.partitions, ab_slots=True)
    update_file = field_set.output_file()
    stem = update_file[: -len(".update.tar")] if update_file.endswith(".update.tar") else update_file
    artifact = await Get(
        UpdateArtifact,
        UpdateArtifactRequest(
            root=root,
            layout=layout,
            rpms=EMPTY_DIGEST if settings.rpm_db else installed.packages.digest,
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
    return await image_package(field_set, installed, files, artifact.process)


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
