"""Update artifacts without building anything: the A/B layout, the keel-update manifest, COSI
metadata against COSI 1.2's fields, the zstd window log, and the unsigned-update error."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import RuleRunner

from rules.image.goals.package import UnsignedUpdateError, UpdateImageFieldSet, require_signing_key
from rules.image.target_types import DEFAULT_PARTITIONS, UpdateImageTarget
from rules.image.util_rules.cosi import BOOTLOADER, CosiImage, cosi_id, cosi_metadata, image_path, regions
from rules.image.util_rules.layout import MIB, InvalidLayoutError, ab_slot_partitions, disk_layout, image_disk_layout
from rules.image.util_rules.update_manifest import (
    RootImage,
    RootPackage,
    UpdateManifestError,
    os_release_version,
    parse_os_release,
    parse_packages,
    update_manifest,
)
from rules.rpm.util_rules.signing import SigningKey
from tests.image.cosi_schema import metadata_problems

ADDRESS = Address("images/core", target_name="update")
_spec = importlib.util.spec_from_file_location("zst_facts", Path("rules/image/scripts/zst_facts.py"))
zst_facts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zst_facts)

ESP = {"name": "esp", "size": "32M", "filesystem": "vfat", "type": "esp", "mount": "/boot/efi"}
PACKAGES_TSV = (
    "kernel\t(none)\t6.1.176\t1.keel1\tx86_64\n"
    "busybox\t1\t1.35.0\t1.keel1\tx86_64\n"
    "gpg-pubkey\t(none)\t0123abcd\t5f00\t(none)\n"
    "core-release\t(none)\t2.0\t1.keel1\tnoarch\n"
)
OS_RELEASE = 'NAME="keel core"\nID=keel-core\nVERSION_ID=2.0\nPRETTY_NAME="keel core 2.0"\n'


def test_the_ab_layout_splits_the_rest_into_two_equal_slots() -> None:
    layout = image_disk_layout(ADDRESS, "a" * 64, "256M", DEFAULT_PARTITIONS, ab_slots=True)
    esp, a, b = layout.partitions
    assert (esp.name, a.name, b.name) == ("esp", "root-a", "root-b")
    # 256 MiB - 1 MiB before the first partition - 1 MiB for the backup GPT - 32 MiB ESP = 222.
    assert (a.start_mib, a.size_mib, b.start_mib, b.size_mib) == (33, 111, 144, 111)
    assert (a.mount, a.filesystem, a.label, b.mount, b.filesystem) == ("/", "ext4", "root", "", "none")
    assert a.type_guid == b.type_guid and layout.root == a
    # Only root-a and the ESP get a filesystem; root-b is in the GPT alone.
    assert [line.split("\t")[1] for line in layout.plan().splitlines()] == ["esp", "root-a"]
    assert 'name="root-b"' in layout.sfdisk_script()
    # The ids hang on the root's content: another version, another filesystem UUID.
    other = image_disk_layout(ADDRESS, "b" * 64, "256M", DEFAULT_PARTITIONS, ab_slots=True)
    assert other.root.fs_uuid != a.fs_uuid and other.root.size_mib == a.size_mib
    # Without slots, the layout (and every id) is what disk images always had.
    plain = image_disk_layout(ADDRESS, "a" * 64, "256M", DEFAULT_PARTITIONS, ab_slots=False)
    seed = f"{'a' * 64}|256M|{DEFAULT_PARTITIONS}"
    assert plain == disk_layout(ADDRESS, "256M", DEFAULT_PARTITIONS, seed)


def test_a_root_of_fixed_size_is_that_size_twice() -> None:
    partitions = (ESP, {"name": "root", "size": "40M", "mount": "/"}, {"name": "var", "mount": "/var"})
    layout = disk_layout(ADDRESS, "256M", ab_slot_partitions(ADDRESS, "256M", partitions), "seed")
    assert [(p.name, p.size_mib) for p in layout.partitions] == [
        ("esp", 32), ("root-a", 40), ("root-b", 40), ("var", 256 - 2 - 32 - 80),
    ]


@pytest.mark.parametrize(
    "size, partitions, complaint",
    [
        ("96M", (ESP, {"name": "root", "size": "40M", "mount": "/"}, {"name": "x", "size": "20M", "mount": "/x"}),
         "With two root slots of 40 MiB each"),
        ("64M", (ESP, {"name": "root", "mount": "/"}, {"name": "root-b", "size": "8M", "mount": "/srv"}),
         "rename the partition root-b"),
        ("35M", (ESP, {"name": "root", "mount": "/"}), "leaves 1 MiB for two root slots"),
    ],
    ids=["second-slot-does-not-fit", "name-clash", "too-small-to-split"],
)
def test_a_bad_ab_layout_names_the_field(size, partitions, complaint) -> None:
    with pytest.raises(InvalidLayoutError, match=re.escape(complaint)):
        ab_slot_partitions(ADDRESS, size, partitions)


def test_an_empty_partition_mounts_nothing() -> None:
    with pytest.raises(InvalidLayoutError, match="partition data is empty \\('none'\\): it cannot mount /data"):
        disk_layout(ADDRESS, "64M", (ESP, {"name": "root", "mount": "/"}, {"name": "data", "size": "8M", "filesystem": "none", "mount": "/data"}), "s")


def test_a_bad_update_layout_fails_when_the_build_file_is_read() -> None:
    rule_runner = RuleRunner(target_types=[UpdateImageTarget])
    rule_runner.write_files({"images/core/BUILD": 'update_image(name="update", packages=["kernel"], size="35M")'})
    with pytest.raises(ExecutionError, match="leaves 1 MiB for two root slots"):
        rule_runner.get_target(ADDRESS)


def test_update_output_names() -> None:
    def output(directory: str, name: str, **fields) -> str:
        target = UpdateImageTarget({"packages": ["kernel"], **fields}, Address(directory, target_name=name))
        return UpdateImageFieldSet.create(target).output_file()

    assert output("images/core", "update") == "images/core/core.update.tar"
    assert output("images/core", "v2") == "images/core/core-v2.update.tar"
    assert output("images/core", "update", output_path="out/x.update.tar") == "out/x.update.tar"


def test_os_release_and_packages_are_read_as_rpm_and_os_release_5_write_them() -> None:
    assert parse_os_release('A="x \\"y\\" \\\\z"\n# c\nB=\'q\'\nC=plain\n') == {"A": 'x "y" \\z', "B": "q", "C": "plain"}
    assert os_release_version(OS_RELEASE, "x") == "2.0"
    with pytest.raises(UpdateManifestError, match="images/core:update: the root's /etc/os-release has no VERSION_ID"):
        os_release_version("NAME=x\n", str(ADDRESS))
    with pytest.raises(UpdateManifestError, match="the root has no /etc/os-release"):
        os_release_version(None, str(ADDRESS))
    assert parse_packages(PACKAGES_TSV) == (
        RootPackage("busybox", 1, "1.35.0", "1.keel1", "x86_64"),
        RootPackage("core-release", 0, "2.0", "1.keel1", "noarch"),
        RootPackage("kernel", 0, "6.1.176", "1.keel1", "x86_64"),
    )


def test_the_manifest_puts_each_top_level_scalar_on_a_line_sed_can_read() -> None:
    root = RootImage(size=111 * MIB, sha256="1" * 64, zst_size=4096, zst_sha256="2" * 64)
    text = update_manifest("core", "2.0", root, parse_packages(PACKAGES_TSV), slot_size=111 * MIB)
    document = json.loads(text)
    assert sorted(document) == [
        "format", "name", "packages", "root_file", "root_sha256", "root_size", "root_zst_sha256",
        "root_zst_size", "slot_size", "version",
    ]
    assert document["packages"][0] == {"name": "busybox", "epoch": 1, "version": "1.35.0", "release": "1.keel1", "arch": "x86_64"}

    # What keel-update does: the value after ` "KEY": `, from the line that starts so.
    def sed(key: str) -> str:
        script = rf's/^ "{key}": "\{{0,1\}}\([^",]*\)"\{{0,1\}},\{{0,1\}}$/\1/p'
        return subprocess.run(["sed", "-n", script], input=text, capture_output=True, text=True, check=True).stdout

    assert sed("format") == "keel-update/1\n"
    assert sed("name") == "core\n" and sed("version") == "2.0\n"  # not the packages' names and versions
    assert sed("root_file") == "root.img.zst\n"
    assert sed("root_size") == f"{111 * MIB}\n" and sed("slot_size") == f"{111 * MIB}\n"
    assert sed("root_sha256") == "1" * 64 + "\n" and sed("root_zst_sha256") == "2" * 64 + "\n"
    assert sed("root_zst_size") == "4096\n"
    assert text.endswith("}\n")


def cosi_images(layout) -> dict[str, CosiImage]:
    sizes = {"primary-gpt": 17408, **{p.name: p.size_mib * MIB for p in layout.partitions}}
    return {
        name: CosiImage(image_path(name), 1000 + i, sizes[name], f"{i:x}" * 96, 21 - i)
        for i, name in enumerate(regions(layout))
    }


def test_cosi_metadata_meets_cosi_1_2_but_for_the_boot_loader() -> None:
    layout = image_disk_layout(ADDRESS, "a" * 64, "256M", DEFAULT_PARTITIONS, ab_slots=True)
    images = cosi_images(layout)
    metadata = cosi_metadata(
        layout=layout, images=images, os_release=OS_RELEASE, packages=parse_packages(PACKAGES_TSV),
        image_id=cosi_id("core", "x"),
    )
    # keel has no boot loader: the one value outside 1.2's list (rules/image/util_rules/cosi.py).
    assert metadata_problems(metadata) == [
        f"metadata.bootloader.type: {BOOTLOADER!r}, not one of ('systemd-boot', 'grub')"
    ]
    assert metadata_problems({**metadata, "bootloader": {"type": "grub"}}) == []
    assert metadata["version"] == "1.2" and metadata["osArch"] == "x86_64" and metadata["osRelease"] == OS_RELEASE
    assert [(r["type"], r.get("number"), r["image"]["path"]) for r in metadata["disk"]["gptRegions"]] == [
        ("primary-gpt", None, "images/primary-gpt.rawzst"),
        ("partition", 1, "images/esp.rawzst"),
        ("partition", 2, "images/root-a.rawzst"),
    ]
    esp, root = metadata["images"]
    assert (esp["mountPoint"], esp["fsType"], esp["partType"]) == ("/boot/efi", "vfat", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
    assert re.match(r"^[0-9A-F]{4}-[0-9A-F]{4}$", esp["fsUuid"])
    assert (root["mountPoint"], root["fsType"], root["fsUuid"]) == ("/", "ext4", layout.root.fs_uuid.lower())
    assert root["image"]["uncompressedSize"] == 111 * MIB and root["verity"] is None
    assert metadata["disk"]["size"] == 256 * MIB and metadata["compression"] == {"maxWindowLog": 21}
    assert [p["name"] for p in metadata["osPackages"]] == ["busybox", "core-release", "kernel"]


def test_the_checker_finds_what_breaks_cosi_1_2() -> None:
    """The checker is not a rubber stamp: each broken field is named."""
    layout = image_disk_layout(ADDRESS, "a" * 64, "256M", DEFAULT_PARTITIONS, ab_slots=True)
    good = {
        **cosi_metadata(layout=layout, images=cosi_images(layout), os_release=OS_RELEASE,
                        packages=parse_packages(PACKAGES_TSV), image_id=cosi_id("core")),
        "bootloader": {"type": "grub"},
    }
    broken = json.loads(json.dumps(good))
    broken["version"] = "1.1"
    broken["osArch"] = "riscv64"
    broken["images"][1]["fsUuid"] = broken["images"][0]["fsUuid"]
    broken["images"][0]["partType"] = "0fc63daf-8483-4772-8e79-3d69d8477de4"
    broken["disk"]["gptRegions"] = broken["disk"]["gptRegions"][1:]
    broken["osPackages"][0].pop("release")
    del broken["compression"]
    problems = metadata_problems(broken)
    for expected in (
        "metadata.version", "metadata.osArch", "metadata.images[1].fsUuid", "metadata.images[0].partType",
        "metadata.disk.gptRegions: one primary-gpt region, first", "metadata.osPackages[0].release: missing",
        "metadata.compression: missing",
    ):
        assert any(p.startswith(expected) for p in problems), (expected, problems)


def test_window_log_from_the_frame_header() -> None:
    magic = b"\x28\xb5\x2f\xfd"
    # Window_Descriptor: exponent 11 (2 MiB), no mantissa -> 21; mantissa 1 -> 2.25 MiB -> 22.
    assert zst_facts.window_log(magic + bytes([0x04, 11 << 3])) == 21
    assert zst_facts.window_log(magic + bytes([0x04, 11 << 3 | 1])) == 22
    # Single segment: the window is the content size (4 bytes here: 3,000,000 -> 22).
    assert zst_facts.window_log(magic + bytes([0xA0]) + (3_000_000).to_bytes(4, "little")) == 22
    with pytest.raises(ValueError):
        zst_facts.window_log(b"\0" * 8)


def test_an_update_without_a_signing_key_names_the_target_and_the_options() -> None:
    with pytest.raises(UnsignedUpdateError) as error:
        require_signing_key(SigningKey(), ADDRESS)
    message = str(error.value)
    assert "images/core:update" in message and "[rpm-sign].key" in message and "[rpm-sign].gnupg_home" in message
    require_signing_key(SigningKey("F" * 40, 1, "/home"), ADDRESS)
