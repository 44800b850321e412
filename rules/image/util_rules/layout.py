"""A disk's layout, computed and checked before any action runs: sizes, GPT sectors, and
identifiers derived from the inputs (never random), so two builds give the same bytes.

With A/B root slots (disk_image's `ab_slots`, and every update_image), the partition that mounts
"/" is GPT name `root-a` and a second one of the same size, `root-b`, follows it, left empty
(zeroes) for an update to be written into. keel core's initramfs boots the slot that the boot
state in `keel/` on the EFI system partition (GPT name `esp`) names; the disk build writes
`keel/slot` = `a` (scripts/make_disk.sh).
"""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from pants.engine.addresses import Address
from pants.util.frozendict import FrozenDict

from rules.core.origin import TargetInputError

MIB = 1 << 20
SECTOR = 512
# The GPT takes 34 sectors at each end; partitions start at 1 MiB, aligned to 1 MiB.
FIRST_LBA = MIB // SECTOR
GPT_BACKUP_BYTES = 33 * SECTOR

TYPE_GUIDS = {
    "esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
}
_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_SIZE = re.compile(r"^([1-9][0-9]*)([MG])$")
# Partition names go into the sfdisk script (quoted) and the plan (tab-separated) as they are.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
FILESYSTEMS = ("ext4", "vfat")
# A partition with this filesystem is left empty (zeroes) and mounts nothing: the second root
# slot of an A/B disk, which gets its filesystem when an update is written into it.
EMPTY = "none"
# The root slots of an A/B disk (GPT names): the initramfs boots one of them.
ROOT_SLOTS = ("root-a", "root-b")


class InvalidLayoutError(TargetInputError):
    pass


def parse_mib(value: str, what: str) -> int:
    match = _SIZE.match(value.strip())
    if not match:
        raise InvalidLayoutError(f"{what} is {value!r}; write MiB or GiB, e.g. \"64M\" or \"2G\".")
    return int(match.group(1)) * (1024 if match.group(2) == "G" else 1)


