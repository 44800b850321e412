"""The `disk_image` target: stage 3, a bootable-disk image made from the RPMs keel builds.

The vocabulary follows Azure Linux's image configuration (Disks / Partitions / SystemConfigs):
a disk of a `size`, GPT `partitions` each with a size, filesystem, type, mount point and label,
and a system made of `packages`, a `hostname` and a `kernel_cmdline`.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    AsyncFieldMixin,
    Dependencies,
    DictStringToStringField,
    Field,
    InvalidFieldException,
    InvalidFieldTypeException,
    InvalidTargetException,
    SecondaryOwnerMixin,
    StringField,
    StringSequenceField,
    Target,
    TriBoolField,
)
from pants.source.filespec import Filespec
from pants.util.frozendict import FrozenDict
from pants.util.strutil import help_text

from rules.core.field_kinds import PackageEntriesField
from rules.image.util_rules.layout import (
    EMPTY,
    FILESYSTEMS,
    InvalidLayoutError,
    ab_slot_partitions,
    check_ab_boot,
    check_layout,
)

FORMATS = ("vhdx", "vhd", "raw", "qcow2")
PARTITION_KEYS = ("name", "size", "filesystem", "type", "mount", "label")

DEFAULT_PARTITIONS = (
    FrozenDict(
        {"name": "esp", "size": "32M", "filesystem": "vfat", "type": "esp", "mount": "/boot/efi", "label": "ESP"}
    ),
    FrozenDict(
        {"name": "root", "size": "*", "filesystem": "ext4", "type": "linux", "mount": "/", "label": "root"}
    ),
)


class DiskImagePackagesField(PackageEntriesField):
    alias = "packages"
    help = help_text(
        """
        What to install: `rpm_package` addresses (all their binary packages, e.g.
        `"//specs/kvtool"`), `package_set` addresses (the packages the set names, in its order)
        and binary package names (e.g. `"kv-conf"`), merged as an ordered union: each package
        once, where it first appears. Their `Requires`, as far as packages keel builds provide
        them, are installed too; a name nothing provides is an error. With a `base`, the base's
        packages come first. An image needs `packages`, a `base`, or both.
        """
    )


class ImageBaseField(StringField):
    # What `base` does to each field: util_rules/settings.py does what this help says.
    alias = "base"
    help = help_text(
        """
        The address of an image this one builds on (any image kind, e.g.
        `"//images/core:vhdx"`): a team's image says "core, plus these" without repeating
        core's definition. What the image inherits:

        - `packages`: the base's first, then the image's own (an ordered union: a package the
          base has stays where the base has it);

        - `users`, `groups` (by name) and `files` (by path in the image): merged; the same name
          or path with different values in the base and the image is an error naming both
          targets;

        - `post_install` and `repos`: the base's first, then the image's own;

        - every other field the image's kind has (`hostname`, `rpm_db`, `format`, `size`,
          `partitions`, `ab_slots`, `kernel_cmdline`, `volume_id`): the image's value when it
          sets one, else the base's (through its own `base`), else the field's default.
          `output_path` is not inherited.

        A base that leads back to the image (through other bases) is an error naming the chain.
        The image is installed on the base's installed root (`[image].layered_roots`), and a
        container on a container has the base's layers under its own. `./pants peek` shows the
        fields as written; the build uses the merged ones.
        """
    )


def image_package_entries(base: str | None, packages: Iterable[str] | None) -> tuple[str, ...]:
    """An image's `packages` with its base in front: a base image stands, in the expansion of
    packages, for its own packages (rules/image/util_rules/image_root.py: expand_packages)."""
    return (*((base,) if base else ()), *(packages or ()))


class PackageSetPackagesField(PackageEntriesField):
    alias = "packages"
    required = True
    help = help_text(
        """
        The set's packages, in order: `rpm_package` addresses, binary package names and other
        `package_set` addresses (their packages where they are listed). The set is their ordered
        union: each package once, where it first appears. A set that includes itself, directly
        or through others, is an error naming the chain.
        """
    )


class PackageSetDependenciesField(Dependencies):
    help = help_text(
        """
        Inferred: the `rpm_package` targets whose packages the set names (through the sets it
        includes too) and the sets it includes, so that `./pants dependents` and
        `--changed-dependents` reach the images that use it.
        """
    )


class PackageSetTarget(Target):
    alias = "package_set"
    core_fields = (*COMMON_TARGET_FIELDS, PackageSetPackagesField, PackageSetDependenciesField)
    help = help_text(
        """
        A named, ordered set of packages that images and `rpm_repository` targets use by address
        in their `packages` (e.g. `packages=["//images/core:system", "htop"]`), so that a family
        of images, or a team's image on top of the common core, names its packages once.
        """
    )


class DiskImageFormatField(StringField):
    alias = "format"
    fallback = "vhdx"  # without a value here or in a base (a None default tells them apart)
    valid_choices = FORMATS
    help = help_text(
        """
        The file format: `vhdx` (dynamic, Hyper-V), `vhd` (fixed, Azure: the size must be a
        whole number of MiB), `raw` or `qcow2`. Images with the same packages and settings share
        the installed root and the raw disk: only the last conversion differs. Default: the
        `base`'s, else `vhdx`.
        """
    )


class DiskImageSizeField(StringField):
    alias = "size"
    fallback = "256M"
    help = help_text(
        """
        The size of the disk, in MiB (`M`) or GiB (`G`), e.g. `"256M"`, `"2G"`. It must hold the
        GPT and every partition. Default: the `base`'s, else `256M`.
        """
    )


class DiskImagePartitionsField(Field):
    alias = "partitions"
    default = None
    fallback = DEFAULT_PARTITIONS
    help = help_text(
        f"""
        The GPT partitions, in disk order, as dicts with the keys {", ".join(PARTITION_KEYS)}:

        - `size`: MiB (`"64M"`) or GiB (`"1G"`); `"*"` (or no `size`) on one partition takes
          the rest;
        - `filesystem`: {" or ".join(f"`{f}`" for f in FILESYSTEMS)}, or `{EMPTY}`: left empty
          (zeroes), mounting nothing;
        - `type`: `esp`, `linux`, or a partition type GUID;
        - `mount`: where its files are in the root; exactly one partition mounts `/`.

        Default: the `base`'s, else an EFI system partition (vfat, 32 MiB, `/boot/efi`) and a
        root partition (ext4, the rest). Filesystems are made from directories (`mkfs.ext4 -d`, `mkfs.vfat` + mtools):
        no loop device, no mount, no root.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Any, address: Address) -> tuple[FrozenDict[str, str], ...]:
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        if not isinstance(value, Iterable) or isinstance(value, (str, dict)):
            raise InvalidFieldTypeException(address, cls.alias, raw_value, expected_type="a list of dicts")
        partitions = []
        for partition in value:
            if not isinstance(partition, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in partition.items()
            ):
                raise InvalidFieldTypeException(
                    address, cls.alias, raw_value, expected_type="a list of dicts of strings"
                )
            unknown = sorted(set(partition) - set(PARTITION_KEYS))
            if unknown:
                raise InvalidFieldException(
                    f"The `{cls.alias}` field of {address} has a partition with unknown keys "
                    f"{unknown}; the keys are {', '.join(PARTITION_KEYS)}."
                )
            partitions.append(FrozenDict(partition))
        return tuple(partitions)


