"""An Azure Linux image config as keel targets: the conversion behind `./pants azl-image-import`
(rules/azl/goals/import_image.py).

Azure Linux teams describe an image in the toolkit's image config JSON: `Disks` (the partition
table, its partitions and the output artifact) and `SystemConfigs` (what goes on the system:
package lists, users, files, scripts, kernel command line). `import_image_config` reads one
config, one of its system configs and the package list files it names, and gives the text of a
BUILD file with the equivalent keel targets (a `package_set` of the packages and a
`disk_image` of the disk) and the files to copy next to it (`AdditionalFiles`,
`PostInstallScripts`). A pure function of the parsed config, a reader of the files it names and
the options: the goal reads and writes the workspace around it.

What keel cannot express stops the import: every such field is listed in one error, with the
config file and the field's JSON path. A field whose value is the toolkit's default (`false`,
`""`, `[]`) asks for nothing and is accepted; keys starting with `_` are comments (the
toolkit's convention) and are skipped.
"""
from __future__ import annotations

import ast
import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from pants.engine.addresses import Address

from rules.image.target_types import FORMATS, PARTITION_KEYS
from rules.image.util_rules.accounts import InvalidAccountsError, accounts
from rules.image.util_rules.layout import EMPTY, InvalidLayoutError, check_layout

GOAL = "azl-image-import"
# The first line of every BUILD file the import writes: a BUILD file without it is the user's,
# and the import does not replace it.
HEADER_PREFIX = "# Imported from "
HEADER_SUFFIX = f"by `./pants {GOAL}`."
# Where a copied file goes when its path, relative to the config, leaves the config's directory.
OUTSIDE_DIR = "files"

# The toolkit's FsType values and the filesystem keel makes for them. FAT of any width is
# `vfat`: mkfs.vfat picks the FAT width from the partition's size.
FILESYSTEMS = {"ext4": "ext4", "vfat": "vfat", "fat32": "vfat", "fat16": "vfat"}
# The toolkit's friendly partition `Type` names and their GPT type GUIDs (the UAPI Discoverable
# Partitions Specification and the EFI specification).
PARTITION_TYPES = {
    "linux": "linux",
    "esp": "esp",
    "xbootldr": "BC13C2FF-59E6-4262-A352-B275FD6F7172",
    "linux-root-amd64": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
    "linux-swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
    "linux-home": "933AC7E1-2EB4-4F13-B844-0E14E2AEF915",
    "linux-srv": "3B8F8425-20E0-4F3B-907F-1A25A76F98E8",
    "linux-var": "4D21B016-B534-45C2-A9FB-5C16E091FD2D",
    "linux-tmp": "7EC6F557-3BC5-4ACA-B293-16EF5DF639D1",
    "linux-lvm": "E6D6D379-F507-44C2-A23C-238F2A3DF928",
    "linux-raid": "A19D880F-05FC-4D3B-A006-743F0F84911E",
    "linux-luks": "CA7D7CCB-63ED-4C53-861C-1742536059CC",
    "linux-dm-crypt": "7FFEC5C9-2D00-49B7-8941-3EA10A5586B7",
}
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX_GUID = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
# The kernel command line keel's disks boot with (the `kernel_cmdline` field's default), with
# the root partition's GPT name; the config's own parameters follow it.
CMDLINE = "console=ttyS0 root=PARTLABEL={root} rw"
# CGroup values and the parameter the toolkit adds to the kernel command line for them.
CGROUPS = {"": "", "version_one": "systemd.unified_cgroup_hierarchy=0", "version_two": "systemd.unified_cgroup_hierarchy=1"}
# A binary package name, as keel's `packages` fields take it (no version, not an address).
_PACKAGE = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+-]*$")
_TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Fields keel has nothing for, and why; each stops the import unless its value is the toolkit's
# default (false, "", [], {}), which asks for nothing.
UNSUPPORTED_SYSTEM_FIELDS = {
    "IsKickStartBoot": "keel makes disk images, not kickstart installations",
    "IsIsoInstall": "keel makes disk images, not ISO installers",
    "EnableGrubMkconfig": "keel installs no GRUB: the disk boots what its packages put on the ESP",
    "EnableSystemdFirstboot": "keel does not set /etc/machine-id for systemd-firstboot",
    "PreInstallScripts": "keel runs no scripts before installing packages",
    "FinalizeImageScripts": "keel runs scripts only after installing (PostInstallScripts)",
    "Networks": "keel writes no network configuration; add the files with AdditionalFiles",
    "PackageRepos": "keel's images name rpm_repository targets in `repos`, not URLs",
    "PreserveTdnfCache": "keel installs with rpm: there is no tdnf cache to keep",
    "EnableHidepid": "keel writes no /etc/fstab to mount /proc with hidepid",
    "DisableRpmDocs": "keel installs packages whole, documentation included",
    "OverrideRpmLocales": "keel installs packages whole, every locale included",
    "Encryption": "keel does not encrypt partitions",
}
UNSUPPORTED_CMDLINE_FIELDS = {
    "ImaPolicy": "keel sets no IMA policy",
    "SELinux": "keel images have no SELinux configuration",
    "SELinuxPolicy": "keel images have no SELinux configuration",
    "EnableFIPS": "keel does not set up FIPS mode",
}
UNSUPPORTED_SETTING_FIELDS = {
    "MountOptions": "keel writes no /etc/fstab, so no mount options",
    "MountIdentifier": "keel writes no /etc/fstab, so no mount identifier",
    "RemoveDocs": "keel installs packages whole, documentation included",
    "OverlayBaseImage": "keel makes whole disks, not diffs against a base image",
    "RdiffBaseImage": "keel makes whole disks, not diffs against a base image",
}
UNSUPPORTED_USER_FIELDS = {
    "Password": "keel locks every account's password; reach it by a key or a console",
    "SSHPubKeyPaths": "keel writes no authorized_keys; add the file with AdditionalFiles",
    "SSHPubKeys": "keel writes no authorized_keys; add the file with AdditionalFiles",
}
UNSUPPORTED_DISK_FIELDS = {
    "TargetDisk": "keel makes disk images, not installers",
    "RawBinaries": "keel writes no raw binaries (boot loaders) onto the disk",
}
# The flags the toolkit gives partitions that keel has no counterpart for.
UNSUPPORTED_FLAGS = {
    "grub": "keel makes UEFI disks: no BIOS boot partition",
    "bios_grub": "keel makes UEFI disks: no BIOS boot partition",
    "bios-grub": "keel makes UEFI disks: no BIOS boot partition",
    "dmroot": "keel does not put the root on a device-mapper device",
}




