"""Disk layout, accounts and the VHD/VHDX writer's pieces, without building anything."""
from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.target import InvalidTargetException
from pants.testutil.rule_runner import RuleRunner

from rules.image.target_types import DEFAULT_PARTITIONS, DiskImageTarget, IsoImageTarget
from rules.image.util_rules.accounts import InvalidAccountsError, accounts
from rules.image.util_rules.layout import InvalidLayoutError, disk_layout, image_disk_layout

ADDRESS = Address("images/core", target_name="vhdx")
_spec = importlib.util.spec_from_file_location("vhd_vhdx", Path("rules/image/scripts/vhd_vhdx.py"))
vhd_vhdx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vhd_vhdx)


def test_the_default_layout_is_an_esp_and_a_root_with_derived_ids() -> None:
    layout = disk_layout(ADDRESS, "128M", DEFAULT_PARTITIONS, "seed-a")
    esp, root = layout.partitions
    assert (esp.name, esp.start_mib, esp.size_mib, esp.filesystem, esp.mount) == ("esp", 1, 32, "vfat", "/boot/efi")
    assert (root.name, root.start_mib, root.size_mib, root.filesystem, root.mount) == ("root", 33, 94, "ext4", "/")
    script = layout.sfdisk_script()
    assert "label: gpt" in script and f"label-id: {layout.disk_guid}" in script
    assert 'start=2048, size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B' in script
    # Same inputs, same ids; other inputs, other ids.
    assert disk_layout(ADDRESS, "128M", DEFAULT_PARTITIONS, "seed-a") == layout
    other = disk_layout(ADDRESS, "128M", DEFAULT_PARTITIONS, "seed-b")
    assert other.disk_guid != layout.disk_guid and other.partitions[1].fs_uuid != root.fs_uuid
    # The root is made last, after the ESP's files have left it.
    assert [line.split("\t")[1] for line in layout.plan().splitlines()] == ["esp", "root"]


@pytest.mark.parametrize(
    "size, partitions, complaint",
    [
        ("128X", DEFAULT_PARTITIONS, "The `size` field of images/core:vhdx: the disk size is '128X'"),
        ("128M", [{"name": "a", "size": "*", "mount": "/"}, {"name": "b", "size": "*", "mount": "/b"}], "only one partition may take the rest"),
        ("128M", [{"name": "a", "size": "8M", "mount": "/a"}], "exactly one partition must have"),
        ("16M", [{"name": "a", "size": "16M", "mount": "/"}], "16M cannot hold partitions of 16 MiB"),
        ("128M", [{"name": "a", "size": "8M", "mount": "/", "type": "swap"}], "has type 'swap'"),
        # No `size` takes the rest, like "*": two such partitions would both run to the disk's end.
        ("128M", [{"name": "a", "mount": "/"}, {"name": "b", "mount": "/b"}], "only one partition may take the rest (no `size`, or `\"*\"`), but a, b all do"),
        ("128M", [{"name": "a", "size": "*", "mount": "/"}, {"name": "b", "mount": "/b"}], "but a, b all do"),
        ("128M", [{"name": "a", "size": "8", "mount": "/"}], "the size of partition a is '8'; write MiB or GiB"),
        ("128M", [{"name": "a", "size": "100M", "mount": "/a"}, {"name": "b", "size": "30M", "mount": "/"}], "128M cannot hold partitions of 130 MiB"),
        ("128M", [{"name": "a", "size": "126M", "mount": "/a"}, {"name": "b", "mount": "/"}], "128M cannot hold partitions of 126 MiB"),
        ("128M", [{"name": "a", "size": "8M", "mount": "/"}, {"name": "b", "mount": "/"}], "exactly one partition must have"),
        ("128M", [{"name": "a", "size": "8M", "mount": "/a"}, {"name": "b", "size": "8M", "mount": "/a"}, {"name": "r", "mount": "/"}], "two partitions mount /a"),
        ("128M", [{"name": "a", "mount": "/", "filesystem": "xfs"}], "partition a has filesystem 'xfs'; keel makes ext4 and vfat"),
        ("128M", [{"name": 'a"b', "mount": "/"}], "partition names are letters, digits"),
        ("128M", [{"name": "a", "mount": "boot"}, {"name": "r", "size": "8M", "mount": "/"}], "needs an absolute `mount`"),
    ],
)
def test_a_bad_layout_names_the_field(size, partitions, complaint) -> None:
    with pytest.raises(InvalidLayoutError) as error:
        disk_layout(ADDRESS, size, partitions, "seed")
    assert complaint in str(error.value)