class DiskImageAbSlotsField(TriBoolField):
    alias = "ab_slots"
    fallback = False
    help = help_text(
        """
        Two root slots for image-based updates (A/B). The partition that mounts `/` gets the GPT
        name `root-a`, and a second partition `root-b` of the same size follows it, left empty
        (zeroes) until an update is written into it; with the default partitions the rest of the
        disk is split between the two. The EFI system partition must be named `esp` (vfat): it
        holds the boot state, `keel/slot` (the active slot, `a` when built) and, while an
        update is on trial, `keel/try`. keel core's initramfs boots the slot they name and falls
        back to the active slot when a trial boot fails; `keel-update` writes updates made by
        `update_image` targets. Default: the `base`'s, else `False`.
        """
    )


class DiskImageHostnameField(StringField):
    alias = "hostname"
    fallback = "keel"
    help = "The system's host name, written to /etc/hostname. Default: the `base`'s, else `keel`."


class DiskImageKernelCmdlineField(StringField):
    alias = "kernel_cmdline"
    fallback = "console=ttyS0 root=PARTLABEL=root rw"
    help = help_text(
        """
        The kernel command line, written to /etc/kernel/cmdline, where a kernel package's
        scripts or a boot loader take it from. Default: the `base`'s, else
        `console=ttyS0 root=PARTLABEL=root rw`.
        """
    )


