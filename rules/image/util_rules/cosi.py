"""The metadata of a COSI file (Composable OS Image, revision 1.2), Azure Linux's image format for
A/B updates and installs (Trident reads it). Pure functions.

What 1.2 asks, in short (tests/image/cosi_schema.py checks each point):
- an uncompressed tar: first a regular empty file `cosi-marker` (so the file starts with those
  11 bytes), then `metadata.json`, then the zstd images of the disk's regions under `images/`,
  in the order they lie on the disk, the primary GPT (protective MBR, header, entries) first;
  names without a leading `./`;
- metadata.json: `version` "1.2"; `osArch` (`uname -m` names: x86_64, arm64); `osRelease`
  (/etc/os-release verbatim); `images`, one Filesystem per partition image (`image`,
  `mountPoint`, `fsType` as the kernel names it, `fsUuid` unique, `partType` GPT type GUID,
  `verity` or null); `disk` (`size` in bytes, a multiple of `lbaSize`, `type` "gpt",
  `lbaSize`, `gptRegions`: the primary GPT, then each partition in the tar by `number`, in
  disk order); `osPackages` (name, version, release, arch); `bootloader` (`type` grub or
  systemd-boot, `systemdBoot` entries for the latter); `compression` (`maxWindowLog`, the
  largest zstd window log of the images); optional `id` (a UUID). An ImageFile is `path`
  (under images/), `compressedSize`, `uncompressedSize` and `sha384` of the compressed bytes,
  the same object in `images` and in `gptRegions`.

What keel fills, and what it leaves out:
- regions: the primary GPT and every partition that has a filesystem (the ESP and the root
  slot `root-a`); the empty second slot `root-b` is in the GPT only, as 1.2 allows. Images are
  not shrunk (a SHOULD): each is its whole partition, which 1.2 tells readers not to resize.
- `partType` is the type the GPT holds: keel's root slots are generic Linux data
  (0fc63daf-...), not the Discoverable Partitions root type 1.2 prefers.
- `bootloader`: keel core has no boot loader. UEFI starts the kernel itself (an EFI stub at
  \\EFI\\BOOT\\BOOTX64.EFI, with its initramfs and command line built in), and the initramfs
  picks the slot. Neither grub nor systemd-boot is true, so keel writes `"none"`, outside 1.2's
  list: a reader that would configure a boot loader refuses the file instead of acting on a
  false one. This is the one field keel's COSI does not fill as 1.2 lists it.
- `verity`: null (keel does not use dm-verity).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Mapping

from rules.image.util_rules.layout import EMPTY, MIB, SECTOR, DiskLayout, Partition
from rules.image.util_rules.update_manifest import RootPackage

VERSION = "1.2"
MARKER = "cosi-marker"
METADATA = "metadata.json"
PRIMARY_GPT = "primary-gpt"
# See the module's docstring: true of keel, outside 1.2's list.
BOOTLOADER = "none"
# rpm's architecture names as `uname -m` gives them for COSI's osArch.
_OS_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}


class CosiError(Exception):
    pass


@dataclass(frozen=True)
class CosiImage:
    """One compressed region image in the COSI tar."""

    path: str  # images/NAME.rawzst
    compressed_size: int
    uncompressed_size: int
    sha384: str
    window_log: int  # of its zstd frame

    def json(self) -> dict:
        return {
            "path": self.path,
            "compressedSize": self.compressed_size,
            "uncompressedSize": self.uncompressed_size,
            "sha384": self.sha384,
        }


def image_path(region: str) -> str:
    return f"images/{region}.rawzst"


def regions(layout: DiskLayout) -> tuple[str, ...]:
    """The region images of a layout, in disk order: the primary GPT, then each partition with a
    filesystem, by name."""
    return (PRIMARY_GPT, *(p.name for p in layout.partitions if p.filesystem != EMPTY))


def fs_uuid(partition: Partition) -> str:
    """The filesystem's id as blkid shows it: a UUID for ext4, the volume serial for vfat."""
    if partition.filesystem == "vfat":
        serial = partition.vfat_volume_id.upper()
        return f"{serial[:4]}-{serial[4:]}"
    return partition.fs_uuid.lower()


def os_arch(packages: tuple[RootPackage, ...]) -> str:
    """The system's architecture, from its packages (noarch ones say nothing). keel builds for
    x86_64 only, which a root of noarch packages is taken to be."""
    arches = sorted({p.arch for p in packages} - {"noarch"})
    known = {_OS_ARCH[a] for a in arches if a in _OS_ARCH}
    if len(known) > 1 or any(a not in _OS_ARCH for a in arches):
        raise CosiError(f"the root holds packages for {', '.join(arches)}; COSI names one of x86_64 and arm64.")
    return known.pop() if known else "x86_64"


def cosi_metadata(
    *,
    layout: DiskLayout,
    images: Mapping[str, CosiImage],
    os_release: str,
    packages: tuple[RootPackage, ...],
    image_id: str,
) -> dict:
    """metadata.json of the COSI file of `layout`'s disk; `images` by region name."""
    gpt_regions = [{"image": images[PRIMARY_GPT].json(), "type": "primary-gpt"}]
    filesystems = []
    for partition in layout.partitions:  # disk order
        if partition.filesystem == EMPTY:
            continue
        image = images[partition.name].json()
        gpt_regions.append({"image": image, "type": "partition", "number": partition.number})
        filesystems.append(
            {
                "image": image,
                "mountPoint": partition.mount,
                "fsType": partition.filesystem,
                "fsUuid": fs_uuid(partition),
                "partType": partition.type_guid.lower(),
                "verity": None,
            }
        )
    return {
        "version": VERSION,
        "id": image_id,
        "osArch": os_arch(packages),
        "osRelease": os_release,
        "images": filesystems,
        "disk": {"size": layout.size_mib * MIB, "type": "gpt", "lbaSize": SECTOR, "gptRegions": gpt_regions},
        "osPackages": [
            {"name": p.name, "version": p.version, "release": p.release, "arch": p.arch} for p in sorted(packages)
        ],
        "bootloader": {"type": BOOTLOADER},
        "compression": {"maxWindowLog": max(i.window_log for i in images.values())},
    }


def cosi_id(*parts: str) -> str:
    """The COSI file's `id`: a name-based UUID of what it holds, never random."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "keel-cosi:" + "|".join(parts)))


def metadata_json(metadata: dict) -> str:
    return json.dumps(metadata, indent=2, sort_keys=True) + "\n"
