"""The signed manifest of an update artifact (`NAME.update.tar`, format keel-update/1), and what
it is made from: the root's /etc/os-release and its rpm database. Pure functions.

keel-update (busybox sh, in keel core) reads the manifest's top-level scalars with sed, one per
line: hence `json.dumps(indent=1, sort_keys=True)`, which puts each on a line of its own as
` "key": value,`, and nested values deeper.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from rules.core.origin import TargetInputError

FORMAT = "keel-update/1"
ROOT_FILE = "root.img.zst"
# The members of NAME.update.tar, in this order: keel-update reads the manifest and its
# signature before the large root image arrives.
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
MEMBERS = (MANIFEST, SIGNATURE, ROOT_FILE)


class UpdateManifestError(TargetInputError):
    pass


@dataclass(frozen=True, order=True)
class RootPackage:
    """One package of the root's rpm database."""

    name: str
    epoch: int  # 0 when the package has none
    version: str
    release: str
    arch: str


def parse_packages(tsv: str) -> tuple[RootPackage, ...]:
    """`NAME\\tEPOCH\\tVERSION\\tRELEASE\\tARCH` lines (rpm -qa --qf), sorted. rpm prints
    `(none)` for no epoch; gpg-pubkey entries are keys imported into the database, not packages."""
    packages = []
    for line in tsv.splitlines():
        if not line.strip():
            continue
        name, epoch, version, release, arch = line.split("\t")
        if name == "gpg-pubkey":
            continue
        packages.append(RootPackage(name, 0 if epoch == "(none)" else int(epoch), version, release, arch))
    return tuple(sorted(packages))


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): `KEY=value` lines, values optionally quoted ("..." or '...') with
    backslash escapes inside double quotes; `#` lines are comments."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                out, escaped = [], False
                for char in value:
                    if escaped or char != "\\":
                        out.append(char)
                        escaped = False
                    else:
                        escaped = True
                value = "".join(out)
        values[key.strip()] = value
    return values


def os_release_version(text: str | None, origin: str) -> str:
    """VERSION_ID of the root's os-release: what an update is a version of."""
    if text is None:
        raise UpdateManifestError(
            f"{origin}: the root has no /etc/os-release (nor /usr/lib/os-release); an update "
            "names the version it installs by its VERSION_ID. Add the package that installs it "
            "(keel core: core-release) to `packages`."
        )
    version = parse_os_release(text).get("VERSION_ID", "")
    if not version:
        raise UpdateManifestError(
            f"{origin}: the root's /etc/os-release has no VERSION_ID; an update names the "
            "version it installs by it. Give the package that installs os-release a VERSION_ID line."
        )
    return version


@dataclass(frozen=True)
class RootImage:
    """The root filesystem image, as it is written into a slot and as it travels (zstd)."""

    size: int
    sha256: str
    zst_size: int
    zst_sha256: str


def update_manifest(name: str, version: str, root: RootImage, packages: tuple[RootPackage, ...], slot_size: int) -> str:
    document = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "root_file": ROOT_FILE,
        "root_size": root.size,
        "root_sha256": root.sha256,
        "root_zst_size": root.zst_size,
        "root_zst_sha256": root.zst_sha256,
        "packages": [
            {"name": p.name, "epoch": p.epoch, "version": p.version, "release": p.release, "arch": p.arch}
            for p in sorted(packages)
        ],
        "slot_size": slot_size,
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"