class DiskImageRpmDbField(TriBoolField):
    alias = "rpm_db"
    fallback = True
    help = help_text(
        """
        Keep the rpm database in the image (/var/lib/rpm). `False` drops it, like Azure Linux's
        `RemoveRpmDb`. Default: the `base`'s, else `True`.
        """
    )


class DiskImageUsersField(Field):
    alias = "users"
    default = ()
    help = help_text(
        """
        Accounts to create, as dicts: `{"name": "alice", "uid": "1000", "gid": "1000",
        "home": "/home/alice", "shell": "/bin/sh", "groups": "wheel,adm"}`; only `name` and
        `uid` are required (`gid` defaults to `uid`, a group of the user's name is created when no
        group has that gid). Written to /etc/passwd, /etc/group and /etc/shadow (password locked),
        after what packages put there; the home directory is created, owned by the user.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Any, address: Address) -> tuple[FrozenDict[str, str], ...]:
        return _dicts_of_strings(cls.alias, raw_value, address, required=("name", "uid"))


class DiskImageGroupsField(Field):
    alias = "groups"
    default = ()
    help = help_text(
        """
        Groups to create, as dicts: `{"name": "wheel", "gid": "10"}`. Written to /etc/group
        before the users, so users may name them in their `groups`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Any, address: Address) -> tuple[FrozenDict[str, str], ...]:
        return _dicts_of_strings(cls.alias, raw_value, address, required=("name", "gid"))


def _workspace_files(address: Address, paths: Iterable[str]) -> Filespec:
    """Files named relative to the BUILD file, as a filespec: they become secondary sources of
    the image, so file arguments and `--changed-since` select it."""
    return {"includes": [os.path.join(address.spec_path, p) for p in paths]}


class DiskImagePostInstallField(StringSequenceField, AsyncFieldMixin, SecondaryOwnerMixin):
    alias = "post_install"
    help = help_text(
        """
        Shell scripts (paths relative to the BUILD file) run in order after the packages, users
        and files are in place, with the image root as `/` (chroot): like Azure Linux's
        PostInstallScripts. The image must hold /bin/sh.
        """
    )

    @property
    def filespec(self) -> Filespec:
        return _workspace_files(self.address, self.value or ())


class DiskImageFilesField(DictStringToStringField, AsyncFieldMixin, SecondaryOwnerMixin):
    alias = "files"
    help = help_text(
        """
        Extra files: `{"/etc/motd": "motd.txt"}` maps a path in the image to a file relative to
        the BUILD file. Written after the packages (mode 0644, owned by root), before
        `post_install`.
        """
    )

    @property
    def filespec(self) -> Filespec:
        return _workspace_files(self.address, (self.value or {}).values())


def _dicts_of_strings(alias: str, raw_value: Any, address: Address, required: tuple[str, ...]):
    if raw_value is None:
        return ()
    if not isinstance(raw_value, (list, tuple)) or not all(
        isinstance(d, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in d.items())
        for d in raw_value
    ):
        raise InvalidFieldTypeException(address, alias, raw_value, expected_type="a list of dicts of strings")
    for entry in raw_value:
        missing = [key for key in required if not entry.get(key)]
        if missing:
            raise InvalidFieldException(
                f"The `{alias}` field of {address} has an entry without {', '.join(missing)}: {entry}."
            )
    return tuple(FrozenDict(d) for d in raw_value)


class ImageDependenciesField(Dependencies):
    help = help_text(
        """
        Inferred: the `rpm_package` targets whose packages `packages` names (a package name
        resolves as builds resolve it: two targets providing it is an error), the
        toolchain_stage images are assembled in (`[image].toolchain`) and the `rpm_repository`
        targets `repos` names. With them,
        `./pants dependencies`, `dependents` and `--changed-dependents` see spec -> RPM -> image.
        """
    )