class ImageImportError(Exception):
    """The config cannot be imported; `problems` are "FILE: JSON.PATH: why" lines."""

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message + "".join(f"\n  - {p}" for p in self.problems))


@dataclass(frozen=True)
class SourceFile:
    content: bytes
    executable: bool = False


# Reads a file named by the config, by its path relative to the config's directory; raises
# OSError when there is no such file.
Reader = Callable[[str], SourceFile]


@dataclass(frozen=True)
class ImportOptions:
    config_path: str  # as the BUILD header and errors name it: relative to the build root
    dest: str  # the workspace directory of the BUILD file
    system_config: str | None = None
    name: str | None = None
    default_format: str = "vhdx"


@dataclass(frozen=True)
class CopiedFile:
    path: str  # relative to the BUILD file's directory
    content: bytes
    executable: bool


@dataclass(frozen=True)
class ImportedImage:
    build: str  # the BUILD file's text
    files: tuple[CopiedFile, ...]  # sorted by path
    image: str  # the disk_image's target name
    package_set: str | None  # the package_set's target name, if the system has packages
    packages: int


def is_default(value: Any) -> bool:
    """A value that asks the toolkit for nothing: absent, false, zero, empty, or an object of
    such values (`"Encryption": {"Enable": false}`)."""
    if isinstance(value, dict):
        return all(is_default(v) for _, v in _items(value))
    return value is None or value is False or value == 0 or value == "" or value == []


def _objects(value: Any, path: str, what: str, unsupported) -> list[dict]:
    """A list of JSON objects, or nothing: absent or default asks for nothing, and any other
    shape is reported as not being `what`."""
    if is_default(value):
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        unsupported(path, what)
        return []
    return value


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, file: str, path: str, why: str) -> None:
        self.lines.append(f"{file}: {path}: {why}.")


def _items(obj: dict) -> Iterable[tuple[str, Any]]:
    """An object's keys, less the `_comment` keys."""
    return ((k, v) for k, v in obj.items() if not (isinstance(k, str) and k.startswith("_")))


def _size(mib: int) -> str:
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def _literal(value: Any) -> str:
    """`value` as Python source: strings in double quotes (JSON's escapes are Python's too)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise TypeError(f"no literal for {value!r}")


def _field(name: str, value: Any) -> str:
    """One keyword argument; lists and dicts one entry a line."""
    if isinstance(value, (list, tuple)) and value:
        body = "".join(f"        {_literal(v)},\n" for v in value)
        return f"    {name}=[\n{body}    ],\n"
    if isinstance(value, dict) and value:
        body = "".join(f"        {_literal(k)}: {_literal(v)},\n" for k, v in value.items())
        return f"    {name}={{\n{body}    }},\n"
    return f"    {name}={_literal(value)},\n"


def target_name(system_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", system_name).strip("-._").lower()
    return name or "image"


def _as_str(value: Any) -> str | None:
    """A toolkit id (UID, GID) given as a string or a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else None


