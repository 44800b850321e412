"""An image's settings with its `base` images applied: what the build, dependency inference and
`rpm-graph` read, never the fields themselves (an image with a base leaves most of them unset).

The rules are the help text of `base` (target_types.ImageBaseField).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import Field, Target, WrappedTarget, WrappedTargetRequest
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.origin import TargetInputError
from rules.image.target_types import (
    DiskImageAbSlotsField,
    DiskImageFilesField,
    DiskImageFormatField,
    DiskImageGroupsField,
    DiskImageHostnameField,
    DiskImageKernelCmdlineField,
    DiskImagePackagesField,
    DiskImagePartitionsField,
    DiskImagePostInstallField,
    DiskImageRpmDbField,
    DiskImageSizeField,
    DiskImageUsersField,
    ImageBaseField,
    ImageReposField,
    IsoVolumeIdField,
    check_disk_fields,
    image_package_entries,
)
from rules.image.util_rules.layout import InvalidLayoutError, ab_slot_partitions


class ImageBaseError(TargetInputError):
    pass


@dataclass(frozen=True)
class WorkspaceFile:
    """A file a `files` or `post_install` field names, and the target whose field names it."""

    owner: Address
    path: str  # relative to the owner's BUILD file, as written

    @property
    def workspace_path(self) -> str:
        return os.path.join(self.owner.spec_path, self.path)


@dataclass(frozen=True)
class ImageSettingsRequest:
    address: Address


@dataclass(frozen=True)
class ImageSettings:
    """The merged values; a field the image's kind does not have holds its fallback."""

    address: Address
    alias: str  # the image's kind
    bases: tuple[Address, ...]  # the nearest first
    packages: tuple[str, ...]  # as expand_packages takes them, relative to `address`
    users: tuple[FrozenDict[str, str], ...]
    groups: tuple[FrozenDict[str, str], ...]
    files: tuple[tuple[str, WorkspaceFile], ...]  # (path in the image, file)
    post_install: tuple[WorkspaceFile, ...]
    repos: tuple[str, ...]  # absolute addresses
    hostname: str
    rpm_db: bool
    format: str
    size: str
    partitions: tuple[FrozenDict[str, str], ...]
    ab_slots: bool
    kernel_cmdline: str
    volume_id: str


SCALARS = {
    "hostname": DiskImageHostnameField,
    "rpm_db": DiskImageRpmDbField,
    "format": DiskImageFormatField,
    "size": DiskImageSizeField,
    "partitions": DiskImagePartitionsField,
    "ab_slots": DiskImageAbSlotsField,
    "kernel_cmdline": DiskImageKernelCmdlineField,
    "volume_id": IsoVolumeIdField,
}


async def _image_chain(address: Address) -> tuple[Target, ...]:
    """The image and its bases, the image first; every one an image target, no loops."""
    chain: list[Target] = []
    current, origin = address, f"the image {address}"
    while True:
        wrapped = await Get(WrappedTarget, WrappedTargetRequest(current, description_of_origin=origin))
        target = wrapped.target
        if chain and not target.has_field(ImageBaseField):
            raise ImageBaseError(
                f"The `base` field of {chain[-1].address} names {current}, a `{target.alias}` target: "
                "a base is an image (`disk_image`, `container_image`, `iso_image` or `update_image`).",
                owner=chain[-1].address,
            )
        if any(t.address == current for t in chain):
            loop = " -> ".join(str(t.address) for t in (*chain, target))
            raise ImageBaseError(
                f"The `base` of {chain[-1].address} leads back to it: {loop}. Remove one of these bases.",
                owner=chain[-1].address,
            )
        chain.append(target)
        base = target[ImageBaseField].value
        if not base:
            return tuple(chain)
        origin = f"the `base` field of {target.address}"
        resolved = await Get(
            Addresses, UnparsedAddressInputs([base], owning_address=target.address, description_of_origin=origin)
        )
        current = resolved[0]


def _merge_by_key(chain: tuple[Target, ...], field: type[Field], key: str, what: str) -> tuple[Any, ...]:
    """Entries of `field` over the chain, the farthest base first; an entry with the same `key`
    must be the same everywhere it appears."""
    merged: dict[str, tuple[Any, Address]] = {}
    for target in reversed(chain):
        for entry in target[field].value or ():
            name = entry[key]
            if name in merged and merged[name][0] != entry:
                first, owner = merged[name]
                raise ImageBaseError(
                    f"The `{field.alias}` field of {target.address} has {what} {name} as "
                    f"{dict(entry)}, and its base {owner} has it as {dict(first)}: an image merges "
                    f"its base's `{field.alias}` with its own, and cannot hold both. Make them the "
                    "same, or leave it to the base.",
                    owner=target.address,
                )
            merged.setdefault(name, (entry, target.address))
    return tuple(entry for entry, _ in merged.values())


@rule(desc="Apply an image's base", level=LogLevel.DEBUG)
async def image_settings(request: ImageSettingsRequest) -> ImageSettings:
    chain = await _image_chain(request.address)
    image = chain[0]
    files: dict[str, WorkspaceFile] = {}
    for target in reversed(chain):
        for image_path, path in (target[DiskImageFilesField].value or {}).items():
            file = WorkspaceFile(target.address, path)
            known = files.get(image_path)
            if known is not None and known.workspace_path != file.workspace_path:
                raise ImageBaseError(
                    f"The `files` field of {target.address} writes {image_path} from "
                    f"{file.workspace_path}, and its base {known.owner} writes it from "
                    f"{known.workspace_path}: an image merges its base's `files` with its own. "
                    "Drop one of them.",
                    owner=target.address,
                )
            files.setdefault(image_path, file)
    repos = await MultiGet(
        Get(
            Addresses,
            UnparsedAddressInputs(
                target[ImageReposField].value or (),
                owning_address=target.address,
                description_of_origin=f"the `repos` field of {target.address}",
            ),
        )
        for target in reversed(chain)
    )

    def scalar(field: type[Field]) -> Any:
        if not image.has_field(field):
            return field.fallback
        for target in chain:
            if target.has_field(field) and target[field].value is not None:
                return target[field].value
        return field.fallback

    settings = ImageSettings(
        address=image.address,
        alias=image.alias,
        bases=tuple(t.address for t in chain[1:]),
        packages=image_package_entries(image[ImageBaseField].value, image[DiskImagePackagesField].value),
        users=_merge_by_key(chain, DiskImageUsersField, "name", "user"),
        groups=_merge_by_key(chain, DiskImageGroupsField, "name", "group"),
        files=tuple(files.items()),
        post_install=tuple(
            WorkspaceFile(t.address, p) for t in reversed(chain) for p in t[DiskImagePostInstallField].value or ()
        ),
        repos=tuple(dict.fromkeys(f"//{a.spec}" for addresses in repos for a in addresses)),
        **{name: scalar(field) for name, field in SCALARS.items()},
    )
    if len(chain) > 1:
        # The checks an image without a base gets when its BUILD file is read, on merged values.
        try:
            if image.has_field(DiskImageFormatField):
                check_disk_fields(image.address, settings.size, settings.partitions, settings.ab_slots)
            elif image.has_field(DiskImageSizeField):
                ab_slot_partitions(image.address, settings.size, settings.partitions)
        except InvalidLayoutError as e:
            raise ImageBaseError(f"With its base {chain[1].address}: {e}", owner=image.address) from e
    return settings


def rules():
    return collect_rules()