class ImageReposField(StringSequenceField):
    alias = "repos"
    help = help_text(
        """
        Package repositories the system updates from: addresses of `rpm_repository` targets,
        e.g. `["//repos:core-updates"]`. For each, the image gets
        `/etc/yum.repos.d/<repo_id>.repo` (for dnf and tdnf) whose `baseurl` is the
        repository's `base_url` field, the URL you serve it at; when `[rpm-sign].key` is set,
        also the public key at `/etc/pki/rpm-gpg/RPM-GPG-KEY-<repo_id>`, which the `.repo`'s
        `gpgkey` names, with `gpgcheck=1` and `repo_gpgcheck=1`. The system trusts the key it
        was built with, not one downloaded from the server. Without a key, the `.repo` says
        `gpgcheck=0`. Building the image does not build the repository: only its settings and
        the key are used. The repositories are dependencies of the image (`./pants
        dependencies`).
        """
    )


# What every image kind holds: a system of packages, accounts, files and scripts.
SYSTEM_FIELDS = (
    ImageBaseField,
    DiskImagePackagesField,
    ImageDependenciesField,
    DiskImageHostnameField,
    DiskImageRpmDbField,
    DiskImageUsersField,
    DiskImageGroupsField,
    DiskImageFilesField,
    DiskImagePostInstallField,
    ImageReposField,
)


class DiskImageOutputPathField(StringField):
    alias = "output_path"
    help = help_text(
        """
        Where under `dist/` to write the image. Default: `DIR/BASE.FORMAT` for a target in `DIR`
        named after its format (`BASE`: the last part of `DIR`), e.g. `dist/images/core/core.vhdx`
        for `images/core:vhdx`; else `DIR/BASE-NAME.FORMAT`, e.g. `dist/images/core/core-big.vhdx`
        for `images/core:big`.
        """
    )


class ImageTarget(Target):
    """What every image kind checks when its BUILD file is read."""

    def validate(self) -> None:
        if not self[ImageBaseField].value and not self[DiskImagePackagesField].value:
            raise InvalidTargetException(
                f"{self.address} has neither `packages` nor a `base`: name what to install, "
                "e.g. `packages=[\"//images/core:base\"]`, or an image to build on, e.g. "
                "`base=\"//images/core:vhdx\"`."
            )

    def own_or_fallback(self, field: type[Field]) -> Any:
        """A field's value as written, else its default (for checks of images without a base;
        an image with one is checked with the merged values, util_rules/settings.py)."""
        value = self[field].value
        return field.fallback if value is None else value


def check_disk_fields(address: Address, size: str, partitions, ab_slots: bool) -> None:
    """The layout checks of a disk image, raised as InvalidLayoutError."""
    check_layout(address, size, partitions)
    if ab_slots:
        check_ab_boot(address, partitions)
        ab_slot_partitions(address, size, partitions)


class DiskImageTarget(ImageTarget):
    alias = "disk_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        *SYSTEM_FIELDS,
        DiskImageFormatField,
        DiskImageSizeField,
        DiskImagePartitionsField,
        DiskImageAbSlotsField,
        DiskImageKernelCmdlineField,
        DiskImageOutputPathField,
    )
    help = help_text(
        """
        A disk image (VHDX, VHD, raw or qcow2) with a GPT, its partitions' filesystems, and a
        root with `packages` installed by rpm, built without root, loop devices or mounts, and
        byte-identical across clean builds. `./pants package images/core:vhdx`.
        """
    )

    def validate(self) -> None:
        super().validate()
        if self[ImageBaseField].value:
            return
        # The layout is checked when the BUILD file is read, by the code that computes it.
        try:
            check_disk_fields(
                self.address,
                self.own_or_fallback(DiskImageSizeField),
                self.own_or_fallback(DiskImagePartitionsField),
                self.own_or_fallback(DiskImageAbSlotsField),
            )
        except InvalidLayoutError as e:
            raise InvalidTargetException(str(e)) from e