def import_image_config(config: Any, options: ImportOptions, read: Reader) -> ImportedImage:
    """The BUILD file and copied files for `config` (the parsed image config JSON), or an
    ImageImportError listing every field keel cannot express."""
    cfg = options.config_path
    config_dir = posixpath.dirname(cfg)
    if not isinstance(config, dict):
        raise ImageImportError(f"{cfg} is not an image config: its top level is not a JSON object.")
    if options.default_format not in FORMATS:
        raise ImageImportError(
            f"`--{GOAL}-format` is {options.default_format!r}; keel makes {', '.join(FORMATS)}."
        )
    problems = _Problems()

    def unsupported(path: str, why: str) -> None:
        problems.add(cfg, path, why)

    for key, _ in _items(config):
        if key not in ("Disks", "SystemConfigs"):
            unsupported(key, "not a field of the toolkit's image config")

    # --- Which system config.
    systems = config.get("SystemConfigs")
    if not isinstance(systems, list) or not systems or not all(isinstance(s, dict) for s in systems):
        raise ImageImportError(f"{cfg} has no `SystemConfigs` (a list of objects): nothing to import.")
    names = [s.get("Name", "") for s in systems]
    if options.system_config is not None:
        if options.system_config not in names:
            raise ImageImportError(
                f"{cfg} has no system config named {options.system_config!r}; its system configs "
                f"are {', '.join(repr(n) for n in names)}."
            )
        index = names.index(options.system_config)
    elif len(systems) == 1:
        index = 0
    else:
        defaults = [n for s, n in zip(systems, names) if s.get("IsDefault")]
        raise ImageImportError(
            f"{cfg} has {len(systems)} system configs ({', '.join(repr(n) for n in names)}); "
            f"name the one to import with `--{GOAL}-system-config=NAME`"
            + (f" (the toolkit's default is {defaults[0]!r})." if defaults else ".")
        )
    system = systems[index]
    sp = f"SystemConfigs[{index}]"
    system_name = system.get("Name") if isinstance(system.get("Name"), str) else ""
    image = options.name or target_name(system_name)
    if not _TARGET_NAME.match(image):
        raise ImageImportError(f"`--{GOAL}-target-name` is {image!r}; a target name is letters, digits, `.`, `_` and `-`.")
    set_name = f"{image}-packages"

    # --- The disk: format, size, partitions.
    disks = config.get("Disks")
    disk: dict = {}
    if not isinstance(disks, list) or not disks or not isinstance(disks[0], dict):
        unsupported("Disks", "a disk_image needs one disk with Partitions (a config without Disks makes a root filesystem)")
    else:
        disk = disks[0]
        for extra in range(1, len(disks)):
            unsupported(f"Disks[{extra}]", "a disk_image is one disk")
    fmt = options.default_format
    output_path = None
    size_mib = 0
    partitions: list[dict[str, str]] = []
    partition_ids: dict[str, int] = {}
    partition_fs: dict[str, str] = {}
    if disk:
        for key, value in _items(disk):
            path = f"Disks[0].{key}"
            if key == "PartitionTableType":
                if value != "gpt":
                    unsupported(path, f"keel makes GPT disks, not {value!r}")
            elif key == "MaxSize":
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    size_mib = value
                else:
                    unsupported(path, "the disk size is a positive number of MiB")
            elif key == "Artifacts":
                fmt, output_path = _artifact(value, path, fmt, options.dest, unsupported)
            elif key == "Partitions":
                pass
            elif key in UNSUPPORTED_DISK_FIELDS:
                if not is_default(value):
                    unsupported(path, UNSUPPORTED_DISK_FIELDS[key])
            else:
                unsupported(path, "not a field of the toolkit's disk config")
        if "PartitionTableType" not in disk:
            unsupported("Disks[0].PartitionTableType", "keel makes GPT disks: say \"gpt\"")
        if "MaxSize" not in disk:
            unsupported("Disks[0].MaxSize", "keel needs the disk size (MiB)")
        raw_partitions = disk.get("Partitions")
        if not isinstance(raw_partitions, list) or not raw_partitions:
            unsupported("Disks[0].Partitions", "a disk_image needs partitions")
        else:
            partitions, partition_ids, partition_fs = _partitions(raw_partitions, unsupported)

    # --- The system.
    mounts: dict[str, str] = {}
    package_lists: list[str] = []
    inline_packages: Any = []
    kernel: str | None = None
    hostname: str | None = None
    extra_cmdline: list[str] = []
    rpm_db = True
    raw_users: Any = []
    raw_groups: Any = []
    raw_files: Any = {}
    raw_scripts: Any = []
    for key, value in _items(system):
        path = f"{sp}.{key}"
        if key in ("Name", "IsDefault"):
            pass
        elif key == "BootType":
            if value not in ("efi", ""):
                unsupported(path, f"keel makes UEFI disks (\"efi\"), not {value!r}")
        elif key == "Hostname":
            if not isinstance(value, str):
                unsupported(path, "a host name is a string")
            elif value:
                hostname = value
        elif key == "PartitionSettings":
            mounts = _partition_settings(value, path, partition_ids, unsupported)
        elif key == "PackageLists":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                unsupported(path, "a list of package list file paths")
            else:
                package_lists = value
        elif key == "Packages":
            inline_packages = value
        elif key == "KernelOptions":
            kernel = _kernel(value, path, unsupported)
        elif key == "KernelCommandLine":
            extra_cmdline = _cmdline(value, path, unsupported)
        elif key == "RemoveRpmDb":
            if not isinstance(value, bool):
                unsupported(path, "true or false")
            rpm_db = not value
        elif key == "Users":
            raw_users = value
        elif key == "Groups":
            raw_groups = value
        elif key == "AdditionalFiles":
            raw_files = value
        elif key == "PostInstallScripts":
            raw_scripts = value
        elif key in UNSUPPORTED_SYSTEM_FIELDS:
            if key == "EnableGrubMkconfig" or not is_default(value):
                unsupported(path, UNSUPPORTED_SYSTEM_FIELDS[key])
        else:
            unsupported(path, "not a field of the toolkit's system config")

    # Partitions get their mount points from the system's PartitionSettings.
    for partition, partition_id in zip(partitions, partition_ids):
        mount = mounts.get(partition_id, "")
        index_path = f"Disks[0].Partitions[{partition_ids[partition_id]}]"
        if mount and partition_fs[partition_id] == EMPTY:
            unsupported(f"{index_path}.FsType", f"partition {partition_id} mounts {mount}: it needs a filesystem")
        elif mount:
            partition["mount"] = mount
        elif partition_fs[partition_id] != EMPTY:
            unsupported(
                index_path,
                f"keel fills a partition's filesystem from its mount point, and partition {partition_id} "
                f"has none in {sp}.PartitionSettings",
            )
    partitions = [{k: p[k] for k in PARTITION_KEYS if k in p} for p in partitions]
    root = next((p for p in partitions if p.get("mount") == "/"), None)
    if partitions and root is None:
        unsupported(f"{sp}.PartitionSettings", "no partition mounts \"/\"")

    # Packages: the ordered union of the lists, then Packages.
    packages: list[str] = []

    def add_packages(names: Any, file: str, path: str) -> None:
        if not isinstance(names, list):
            problems.add(file, path, "a list of package names")
            return
        for i, name in enumerate(names):
            if not isinstance(name, str) or not _PACKAGE.match(name):
                why = (
                    "keel installs the packages it builds, without version pins"
                    if isinstance(name, str) and re.search(r"[=<>]", name)
                    else "not a package name"
                )
                problems.add(file, f"{path}[{i}]", f"{why} ({name!r})")
            elif name not in packages:
                packages.append(name)

    for i, list_path in enumerate(package_lists):
        shown = posixpath.normpath(posixpath.join(config_dir, list_path))
        try:
            data = json.loads(read(list_path).content)
        except (OSError, ValueError) as e:
            unsupported(f"{sp}.PackageLists[{i}]", f"cannot read the package list {shown} ({e})")
            continue
        if not isinstance(data, dict):
            problems.add(shown, "(top level)", "a package list is an object with `packages`")
            continue
        for key, _ in _items(data):
            if key != "packages":
                problems.add(shown, key, "not a field of a package list")
        add_packages(data.get("packages", []), shown, "packages")
    add_packages(inline_packages, cfg, f"{sp}.Packages")

    # Accounts, files and scripts.
    groups, group_gids = _groups(raw_groups, f"{sp}.Groups", unsupported)
    users = _users(raw_users, f"{sp}.Users", group_gids, unsupported)
    copies: dict[str, tuple[str, SourceFile]] = {}  # BUILD-relative path -> (config-relative source, file)

    def copy(source: Any, path: str) -> str | None:
        if not isinstance(source, str) or not source:
            unsupported(path, "a file path relative to the config")
            return None
        normalized = posixpath.normpath(source)
        if posixpath.isabs(normalized) or normalized == ".." or normalized.startswith("../"):
            target = f"{OUTSIDE_DIR}/{posixpath.basename(normalized)}"
        else:
            target = normalized
        if target == "BUILD" or target.startswith("BUILD."):
            target = f"{OUTSIDE_DIR}/{target}"
        known = copies.get(target)
        if known is not None:
            if known[0] != normalized:
                unsupported(path, f"{source} would be copied to {target}, as {known[0]} is")
                return None
            return target
        try:
            copies[target] = (normalized, read(source))
        except OSError as e:
            unsupported(path, f"cannot read {posixpath.normpath(posixpath.join(config_dir, source))} ({e})")
            return None
        return target

    files = _files(raw_files, f"{sp}.AdditionalFiles", copy, unsupported)
    scripts = _scripts(raw_scripts, f"{sp}.PostInstallScripts", copy, unsupported)

    # What keel itself would refuse, as the BUILD file is read or the image is built.
    address = Address(options.dest, target_name=image)
    if size_mib and partitions and root is not None and not problems.lines:
        try:
            check_layout(address, _size(size_mib), partitions)
        except InvalidLayoutError as e:
            unsupported("Disks[0]", f"the layout does not fit keel's disk_image: {e}")
    if not problems.lines:
        try:
            accounts(address, users, groups)
        except InvalidAccountsError as e:
            unsupported(f"{sp}.Users", f"keel's disk_image would refuse the accounts: {e}")
    if not packages and not kernel:
        unsupported(f"{sp}.PackageLists", "the system installs no packages")
    if problems.lines:
        raise ImageImportError(
            f"{cfg} cannot be imported: keel cannot express these fields (nothing was written). "
            "Remove or change them, and import again:",
            problems.lines,
        )

    assert root is not None
    cmdline = " ".join([CMDLINE.format(root=root["name"]), *extra_cmdline])
    image_packages = [f":{set_name}"] if packages else []
    if kernel:
        image_packages.append(kernel)
    shown_system = f", system config {json.dumps(system_name, ensure_ascii=False)}," if system_name else ""
    lines = [
        f"{HEADER_PREFIX}{cfg}{shown_system} {HEADER_SUFFIX}\n"
        "# Import again rather than editing it: the import replaces this file and the files it copied.\n"
    ]
    if packages:
        lines.append(
            "\n# The system's packages: its package lists, then its `Packages`, each package once.\n"
            f"package_set(\n{_field('name', set_name)}{_field('packages', packages)})\n"
        )
    body = [
        _field("name", image),
        _field("format", fmt),
        *([_field("output_path", output_path)] if output_path else []),
        _field("size", _size(size_mib)),
        _field("partitions", partitions),
        _field("packages", image_packages),
        *([_field("hostname", hostname)] if hostname is not None else []),
        _field("kernel_cmdline", cmdline),
        *([_field("rpm_db", False)] if not rpm_db else []),
        *([_field("groups", groups)] if groups else []),
        *([_field("users", users)] if users else []),
        *([_field("files", dict(sorted(files.items())))] if files else []),
        *([_field("post_install", scripts)] if scripts else []),
    ]
    lines.append(f"\ndisk_image(\n{''.join(body)})\n")
    copied = tuple(
        CopiedFile(path, source.content, source.executable) for path, (_, source) in sorted(copies.items())
    )
    return ImportedImage("".join(lines), copied, image, set_name if packages else None, len(packages))