def test_a_partition_without_size_takes_the_rest() -> None:
    layout = disk_layout(ADDRESS, "128M", [{"name": "esp", "size": "32M", "mount": "/boot/efi"}, {"name": "root", "mount": "/"}], "s")
    assert [(p.start_mib, p.size_mib) for p in layout.partitions] == [(1, 32), (33, 94)]
    assert layout.partitions[-1].start_mib + layout.partitions[-1].size_mib <= 128 - 1


def test_ab_slots_split_the_rest_into_two_equal_root_slots() -> None:
    layout = image_disk_layout(ADDRESS, "0" * 64, "256M", DEFAULT_PARTITIONS, ab_slots=True)
    esp, a, b = layout.partitions
    assert [(p.name, p.start_mib, p.size_mib) for p in layout.partitions] == [
        ("esp", 1, 32), ("root-a", 33, 111), ("root-b", 144, 111),
    ]
    # Both slots are Linux partitions of the same size; only root-a gets the image's files.
    assert a.type_guid == b.type_guid == "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    assert (a.filesystem, a.mount, b.filesystem, b.mount) == ("ext4", "/", "none", "")
    assert layout.root == a
    assert b.start_mib + b.size_mib <= 256 - 1
    assert len({a.uuid, b.uuid, esp.uuid}) == 3
    script = layout.sfdisk_script()
    assert 'name="root-a"' in script and 'name="root-b"' in script and 'name="esp"' in script
    # make_disk.sh makes the ESP and root-a; root-b is only in the GPT, zeroes.
    assert [line.split("\t")[1] for line in layout.plan().splitlines()] == ["esp", "root-a"]
    # Without ab_slots the same partitions give the plain layout.
    plain = image_disk_layout(ADDRESS, "0" * 64, "256M", DEFAULT_PARTITIONS, ab_slots=False)
    assert [(p.name, p.size_mib) for p in plain.partitions] == [("esp", 32), ("root", 222)]


def test_ab_slots_keep_a_fixed_root_size_and_another_partition_takes_the_rest() -> None:
    partitions = [
        {"name": "esp", "size": "32M", "filesystem": "vfat", "type": "esp", "mount": "/boot/efi"},
        {"name": "system", "size": "64M", "mount": "/", "label": "root"},
        {"name": "data", "mount": "/data"},
    ]
    layout = image_disk_layout(ADDRESS, "0" * 64, "256M", partitions, ab_slots=True)
    assert [(p.name, p.start_mib, p.size_mib) for p in layout.partitions] == [
        ("esp", 1, 32), ("root-a", 33, 64), ("root-b", 97, 64), ("data", 161, 94),
    ]
    assert layout.root.label == "root"
    # Two 64 MiB slots do not fit where one did.
    with pytest.raises(InvalidLayoutError, match="128M cannot hold partitions of 160 MiB"):
        image_disk_layout(ADDRESS, "0" * 64, "128M", partitions, ab_slots=True)
    assert image_disk_layout(ADDRESS, "0" * 64, "128M", partitions, ab_slots=False).partitions[-1].size_mib == 30


@pytest.mark.parametrize(
    "partitions, complaint",
    [
        (
            [{"name": "boot", "size": "32M", "filesystem": "vfat", "mount": "/boot/efi"}, {"name": "root", "mount": "/"}],
            'with `ab_slots=True` the boot state lives on the EFI system partition, which must be named "esp" with "filesystem": "vfat"',
        ),
        (
            [{"name": "esp", "size": "32M", "mount": "/boot/efi"}, {"name": "root", "mount": "/"}],
            'must be named "esp" with "filesystem": "vfat"',
        ),
        (
            [{"name": "esp", "size": "32M", "filesystem": "vfat", "mount": "/boot/efi"}, {"name": "root", "mount": "/", "filesystem": "vfat"}],
            "with `ab_slots=True` the root partition root must be ext4",
        ),
        (
            [
                {"name": "esp", "size": "32M", "filesystem": "vfat", "mount": "/boot/efi"},
                {"name": "root", "size": "64M", "mount": "/"},
                {"name": "root-b", "mount": "/srv"},
            ],
            "rename the partition root-b",
        ),
    ],
)
def test_a_bad_ab_layout_fails_when_the_target_is_made(partitions, complaint) -> None:
    with pytest.raises(InvalidTargetException) as error:
        DiskImageTarget({"packages": ["kernel"], "size": "256M", "ab_slots": True, "partitions": partitions}, ADDRESS)
    assert "The `partitions` field of images/core:vhdx: " in str(error.value)
    assert complaint in str(error.value)
    # The same partitions without slots are a fine disk.
    DiskImageTarget({"packages": ["kernel"], "size": "256M", "partitions": partitions}, ADDRESS)


