"""COSI (Composable OS Image) revision 1.2, as its published specification describes the file and
its metadata.json: written down here field by field from the specification's tables, and checked.

`metadata_problems(doc)` lists what in a metadata.json breaks 1.2; `cosi_file_problems(path)`
checks the tar around it too (member order, marker, sizes, sha384s). Both return a list of
problems, empty for a valid file, so a test can say exactly which deviation it accepts.
"""
from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SHA384 = re.compile(r"^[0-9a-fA-F]{96}$")
ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"

# Root object: field -> (JSON type, required in 1.2).
ROOT = {
    "version": (str, True),  # "MAJOR.MINOR"; "1.2" here
    "osArch": (str, True),  # OsArchitecture, case-insensitive
    "osRelease": (str, True),  # /etc/os-release verbatim
    "images": (list, True),  # Filesystem[]
    "disk": (dict, True),  # Disk (added in 1.2)
    "osPackages": (list, True),  # OsPackage[] (required since 1.1)
    "bootloader": (dict, True),  # Bootloader (required since 1.1)
    "id": (str, False),  # a UUID
    "compression": (dict, True),  # Compression (added in 1.2)
}
OS_ARCHITECTURES = ("x86_64", "arm64")
# Filesystem object.
FILESYSTEM = {
    "image": (dict, True),  # ImageFile
    "mountPoint": (str, True),
    "fsType": (str, True),  # the kernel's name of the filesystem
    "fsUuid": (str, True),  # unique among the file's filesystems
    "partType": (str, True),  # GPT type GUID; the ESP's is ESP_TYPE
    "verity": ((dict, type(None)), False),  # VerityConfig, or absent/null without dm-verity
}
FS_TYPES = ("ext4", "ext3", "ext2", "cramfs", "squashfs", "vfat", "msdos", "exfat", "iso9660", "ntfs", "btrfs", "xfs")
VERITY = {"image": (dict, True), "roothash": (str, True)}
# ImageFile object.
IMAGE_FILE = {
    "path": (str, True),  # under images/
    "compressedSize": (int, True),
    "uncompressedSize": (int, True),
    "sha384": (str, True),  # of the compressed bytes
}
# Disk object (1.2).
DISK = {
    "size": (int, True),  # bytes, a multiple of lbaSize
    "type": (str, True),  # DiskType: only "gpt"
    "lbaSize": (int, True),
    "gptRegions": (list, False),  # required when type is gpt
}
# GptDiskRegion object (1.2).
GPT_REGION = {
    "image": (dict, True),
    "type": (str, True),  # RegionType: primary-gpt or partition
    "number": (int, False),  # 1-based GPT entry, required for partitions
}
REGION_TYPES = ("primary-gpt", "partition")
OS_PACKAGE = {"name": (str, True), "version": (str, True), "release": (str, True), "arch": (str, True)}
BOOTLOADER = {"type": (str, True), "systemdBoot": ((dict, type(None)), False)}
BOOTLOADER_TYPES = ("systemd-boot", "grub")
SYSTEMD_BOOT_ENTRY = {"type": (str, True), "path": (str, True), "cmdline": (str, True), "kernel": (str, True)}
SYSTEMD_BOOT_ENTRY_TYPES = ("uki-standalone", "uki-config", "config")
COMPRESSION = {"maxWindowLog": (int, True)}