def _artifact(value: Any, path: str, fmt: str, dest: str, unsupported) -> tuple[str, str | None]:
    value = _objects(value, path, "a list of artifacts", unsupported)
    if not value:
        return fmt, None
    for extra in range(1, len(value)):
        unsupported(f"{path}[{extra}]", "a disk_image makes one artifact")
    name = None
    for key, v in _items(value[0]):
        if key == "Type":
            if v in FORMATS:
                fmt = v
            elif v:
                unsupported(f"{path}[0].Type", f"keel makes {', '.join(FORMATS)}, not {v!r}")
        elif key == "Name":
            if isinstance(v, str) and _TARGET_NAME.match(v):
                name = v
            elif v:
                unsupported(f"{path}[0].Name", "a file name of letters, digits, `.`, `_` and `-`")
        elif key == "Compression":
            if v:
                unsupported(f"{path}[0].Compression", "keel does not compress disk images")
        else:
            unsupported(f"{path}[0].{key}", "not a field of the toolkit's artifacts")
    # The toolkit names the image file after the artifact: dist/DEST/NAME.FORMAT.
    return fmt, posixpath.join(dest, f"{name}.{fmt}") if name else None


def _partitions(raw: list, unsupported) -> tuple[list[dict[str, str]], dict[str, int], dict[str, str]]:
    """keel's partitions (without mount points, which come from the system config), the
    toolkit's IDs in disk order with their index in `Partitions`, and the filesystem of each."""
    result: list[dict[str, str]] = []
    ids: dict[str, int] = {}
    filesystems: dict[str, str] = {}
    previous_end = 1  # keel's first partition starts at 1 MiB; each starts where the last ends
    for i, p in enumerate(raw):
        path = f"Disks[0].Partitions[{i}]"
        if not isinstance(p, dict):
            unsupported(path, "a partition is an object")
            continue
        for key, value in _items(p):
            if key not in ("ID", "Name", "FsType", "Type", "TypeUUID", "Start", "End", "Flags", "Artifacts"):
                unsupported(f"{path}.{key}", "not a field of the toolkit's partitions")
        partition_id = p.get("ID")
        if not isinstance(partition_id, str) or not partition_id:
            unsupported(f"{path}.ID", "every partition needs an ID")
            continue
        if partition_id in ids:
            unsupported(f"{path}.ID", f"two partitions have the ID {partition_id}")
            continue
        if not is_default(p.get("Artifacts")):
            unsupported(f"{path}.Artifacts", "keel makes a disk image, not images of single partitions")
        gpt_name = p.get("Name") or partition_id
        fs_type = p.get("FsType", "")
        filesystem = FILESYSTEMS.get(fs_type) if fs_type else EMPTY
        if filesystem is None:
            unsupported(
                f"{path}.FsType",
                f"keel makes {', '.join(sorted(set(FILESYSTEMS.values())))} filesystems "
                f"(FsType {', '.join(sorted(FILESYSTEMS))}), not {fs_type!r}",
            )
            filesystem = str(fs_type)  # reported once: the layout is not checked
        flags = p.get("Flags") or []
        if not isinstance(flags, list):
            unsupported(f"{path}.Flags", "a list of flags")
            flags = []
        for j, flag in enumerate(flags):
            if flag in UNSUPPORTED_FLAGS:
                unsupported(f"{path}.Flags[{j}]", UNSUPPORTED_FLAGS[flag])
            elif flag not in ("esp", "boot"):
                unsupported(f"{path}.Flags[{j}]", f"not a flag of the toolkit's partitions ({flag!r})")
        if "boot" in flags and "esp" not in flags:
            unsupported(f"{path}.Flags", "keel marks the EFI system partition by the `esp` flag; `boot` goes with it")
        type_name, type_uuid = p.get("Type", ""), p.get("TypeUUID", "")
        if type_name and type_uuid:
            unsupported(f"{path}.Type", "give Type or TypeUUID, not both")
        if type_name:
            gpt_type = PARTITION_TYPES.get(type_name)
            if gpt_type is None:
                unsupported(f"{path}.Type", f"not a partition type name of the toolkit ({type_name!r})")
                gpt_type = "linux"
        elif type_uuid:
            if isinstance(type_uuid, str) and _GUID.match(type_uuid):
                gpt_type = type_uuid.upper()
            else:
                unsupported(f"{path}.TypeUUID", f"not a GUID ({type_uuid!r})")
                gpt_type = "linux"
        else:
            gpt_type = "esp" if "esp" in flags else "linux"
        if "esp" in flags and gpt_type not in ("esp", ESP_GUID):
            unsupported(f"{path}.Flags", f"the esp flag and the partition type {type_name or type_uuid} disagree")
        if gpt_type == ESP_GUID:
            gpt_type = "esp"
        elif gpt_type == LINUX_GUID:
            gpt_type = "linux"

        start, end = p.get("Start"), p.get("End", 0)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (start, end)):
            unsupported(f"{path}.Start", "Start and End are numbers of MiB")
            continue
        if start != previous_end:
            where = "the first partition at 1 MiB" if i == 0 else "each partition where the one before it ends"
            unsupported(
                f"{path}.Start",
                f"keel starts {where} ({previous_end} MiB), and this one starts at {start} MiB",
            )
        if end == 0 and i + 1 < len(raw):
            following = raw[i + 1]
            end = following.get("Start", 0) if isinstance(following, dict) else 0
        if end == 0:
            size = "*"  # the rest of the disk
        elif end <= start:
            unsupported(f"{path}.End", f"the partition ends ({end} MiB) before it starts ({start} MiB)")
            size = "*"
        else:
            size = _size(end - start)
        previous_end = end or start
        ids[partition_id] = i
        filesystems[partition_id] = filesystem
        label = gpt_name[:11] if filesystem == "vfat" else gpt_name[:16]
        entry = {"name": gpt_name, "size": size, "filesystem": filesystem, "type": gpt_type}
        if filesystem != EMPTY:
            entry["label"] = label
        result.append(entry)  # its mount point comes from PartitionSettings
    return result, ids, filesystems