def test_a_bad_layout_fails_when_the_target_is_made() -> None:
    partitions = [{"name": "root", "mount": "/"}, {"name": "data", "mount": "/data"}]
    with pytest.raises(InvalidTargetException, match="The `partitions` field of images/core:vhdx: only one partition"):
        DiskImageTarget({"packages": ["kernel"], "partitions": partitions}, ADDRESS)
    with pytest.raises(InvalidTargetException, match="The `size` field of images/core:vhdx: the disk size is '2T'"):
        DiskImageTarget({"packages": ["kernel"], "size": "2T"}, ADDRESS)
    assert DiskImageTarget({"packages": ["kernel"], "size": "64M"}, ADDRESS).address == ADDRESS
    assert DiskImageTarget({"packages": ["kernel"], "size": "256M", "ab_slots": True}, ADDRESS).address == ADDRESS
    with pytest.raises(InvalidTargetException, match="The `size` field of images/core:vhdx: 64M cannot hold"):
        DiskImageTarget({"packages": ["kernel"], "size": "64M", "ab_slots": True, "partitions": [
            {"name": "esp", "size": "32M", "filesystem": "vfat", "mount": "/boot/efi"},
            {"name": "root", "size": "20M", "mount": "/"},
        ]}, ADDRESS)
    with pytest.raises(InvalidTargetException, match="volume id has 1 to 32 characters"):
        IsoImageTarget({"packages": ["kernel"], "volume_id": "X" * 33}, Address("images/core", target_name="iso"))


def test_a_bad_layout_fails_when_the_build_file_is_read() -> None:
    rule_runner = RuleRunner(target_types=[DiskImageTarget])
    rule_runner.write_files(
        {
            "images/core/BUILD": (
                'disk_image(name="ok", packages=["kernel"])\n'
                'disk_image(name="vhdx", packages=["kernel"], size="64M", partitions=[\n'
                '    {"name": "esp", "size": "40M", "filesystem": "vfat", "mount": "/boot/efi"},\n'
                '    {"name": "root", "size": "40M", "mount": "/"},\n'
                "])\n"
            )
        }
    )
    with pytest.raises(ExecutionError) as error:
        rule_runner.get_target(ADDRESS)
    message = str(error.value)
    assert "images/core/BUILD" in message
    assert "The `size` field of images/core:vhdx: 64M cannot hold partitions of 80 MiB plus the GPT" in message
    assert "raise `size` or shrink the partitions" in message


def test_accounts_become_passwd_group_and_shadow_lines() -> None:
    result = accounts(
        ADDRESS,
        [{"name": "ada", "uid": "1001", "groups": "staff"}, {"name": "root", "uid": "0", "shell": "/bin/bash"}],
        [{"name": "staff", "gid": "50"}],
    )
    assert result.passwd == "ada:x:1001:1001::/home/ada:/bin/sh\nroot:x:0:0::/root:/bin/bash\n"
    assert result.group == "staff:x:50:ada\nada:x:1001:\nroot:x:0:\n"
    assert result.shadow == "ada:!:0:0:99999:7:::\nroot:!:0:0:99999:7:::\n"
    with pytest.raises(InvalidAccountsError, match="uid 'x'"):
        accounts(ADDRESS, [{"name": "ada", "uid": "x"}], [])


def test_vhd_footer_and_vhdx_checksums() -> None:
    footer = vhd_vhdx.vhd_footer(128 << 20, "seed", 1795521600)
    assert len(footer) == 512 and footer[:8] == b"conectix"
    (checksum,) = struct.unpack(">I", footer[64:68])
    assert checksum == (~(sum(footer[:64]) + sum(footer[68:]))) & 0xFFFFFFFF
    assert struct.unpack(">QQ", footer[40:56]) == (128 << 20, 128 << 20)
    assert struct.unpack(">I", footer[60:64]) == (2,)  # fixed
    # CRC-32C check value from the Castagnoli polynomial's catalogue entry.
    assert vhd_vhdx.crc32c(b"123456789") == 0xE3069283
    header = vhd_vhdx.vhdx_header(1, "seed")
    assert header[:4] == b"head" and len(header) == 4096
    stored = struct.unpack("<I", header[4:8])[0]
    assert stored == vhd_vhdx.crc32c(header[:4] + b"\0\0\0\0" + header[8:])
