"""Disk layout, accounts and the VHD/VHDX writer's pieces, without building anything."""
from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.target import InvalidFieldException, InvalidTargetException
from pants.testutil.rule_runner import RuleRunner

from rules.image.target_types import DEFAULT_PARTITIONS, DiskImageTarget, IsoImageTarget
from rules.image.util_rules.accounts import InvalidAccountsError, accounts
from rules.image.util_rules.layout import InvalidLayoutError, disk_layout

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


def test_a_bad_layout_fails_when_the_target_is_made() -> None:
    partitions = [{"name": "root", "mount": "/"}, {"name": "data", "mount": "/data"}]
    with pytest.raises(InvalidTargetException, match="The `partitions` field of images/core:vhdx: only one partition"):
        DiskImageTarget({"packages": ["kernel"], "partitions": partitions}, ADDRESS)
    with pytest.raises(InvalidTargetException, match="The `size` field of images/core:vhdx: the disk size is '2T'"):
        DiskImageTarget({"packages": ["kernel"], "size": "2T"}, ADDRESS)
    assert DiskImageTarget({"packages": ["kernel"], "size": "64M"}, ADDRESS).address == ADDRESS
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