def _partition_settings(value: Any, path: str, partition_ids: dict[str, int], unsupported) -> dict[str, str]:
    mounts: dict[str, str] = {}
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        unsupported(path, "a list of partition settings")
        return mounts
    for i, setting in enumerate(value):
        spath = f"{path}[{i}]"
        for key, v in _items(setting):
            if key in ("ID", "MountPoint"):
                continue
            if key in UNSUPPORTED_SETTING_FIELDS:
                if not is_default(v):
                    unsupported(f"{spath}.{key}", UNSUPPORTED_SETTING_FIELDS[key])
            else:
                unsupported(f"{spath}.{key}", "not a field of the toolkit's partition settings")
        partition_id, mount = setting.get("ID"), setting.get("MountPoint", "")
        if partition_id not in partition_ids:
            unsupported(f"{spath}.ID", f"no partition of Disks[0] has the ID {partition_id!r}")
        elif partition_id in mounts:
            unsupported(f"{spath}.ID", f"partition {partition_id} has two settings")
        elif not isinstance(mount, str) or (mount and not mount.startswith("/")):
            unsupported(f"{spath}.MountPoint", "an absolute path")
        else:
            mounts[partition_id] = mount
    return mounts


def _kernel(value: Any, path: str, unsupported) -> str | None:
    if not isinstance(value, dict):
        unsupported(path, "an object of kernel packages")
        return None
    kernel = None
    for key, v in _items(value):
        if key == "default":
            if isinstance(v, str) and _PACKAGE.match(v):
                kernel = v
            else:
                unsupported(f"{path}.default", f"not a package name ({v!r})")
        else:
            unsupported(f"{path}.{key}", "keel installs one kernel, the `default` one, as a package")
    return kernel