class ContainerImageOutputPathField(StringField):
    alias = "output_path"
    help = help_text(
        """
        Where under `dist/` to write the OCI layout tarball; the plain root is written next to it
        as `.rootfs.tar.zst`. Default: `DIR/BASE.oci.tar` for a target named `container` in `DIR`
        (`BASE`: the last part of `DIR`), else `DIR/BASE-NAME.oci.tar`.
        """
    )


class ContainerImageTarget(ImageTarget):
    alias = "container_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        *SYSTEM_FIELDS,
        ContainerImageOutputPathField,
    )
    help = help_text(
        """
        A container image of `packages`: an OCI image layout as a tarball (one layer, compressed
        with zstd; `skopeo copy oci-archive:FILE ...` or `podman load` read it), and the same
        root as a plain `.rootfs.tar.zst`. The root is the one disk images with the same packages
        and settings get, so it is installed once. Byte-identical across clean builds.
        """
    )


class IsoVolumeIdField(StringField):
    alias = "volume_id"
    fallback = "KEEL"
    help = "The ISO 9660 volume id (label), up to 32 characters. Default: the `base`'s, else `KEEL`."

    @classmethod
    def compute_value(cls, raw_value: str | None, address: Address) -> str | None:
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        if not value or len(value) > 32:
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {value!r}; an ISO 9660 volume id has 1 to "
                "32 characters, e.g. \"KEEL_CORE\"."
            )
        return value


class IsoImageOutputPathField(StringField):
    alias = "output_path"
    help = help_text(
        """
        Where under `dist/` to write the ISO. Default: `DIR/BASE.iso` for a target named `iso`
        in `DIR` (`BASE`: the last part of `DIR`), else `DIR/BASE-NAME.iso`.
        """
    )


class IsoImageTarget(ImageTarget):
    alias = "iso_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        *SYSTEM_FIELDS,
        DiskImageKernelCmdlineField,
        IsoVolumeIdField,
        IsoImageOutputPathField,
    )
    help = help_text(
        """
        A UEFI-bootable ISO of `packages`: the root as ISO 9660 with Rock Ridge, and the files
        under /boot/efi as the El Torito EFI boot image. Made by xorriso with every time from
        SOURCE_DATE_EPOCH: byte-identical across clean builds.
        """
    )


class UpdateImageOutputPathField(StringField):
    alias = "output_path"
    help = help_text(
        """
        Where under `dist/` to write the update artifact; the COSI file is written next to it
        (`.cosi` for `.update.tar`). Default: `DIR/BASE.update.tar` for a target named `update`
        in `DIR` (`BASE`: the last part of `DIR`), else `DIR/BASE-NAME.update.tar`.
        """
    )


class UpdateImageTarget(ImageTarget):
    alias = "update_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        *SYSTEM_FIELDS,
        DiskImageSizeField,
        DiskImagePartitionsField,
        DiskImageKernelCmdlineField,
        UpdateImageOutputPathField,
    )
    help = help_text(
        """
        An image-based update: the root filesystem of the A/B disk that a `disk_image` with the
        same system fields, `size`, `partitions` and `ab_slots=True` has in its root slot, byte
        for byte (ext4 of the slot's size; what other partitions mount, such as the ESP's
        /boot/efi, stays out), for keel-update to write into the other slot. Written as
        `NAME.update.tar`: `manifest.json` (format keel-update/1: version, sizes and sha256 of
        the image, the installed packages from the rpm database, or from the RPMs' headers with
        `rpm_db=False`, the slot size), its detached
        signature by the `[rpm-sign]` key, `root.img.zst`; and as `NAME.cosi`, Azure Linux's
        Composable OS Image 1.2 (the primary GPT, the ESP and the root slot). An update must be
        signed: without `[rpm-sign].key` it is an error. Byte-identical across clean builds.
        """
    )

    def validate(self) -> None:
        super().validate()
        if self[ImageBaseField].value:
            return
        try:
            ab_slot_partitions(
                self.address, self.own_or_fallback(DiskImageSizeField), self.own_or_fallback(DiskImagePartitionsField)
            )
        except InvalidLayoutError as e:
            raise InvalidTargetException(str(e)) from e