def derived_guid(*parts: str) -> str:
    """A GUID that depends only on `parts` (an RFC 4122 name-based UUID over sha256)."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=5)).upper()


@dataclass(frozen=True)
class Partition:
    number: int
    name: str
    start_mib: int
    size_mib: int
    filesystem: str
    type_guid: str
    mount: str
    label: str
    uuid: str  # the GPT partition GUID
    fs_uuid: str  # the filesystem's own id

    @property
    def vfat_volume_id(self) -> str:
        return self.fs_uuid.replace("-", "")[:8]


@dataclass(frozen=True)
class DiskLayout:
    size_mib: int
    disk_guid: str
    partitions: tuple[Partition, ...]

    def sfdisk_script(self) -> str:
        lines = [
            "label: gpt",
            f"label-id: {self.disk_guid}",
            "unit: sectors",
            f"first-lba: {FIRST_LBA}",
            "sector-size: 512",
        ]
        for p in self.partitions:
            lines.append(
                f"start={p.start_mib * MIB // SECTOR}, size={p.size_mib * MIB // SECTOR}, "
                f'type={p.type_guid}, uuid={p.uuid}, name="{p.name}"'
            )
        return "\n".join(lines) + "\n"

    def partition(self, name: str) -> Partition:
        return next(p for p in self.partitions if p.name == name)

    @property
    def root(self) -> Partition:
        """The partition mounting "/" (the first root slot of an A/B disk)."""
        return next(p for p in self.partitions if p.mount == "/")

    def plan(self) -> str:
        """One line per partition with a filesystem, for scripts/make_disk.sh (mount points
        deepest first). Empty partitions are only in the GPT."""
        made = [p for p in self.partitions if p.filesystem != EMPTY]
        ordered = sorted(made, key=lambda p: (-p.mount.count("/"), p.mount != "/", p.number))
        return "".join(
            f"{p.number}\t{p.name}\t{p.start_mib}\t{p.size_mib}\t{p.filesystem}\t{p.mount}\t"
            f"{p.label}\t{p.fs_uuid}\t{p.vfat_volume_id}\n"
            for p in ordered
        )


def check_layout(address: Address, size: str, partitions) -> None:
    """Raise InvalidLayoutError if `disk_layout` would: the check run when a target is parsed."""
    disk_layout(address, size, partitions, seed="")


def disk_layout(address: Address, size: str, partitions, seed: str) -> DiskLayout:
    """`seed` (a digest of what goes on the disk) makes the identifiers; errors name the field.
    A partition without `size` takes the rest, like `"*"`."""

    def fail(field: str, message: str) -> InvalidLayoutError:
        return InvalidLayoutError(f"The `{field}` field of {address}: {message}")

    try:
        size_mib = parse_mib(size, "the disk size")
    except InvalidLayoutError as e:
        raise fail("size", str(e))
    if not partitions:
        raise fail("partitions", "a disk needs at least one partition.")
    names = [p.get("name", "") for p in partitions]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise fail("partitions", f"every partition needs a unique `name`; got {names}.")
    bad_names = [n for n in names if not _NAME.match(n)]
    if bad_names:
        raise fail("partitions", f"partition names are letters, digits, `.`, `_` and `-`; got {bad_names}.")
    mounts = [p.get("mount") for p in partitions]
    if mounts.count("/") != 1:
        raise fail("partitions", "exactly one partition must have `\"mount\": \"/\"`.")
    shared = sorted({m for m in mounts if m and mounts.count(m) > 1})
    if shared:
        raise fail("partitions", f"two partitions mount {shared[0]}; give each its own `mount`.")
    rest = [p["name"] for p in partitions if p.get("size", "*") == "*"]
    if len(rest) > 1:
        raise fail(
            "partitions",
            f"only one partition may take the rest (no `size`, or `\"*\"`), but {', '.join(rest)} "
            "all do; give the others a `size` such as \"64M\".",
        )

    fixed = {}
    for p in partitions:
        if p.get("size", "*") != "*":
            try:
                fixed[p["name"]] = parse_mib(p["size"], f"the size of partition {p['name']}")
            except InvalidLayoutError as e:
                raise fail("partitions", str(e))
    # 1 MiB before the first partition, and room for the backup GPT after the last.
    available = size_mib - 1 - 1
    used = sum(fixed.values())
    if used > available or (rest and used >= available):
        raise fail(
            "size",
            f"{size} cannot hold partitions of {used} MiB plus the GPT (2 MiB); raise `size` or "
            "shrink the partitions.",
        )

    result = []
    start = 1
    for number, p in enumerate(partitions, start=1):
        filesystem = p.get("filesystem", "ext4")
        if filesystem not in (*FILESYSTEMS, EMPTY):
            raise fail(
                "partitions",
                f"partition {p['name']} has filesystem {filesystem!r}; keel makes ext4 and vfat "
                f"(or leaves a partition empty: {EMPTY!r}).",
            )
        type_name = p.get("type", "linux")
        type_guid = TYPE_GUIDS.get(type_name, type_name.upper())
        if not _GUID.match(type_guid):
            raise fail("partitions", f"partition {p['name']} has type {type_name!r}; use esp, linux or a GUID.")
        mount = p.get("mount", "")
        if filesystem == EMPTY:
            if mount:
                raise fail("partitions", f"partition {p['name']} is empty ({EMPTY!r}): it cannot mount {mount}.")
        elif not mount.startswith("/"):
            raise fail("partitions", f"partition {p['name']} needs an absolute `mount`, e.g. \"/boot/efi\".")
        mib = fixed.get(p["name"], available - used)
        result.append(
            Partition(
                number=number,
                name=p["name"],
                start_mib=start,
                size_mib=mib,
                filesystem=filesystem,
                type_guid=type_guid,
                mount=mount,
                label=p.get("label", p["name"])[:11 if filesystem == "vfat" else 16],
                uuid=derived_guid(seed, "partition", p["name"]),
                fs_uuid=derived_guid(seed, "filesystem", p["name"]),
            )
        )
        start += mib
    return DiskLayout(size_mib, derived_guid(seed, "disk"), tuple(result))


def ab_slot_partitions(address: Address, size: str, partitions) -> tuple[FrozenDict[str, str], ...]:
    """The partitions of an A/B disk, in the vocabulary of the `partitions` field: the partition
    mounting "/" becomes `root-a`, and `root-b`, empty, of the same size and type, follows it.

    A root that takes the rest of the disk (no `size`, or `"*"`) gives half of that rest, in whole
    MiB, to each slot; a root of a fixed size is that size twice. Both slot sizes are written out,
    so `disk_layout` places them like any other partition. disk_image(ab_slots=True) and
    update_image both get their layout through `image_disk_layout`, so an update's root
    filesystem has exactly the size of the slot it is written into."""
    base = disk_layout(address, size, partitions, seed="")
    index = next(i for i, p in enumerate(partitions) if p.get("mount") == "/")
    root = partitions[index]
    clash = sorted({p["name"] for p in partitions if p is not root} & set(ROOT_SLOTS))
    if clash:
        raise InvalidLayoutError(
            f"The `partitions` field of {address}: the A/B root slots are named {' and '.join(ROOT_SLOTS)}; "
            f"rename the partition {clash[0]}."
        )
    root_mib = base.partitions[index].size_mib
    slot_mib = root_mib // 2 if root.get("size", "*") == "*" else root_mib
    if slot_mib < 1:
        raise InvalidLayoutError(
            f"The `size` field of {address}: {size} leaves {root_mib} MiB for two root slots; raise `size`."
        )
    slots = (
        FrozenDict({**root, "name": ROOT_SLOTS[0], "size": f"{slot_mib}M"}),
        FrozenDict(
            {"name": ROOT_SLOTS[1], "size": f"{slot_mib}M", "filesystem": EMPTY, "type": root.get("type", "linux")}
        ),
    )
    result = (*(FrozenDict(p) for p in partitions[:index]), *slots, *(FrozenDict(p) for p in partitions[index + 1 :]))
    try:
        disk_layout(address, size, result, seed="")
    except InvalidLayoutError as e:
        raise InvalidLayoutError(f"{e} (With two root slots of {slot_mib} MiB each: A/B.)") from e
    return result


def image_disk_layout(address: Address, root_sha256: str, size: str, partitions, ab_slots: bool) -> DiskLayout:
    """The layout of an image's disk, its identifiers derived from the installed root's sha256
    and the layout fields (never random). The one place disk_image and update_image compute it:
    the same system and fields give an update's root filesystem the same size, UUID and label
    as the root slot of the A/B disk, and a new root (another version) gives new ones."""
    seed = f"{root_sha256}|{size}|{partitions}"
    if ab_slots:
        partitions = ab_slot_partitions(address, size, partitions)
    return disk_layout(address, size, partitions, seed)


# The GPT name of the EFI system partition on an A/B disk: keel core's initramfs and keel-update
# keep the boot state in its keel/ directory.
ESP_NAME = "esp"


def check_ab_boot(address: Address, partitions) -> None:
    """What keel core needs to boot the slots of an A/B disk: the EFI system partition named
    `esp`, vfat (where the boot state lives), and an ext4 root (the initramfs mounts a slot as
    ext4)."""
    esp = [p for p in partitions if p.get("name") == ESP_NAME]
    if not esp or esp[0].get("filesystem", "ext4") != "vfat":
        raise InvalidLayoutError(
            f"The `partitions` field of {address}: with `ab_slots=True` the boot state lives on the "
            f'EFI system partition, which must be named "{ESP_NAME}" with "filesystem": "vfat" (as in '
            "the default partitions)."
        )
    root = next((p for p in partitions if p.get("mount") == "/"), None)
    if root is not None and root.get("filesystem", "ext4") != "ext4":
        raise InvalidLayoutError(
            f"The `partitions` field of {address}: with `ab_slots=True` the root partition "
            f"{root['name']} must be ext4 (keel core's initramfs mounts a slot as ext4)."
        )