def _cmdline(value: Any, path: str, unsupported) -> list[str]:
    if not isinstance(value, dict):
        unsupported(path, "an object")
        return []
    cgroup, extra = "", ""
    for key, v in _items(value):
        if key == "CGroup":
            if v in CGROUPS:
                cgroup = CGROUPS[v]
            else:
                unsupported(f"{path}.CGroup", f"version_one or version_two, not {v!r}")
        elif key == "ExtraCommandLine":
            if not isinstance(v, str) or "`" in v:
                unsupported(f"{path}.ExtraCommandLine", "a string without `")
            else:
                extra = v.strip()
        elif key in UNSUPPORTED_CMDLINE_FIELDS:
            if not is_default(v):
                unsupported(f"{path}.{key}", UNSUPPORTED_CMDLINE_FIELDS[key])
        else:
            unsupported(f"{path}.{key}", "not a field of the toolkit's kernel command line")
    # As the toolkit orders them: the cgroup parameter, then the config's own.
    return [p for p in (cgroup, extra) if p]


def _groups(value: Any, path: str, unsupported) -> tuple[list[dict[str, str]], dict[str, str]]:
    groups: list[dict[str, str]] = []
    gids: dict[str, str] = {}
    for i, group in enumerate(_objects(value, path, "a list of groups", unsupported)):
        for key, _ in _items(group):
            if key not in ("Name", "GID"):
                unsupported(f"{path}[{i}].{key}", "not a field of the toolkit's groups")
        name, gid = group.get("Name"), _as_str(group.get("GID"))
        if not isinstance(name, str) or not name:
            unsupported(f"{path}[{i}].Name", "every group needs a name")
        elif not gid or not gid.isdigit():
            unsupported(f"{path}[{i}].GID", f"keel creates groups with a number for a GID (group {name})")
        else:
            groups.append({"name": name, "gid": gid})
            gids[name] = gid
    return groups, gids