def _fields(where: str, value, spec: dict, problems: list[str]) -> bool:
    """Types and presence of `spec`'s fields in `value`; extra fields are allowed (readers must
    ignore them). False when `value` is not an object at all."""
    if not isinstance(value, dict):
        problems.append(f"{where}: not an object")
        return False
    for name, (kind, required) in spec.items():
        if name not in value:
            if required:
                problems.append(f"{where}.{name}: missing")
            continue
        item = value[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(item, bool) or not isinstance(item, kinds):
            problems.append(f"{where}.{name}: {type(item).__name__}, not {'/'.join(k.__name__ for k in kinds)}")
    return True


def _image_file(where: str, value, problems: list[str]) -> None:
    if not _fields(where, value, IMAGE_FILE, problems):
        return
    if not str(value.get("path", "")).startswith("images/"):
        problems.append(f"{where}.path: {value.get('path')!r} is not under images/")
    for size in ("compressedSize", "uncompressedSize"):
        if isinstance(value.get(size), int) and value[size] < 0:
            problems.append(f"{where}.{size}: negative")
    if not SHA384.match(str(value.get("sha384", ""))):
        problems.append(f"{where}.sha384: not 96 hex digits")


def metadata_problems(doc) -> list[str]:
    problems: list[str] = []
    if not _fields("metadata", doc, ROOT, problems):
        return problems
    if doc.get("version") != "1.2":
        problems.append(f"metadata.version: {doc.get('version')!r}, not '1.2'")
    if str(doc.get("osArch", "")).lower() not in OS_ARCHITECTURES:
        problems.append(f"metadata.osArch: {doc.get('osArch')!r}, not one of {OS_ARCHITECTURES}")
    if "id" in doc and not UUID.match(str(doc["id"])):
        problems.append("metadata.id: not a UUID")

    filesystems = doc.get("images") or []
    uuids = [f.get("fsUuid") for f in filesystems if isinstance(f, dict)]
    for i, fs in enumerate(filesystems):
        where = f"metadata.images[{i}]"
        if not _fields(where, fs, FILESYSTEM, problems):
            continue
        _image_file(f"{where}.image", fs.get("image"), problems)
        if fs.get("fsType") not in FS_TYPES:
            problems.append(f"{where}.fsType: {fs.get('fsType')!r} is not a kernel filesystem name")
        if not fs.get("fsUuid") or uuids.count(fs.get("fsUuid")) > 1:
            problems.append(f"{where}.fsUuid: empty or not unique")
        if not UUID.match(str(fs.get("partType", ""))):
            problems.append(f"{where}.partType: not a UUID")
        if fs.get("mountPoint") == "/boot/efi" and str(fs.get("partType", "")).lower() != ESP_TYPE:
            problems.append(f"{where}.partType: the ESP's type must be {ESP_TYPE}")
        if isinstance(fs.get("verity"), dict) and _fields(f"{where}.verity", fs["verity"], VERITY, problems):
            _image_file(f"{where}.verity.image", fs["verity"].get("image"), problems)

    disk = doc.get("disk")
    if _fields("metadata.disk", disk, DISK, problems):
        if disk.get("type") != "gpt":
            problems.append(f"metadata.disk.type: {disk.get('type')!r}, not 'gpt'")
        lba = disk.get("lbaSize")
        if isinstance(lba, int) and (lba < 1 or disk.get("size", 0) % lba):
            problems.append("metadata.disk.size: not a multiple of lbaSize")
        regions = disk.get("gptRegions")
        if disk.get("type") == "gpt" and not isinstance(regions, list):
            problems.append("metadata.disk.gptRegions: required for a GPT disk")
        regions = regions or []
        for i, region in enumerate(regions):
            where = f"metadata.disk.gptRegions[{i}]"
            if not _fields(where, region, GPT_REGION, problems):
                continue
            _image_file(f"{where}.image", region.get("image"), problems)
            if region.get("type") not in REGION_TYPES:
                problems.append(f"{where}.type: {region.get('type')!r}")
            if region.get("type") == "partition" and not (isinstance(region.get("number"), int) and region["number"] >= 1):
                problems.append(f"{where}.number: a partition needs its 1-based number")
        kinds = [r.get("type") for r in regions if isinstance(r, dict)]
        if kinds[:1] != ["primary-gpt"] or kinds.count("primary-gpt") != 1:
            problems.append("metadata.disk.gptRegions: one primary-gpt region, first")
        numbers = [r.get("number") for r in regions if isinstance(r, dict) and r.get("type") == "partition"]
        if len(set(numbers)) != len(numbers):
            problems.append("metadata.disk.gptRegions: a partition twice")
        # Every filesystem's image is exactly one region's image: the same object.
        for i, fs in enumerate(filesystems):
            same = [r for r in regions if isinstance(r, dict) and r.get("image", {}).get("path") == fs.get("image", {}).get("path")]
            if len(same) != 1 or same[0].get("image") != fs.get("image"):
                problems.append(f"metadata.images[{i}].image: not exactly one gptRegions entry with the same ImageFile")

    for i, package in enumerate(doc.get("osPackages") or []):
        _fields(f"metadata.osPackages[{i}]", package, OS_PACKAGE, problems)

    bootloader = doc.get("bootloader")
    if _fields("metadata.bootloader", bootloader, BOOTLOADER, problems):
        kind = bootloader.get("type")
        if kind not in BOOTLOADER_TYPES:
            problems.append(f"metadata.bootloader.type: {kind!r}, not one of {BOOTLOADER_TYPES}")
        if kind == "systemd-boot":
            entries = (bootloader.get("systemdBoot") or {}).get("entries")
            if not isinstance(entries, list):
                problems.append("metadata.bootloader.systemdBoot.entries: required for systemd-boot")
            for i, entry in enumerate(entries or []):
                where = f"metadata.bootloader.systemdBoot.entries[{i}]"
                if _fields(where, entry, SYSTEMD_BOOT_ENTRY, problems) and entry.get("type") not in SYSTEMD_BOOT_ENTRY_TYPES:
                    problems.append(f"{where}.type: {entry.get('type')!r}")
        elif bootloader.get("systemdBoot") is not None:
            problems.append("metadata.bootloader.systemdBoot: only for systemd-boot")

    compression = doc.get("compression")
    if _fields("metadata.compression", compression, COMPRESSION, problems):
        if isinstance(compression.get("maxWindowLog"), int) and compression["maxWindowLog"] < 0:
            problems.append("metadata.compression.maxWindowLog: negative")
    return problems


def cosi_file_problems(path: Path) -> tuple[dict, list[str]]:
    """The metadata of the COSI file at `path`, and every problem of the file: the tar (first a
    regular empty `cosi-marker`, then `metadata.json`, then the region images in gptRegions'
    order, names without `./`), each image's sizes and sha384, and the metadata."""
    problems: list[str] = []
    data = path.read_bytes()
    if data[:11] != b"cosi-marker":
        problems.append("the file does not start with the bytes 'cosi-marker'")
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        if names[:2] != ["cosi-marker", "metadata.json"]:
            problems.append(f"tar: the first members are {names[:2]}, not cosi-marker and metadata.json")
        if members and (not members[0].isreg() or members[0].size != 0):
            problems.append("tar: cosi-marker is not an empty regular file")
        if any(n.startswith(("./", "/")) for n in names):
            problems.append("tar: a member name starts with ./ or /")
        metadata = json.loads(tar.extractfile("metadata.json").read())
        problems += metadata_problems(metadata)
        regions = (metadata.get("disk") or {}).get("gptRegions") or []
        wanted = [r["image"]["path"] for r in regions]
        if names[2 : 2 + len(wanted)] != wanted:
            problems.append(f"tar: region images {names[2:]} are not right after the metadata in disk order {wanted}")
        for region in regions:
            image = region["image"]
            member = tar.getmember(image["path"])
            content = tar.extractfile(member).read()
            if len(content) != image["compressedSize"]:
                problems.append(f"{image['path']}: {len(content)} bytes, compressedSize says {image['compressedSize']}")
            if hashlib.sha384(content).hexdigest() != image["sha384"].lower():
                problems.append(f"{image['path']}: sha384 differs")
    return metadata, problems