def _users(value: Any, path: str, group_gids: dict[str, str], unsupported) -> list[dict[str, str]]:
    users: list[dict[str, str]] = []
    for i, user in enumerate(_objects(value, path, "a list of users", unsupported)):
        upath = f"{path}[{i}]"
        name = user.get("Name")
        if not isinstance(name, str) or not name:
            unsupported(f"{upath}.Name", "every user needs a name")
            continue
        entry = {"name": name}
        for key, v in _items(user):
            if key == "Name":
                continue
            elif key == "UID":
                uid = _as_str(v)
                if uid and uid.isdigit():
                    entry["uid"] = uid
                elif not is_default(v):
                    unsupported(f"{upath}.UID", f"a number ({v!r})")
            elif key == "PrimaryGroup":
                if not v:
                    continue
                if v in group_gids:
                    entry["gid"] = group_gids[v]
                else:
                    unsupported(
                        f"{upath}.PrimaryGroup",
                        f"keel needs the GID of group {v}: define it in Groups with its GID",
                    )
            elif key == "SecondaryGroups":
                if not isinstance(v, list) or not all(isinstance(g, str) for g in v):
                    unsupported(f"{upath}.SecondaryGroups", "a list of group names")
                    continue
                undefined = [g for g in v if g not in group_gids]
                if undefined:
                    unsupported(
                        f"{upath}.SecondaryGroups",
                        f"keel adds users only to groups the image defines: add {', '.join(undefined)} "
                        "to Groups with a GID",
                    )
                elif v:
                    entry["groups"] = ",".join(v)
            elif key == "HomeDirectory":
                if v:
                    entry["home"] = v
            elif key == "StartupCommand":
                if v:
                    entry["shell"] = v
            elif key == "PasswordHashed":
                pass  # how Password is written; a Password stops the import
            elif key == "PasswordExpiresDays":
                # 0 leaves the toolkit's default, -1 is no expiry: keel's accounts never expire.
                if not (is_default(v) or v == -1):
                    unsupported(f"{upath}.PasswordExpiresDays", "keel's accounts never expire")
            elif key in UNSUPPORTED_USER_FIELDS:
                if not is_default(v):
                    unsupported(f"{upath}.{key}", UNSUPPORTED_USER_FIELDS[key])
            else:
                unsupported(f"{upath}.{key}", "not a field of the toolkit's users")
        if "uid" not in entry:
            if name == "root":
                entry["uid"] = "0"
            else:
                unsupported(f"{upath}.UID", f"keel creates users with a UID (user {name})")
                continue
        order = ("name", "uid", "gid", "home", "shell", "groups")
        users.append({k: entry[k] for k in order if k in entry})
    return users


def _files(value: Any, path: str, copy, unsupported) -> dict[str, str]:
    """AdditionalFiles: source -> a destination, a FileConfig, or a list of them."""
    files: dict[str, str] = {}
    if is_default(value):
        return files
    if not isinstance(value, dict):
        unsupported(path, "an object of source file -> destination")
        return files
    for source, destinations in _items(value):
        fpath = f"{path}[{json.dumps(source)}]"
        listed = destinations if isinstance(destinations, list) else [destinations]
        targets: list[str] = []
        for j, destination in enumerate(listed):
            dpath = f"{fpath}[{j}]" if isinstance(destinations, list) else fpath
            if isinstance(destination, dict):
                for key, v in _items(destination):
                    if key == "Permissions":
                        if v not in (None, "644", "0644"):
                            unsupported(f"{dpath}.Permissions", "keel writes files with mode 0644")
                    elif key != "Path":
                        unsupported(f"{dpath}.{key}", "not a field of the toolkit's file configs")
                destination = destination.get("Path")
            if not isinstance(destination, str) or not destination.startswith("/"):
                unsupported(dpath, "the destination is an absolute path in the image")
            elif destination in files or destination in targets:
                unsupported(dpath, f"{destination} is written twice")
            else:
                targets.append(destination)
        if not targets:
            continue
        copied = copy(source, fpath)
        if copied is not None:
            files.update((t, copied) for t in targets)
    return files


def _scripts(value: Any, path: str, copy, unsupported) -> list[str]:
    scripts: list[str] = []
    for i, script in enumerate(_objects(value, path, "a list of scripts", unsupported)):
        spath = f"{path}[{i}]"
        for key, v in _items(script):
            if key == "Args":
                if not is_default(v):
                    unsupported(f"{spath}.Args", "keel runs post_install scripts without arguments")
            elif key != "Path":
                unsupported(f"{spath}.{key}", "not a field of the toolkit's scripts")
        copied = copy(script.get("Path"), f"{spath}.Path")
        if copied is not None:
            scripts.append(copied)
    return scripts


def previous_copies(build: str) -> list[str]:
    """The files an earlier import copied: the `files` values and `post_install` entries of the
    disk_image in the BUILD file it wrote."""
    try:
        tree = ast.parse(build)
    except SyntaxError:
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "disk_image":
            for keyword in node.keywords:
                try:
                    value = ast.literal_eval(keyword.value)
                except ValueError:
                    continue
                if keyword.arg == "files" and isinstance(value, dict):
                    found.extend(v for v in value.values() if isinstance(v, str))
                elif keyword.arg == "post_install" and isinstance(value, list):
                    found.extend(v for v in value if isinstance(v, str))
    return sorted(set(found))


def written_by_import(build: str) -> bool:
    first = build.split("\n", 1)[0]
    return first.startswith(HEADER_PREFIX) and first.endswith(HEADER_SUFFIX)


def stays_inside(path: str) -> bool:
    normalized = posixpath.normpath(path)
    return not (posixpath.isabs(normalized) or normalized == ".." or normalized.startswith("../"))
