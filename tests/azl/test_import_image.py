"""`./pants azl-image-import`: an Azure Linux image config becomes a package_set and a disk_image
that keel's target types accept; whatever keel cannot express stops it, all listed at once.

The configs here are written for these tests in the toolkit's format (Disks / SystemConfigs)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.testutil.rule_runner import RuleRunner

from rules.azl.goals.import_image import AzlImageImport
from rules.azl.goals.import_image import rules as import_image_rules
from rules.azl.image_config import (
    ImageImportError,
    ImportOptions,
    SourceFile,
    import_image_config,
    previous_copies,
    written_by_import,
)
from rules.image.target_types import (
    DiskImageFilesField,
    DiskImageFormatField,
    DiskImageGroupsField,
    DiskImageHostnameField,
    DiskImageKernelCmdlineField,
    DiskImageOutputPathField,
    DiskImagePackagesField,
    DiskImagePartitionsField,
    DiskImagePostInstallField,
    DiskImageRpmDbField,
    DiskImageSizeField,
    DiskImageTarget,
    DiskImageUsersField,
    PackageSetPackagesField,
    PackageSetTarget,
)

CONFIG_DIR = "teams/web/azl"
LISTS = {
    "packagelists/base.json": {"packages": ["filesystem", "bash", "core-release"]},
    "packagelists/web.json": {"_comment": "the web tier", "packages": ["bash", "nginx", "filesystem", "curl"]},
}
FILES = {"files/motd": b"Welcome.\n", "scripts/setup.sh": b"#!/bin/sh\necho set up\n"}


def config(**system_overrides) -> dict:
    """A config in the toolkit's shape: one GPT disk with an ESP and a root taking the rest."""
    system = {
        "Name": "Web Server",
        "BootType": "efi",
        "PartitionSettings": [
            {"ID": "boot", "MountPoint": "/boot/efi"},
            {"ID": "rootfs", "MountPoint": "/"},
        ],
        "PackageLists": ["packagelists/base.json", "packagelists/web.json"],
        "Packages": ["openssh-server", "bash"],
        "KernelOptions": {"default": "kernel", "_comment": "the only kernel"},
        "KernelCommandLine": {"CGroup": "version_two", "ExtraCommandLine": "quiet loglevel=3"},
        "Hostname": "web01",
        "RemoveRpmDb": True,
        "Groups": [{"Name": "wheel", "GID": "10"}, {"Name": "web", "GID": 990}],
        "Users": [
            {"Name": "root"},
            {
                "Name": "alice",
                "UID": "1000",
                "PrimaryGroup": "web",
                "SecondaryGroups": ["wheel"],
                "HomeDirectory": "/srv/alice",
                "StartupCommand": "/bin/bash",
                "PasswordExpiresDays": -1,
            },
        ],
        "AdditionalFiles": {"files/motd": ["/etc/motd", {"Path": "/etc/issue", "Permissions": "644"}]},
        "PostInstallScripts": [{"Path": "scripts/setup.sh"}],
        "IsKickStartBoot": False,
        "DisableRpmDocs": False,
    }
    system.update(system_overrides)
    return {
        "Disks": [
            {
                "PartitionTableType": "gpt",
                "MaxSize": 1024,
                "Artifacts": [{"Name": "web", "Type": "vhd"}],
                "Partitions": [
                    {"ID": "boot", "Flags": ["esp", "boot"], "Start": 1, "End": 65, "FsType": "fat32"},
                    {"ID": "rootfs", "Name": "root", "Start": 65, "End": 0, "FsType": "ext4",
                     "Type": "linux-root-amd64"},
                ],
            }
        ],
        "SystemConfigs": [system],
    }


def reader(extra: dict[str, bytes] | None = None):
    files = {**{k: json.dumps(v).encode() for k, v in LISTS.items()}, **FILES, **(extra or {})}

    def read(relative: str) -> SourceFile:
        if relative not in files:
            raise FileNotFoundError("no such file")
        return SourceFile(files[relative], relative.endswith(".sh"))

    return read


def convert(cfg: dict, **options) -> str:
    opts = ImportOptions(config_path=f"{CONFIG_DIR}/web.json", dest="images/web", **options)
    return import_image_config(cfg, opts, reader())


def problems(cfg: dict, read=None) -> tuple[str, ...]:
    opts = ImportOptions(config_path=f"{CONFIG_DIR}/web.json", dest="images/web")
    with pytest.raises(ImageImportError) as error:
        import_image_config(cfg, opts, read or reader())
    return error.value.problems


def test_a_config_becomes_a_package_set_and_a_disk_image() -> None:
    imported = convert(config())
    build = imported.build
    assert build.startswith(
        f'# Imported from {CONFIG_DIR}/web.json, system config "Web Server", by `./pants azl-image-import`.\n'
    )
    assert written_by_import(build)
    # The package lists, then Packages: each package once, where it first appears.
    assert (
        'package_set(\n    name="web-server-packages",\n    packages=[\n        "filesystem",\n'
        '        "bash",\n        "core-release",\n        "nginx",\n        "curl",\n'
        '        "openssh-server",\n    ],\n)\n'
    ) in build
    assert imported.packages == 6 and imported.image == "web-server"
    for line in (
        '    format="vhd",\n',
        '    output_path="images/web/web.vhd",\n',
        '    size="1G",\n',
        '        {"name": "boot", "size": "64M", "filesystem": "vfat", "type": "esp", '
        '"mount": "/boot/efi", "label": "boot"},\n',
        '        {"name": "root", "size": "*", "filesystem": "ext4", '
        '"type": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "mount": "/", "label": "root"},\n',
        '    packages=[\n        ":web-server-packages",\n        "kernel",\n    ],\n',
        '    hostname="web01",\n',
        '    kernel_cmdline="console=ttyS0 root=PARTLABEL=root rw systemd.unified_cgroup_hierarchy=1 '
        'quiet loglevel=3",\n',
        "    rpm_db=False,\n",
        '        {"name": "root", "uid": "0"},\n',
        '        {"name": "alice", "uid": "1000", "gid": "990", "home": "/srv/alice", "shell": "/bin/bash", '
        '"groups": "wheel"},\n',
        '    files={\n        "/etc/issue": "files/motd",\n        "/etc/motd": "files/motd",\n    },\n',
        '    post_install=[\n        "scripts/setup.sh",\n    ],\n',
    ):
        assert line in build, line
    # Each source once, next to the BUILD file, in path order, the script still executable.
    assert [(f.path, f.content, f.executable) for f in imported.files] == [
        ("files/motd", b"Welcome.\n", False),
        ("scripts/setup.sh", FILES["scripts/setup.sh"], True),
    ]
    compile(build, "BUILD", "exec")
    # The same config gives the same bytes.
    assert convert(config()) == imported
    assert previous_copies(build) == ["files/motd", "scripts/setup.sh"]


def test_the_written_build_file_is_accepted_by_keels_target_types() -> None:
    imported = convert(config())
    rule_runner = RuleRunner(target_types=[DiskImageTarget, PackageSetTarget])
    rule_runner.write_files(
        {"images/web/BUILD": imported.build, **{f"images/web/{f.path}": f.content for f in imported.files}}
    )
    package_set = rule_runner.get_target(Address("images/web", target_name="web-server-packages"))
    assert package_set[PackageSetPackagesField].value == (
        "filesystem", "bash", "core-release", "nginx", "curl", "openssh-server",
    )
    image = rule_runner.get_target(Address("images/web", target_name="web-server"))
    assert image[DiskImageFormatField].value == "vhd"
    assert image[DiskImageSizeField].value == "1G"
    assert image[DiskImageOutputPathField].value == "images/web/web.vhd"
    assert [dict(p) for p in image[DiskImagePartitionsField].value] == [
        {"name": "boot", "size": "64M", "filesystem": "vfat", "type": "esp", "mount": "/boot/efi", "label": "boot"},
        {"name": "root", "size": "*", "filesystem": "ext4", "type": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
         "mount": "/", "label": "root"},
    ]
    assert image[DiskImagePackagesField].value == (":web-server-packages", "kernel")
    assert image[DiskImageHostnameField].value == "web01"
    assert image[DiskImageKernelCmdlineField].value.endswith("rw systemd.unified_cgroup_hierarchy=1 quiet loglevel=3")
    assert image[DiskImageRpmDbField].value is False
    assert [dict(g) for g in image[DiskImageGroupsField].value] == [
        {"name": "wheel", "gid": "10"},
        {"name": "web", "gid": "990"},
    ]
    assert [dict(u) for u in image[DiskImageUsersField].value][1] == {
        "name": "alice", "uid": "1000", "gid": "990", "home": "/srv/alice", "shell": "/bin/bash", "groups": "wheel",
    }
    assert dict(image[DiskImageFilesField].value) == {"/etc/issue": "files/motd", "/etc/motd": "files/motd"}
    assert image[DiskImagePostInstallField].value == ("scripts/setup.sh",)


def test_fields_at_the_toolkits_defaults_ask_for_nothing() -> None:
    quiet = config(
        Encryption={"Enable": False, "Password": ""},
        PreInstallScripts=[],
        EnableSystemdFirstboot=False,
        OverrideRpmLocales="",
        KernelCommandLine={"SELinux": "", "EnableFIPS": False, "ImaPolicy": [], "ExtraCommandLine": "quiet"},
    )
    assert convert(quiet).build == convert(config(KernelCommandLine={"ExtraCommandLine": "quiet"})).build
    # EnableGrubMkconfig's default is true: any value asks for GRUB's configuration.
    assert [p.split(": ")[1] for p in problems(config(EnableGrubMkconfig=False))] == [
        "SystemConfigs[0].EnableGrubMkconfig"
    ]


def test_partition_sizes_follow_start_and_end() -> None:
    cfg = config(
        PartitionSettings=[
            {"ID": "esp", "MountPoint": "/boot/efi"},
            {"ID": "root", "MountPoint": "/"},
            {"ID": "var", "MountPoint": "/var"},
        ],
    )
    cfg["Disks"][0]["MaxSize"] = 3000
    cfg["Disks"][0]["Artifacts"] = []
    cfg["Disks"][0]["Partitions"] = [
        {"ID": "esp", "Flags": ["esp"], "Start": 1, "End": 0, "FsType": "vfat"},  # up to the next Start
        {"ID": "root", "Start": 33, "End": 2081, "FsType": "ext4"},
        {"ID": "spare", "Start": 2081, "End": 2100},  # no FsType: left empty
        {"ID": "var", "Start": 2100, "End": 0, "FsType": "ext4", "TypeUUID": "4d21b016-b534-45c2-a9fb-5c16e091fd2d"},
    ]
    build = convert(cfg, default_format="qcow2").build
    assert '    format="qcow2",\n' in build and "output_path" not in build
    assert '    size="3000M",\n' in build
    assert '{"name": "esp", "size": "32M", "filesystem": "vfat", "type": "esp", "mount": "/boot/efi", "label": "esp"}' in build
    assert '{"name": "root", "size": "2G", "filesystem": "ext4", "type": "linux", "mount": "/", "label": "root"}' in build
    assert '{"name": "spare", "size": "19M", "filesystem": "none", "type": "linux"}' in build
    assert (
        '{"name": "var", "size": "*", "filesystem": "ext4", "type": "4D21B016-B534-45C2-A9FB-5C16E091FD2D", '
        '"mount": "/var", "label": "var"}'
    ) in build
    assert "root=PARTLABEL=root rw systemd" in build


def test_unsupported_fields_are_all_listed_in_one_error() -> None:
    cfg = config(
        Encryption={"Enable": True, "Password": "secret"},
        KernelCommandLine={"SELinux": "enforcing", "ExtraCommandLine": "quiet"},
        KernelOptions={"default": "kernel", "hwe": "kernel-hwe"},
        PostInstallScripts=[{"Path": "scripts/setup.sh", "Args": "--fast"}],
        Networks=[{"BootProto": "dhcp", "Device": "eth0"}],
        PreserveTdnfCache=False,  # a default asks for nothing
        Frobnicate=1,
    )
    cfg["SystemConfigs"][0]["Users"][1]["Password"] = "hunter2"
    cfg["Disks"][0]["Partitions"][1]["FsType"] = "xfs"
    cfg["SystemConfigs"][0]["PartitionSettings"][0]["MountOptions"] = "umask=0077"
    listed = problems(cfg)
    at = f"{CONFIG_DIR}/web.json: "
    # In the config's order: the disk, the system's fields, then its accounts, files and scripts.
    assert [p.split(": ")[1] for p in listed] == [
        "Disks[0].Partitions[1].FsType",
        "SystemConfigs[0].PartitionSettings[0].MountOptions",
        "SystemConfigs[0].KernelOptions.hwe",
        "SystemConfigs[0].KernelCommandLine.SELinux",
        "SystemConfigs[0].Encryption",
        "SystemConfigs[0].Networks",
        "SystemConfigs[0].Frobnicate",
        "SystemConfigs[0].Users[1].Password",
        "SystemConfigs[0].PostInstallScripts[0].Args",
    ]
    assert all(p.startswith(at) for p in listed)
    assert f"{at}SystemConfigs[0].Encryption: keel does not encrypt partitions." in listed
    assert f"{at}SystemConfigs[0].Frobnicate: not a field of the toolkit's system config." in listed


def test_values_keel_cannot_hold_are_listed_with_their_file() -> None:
    lists = {"packagelists/base.json": json.dumps({"packages": ["bash", "gcc=13.2.0", "x y"], "repo": "a"}).encode()}
    cfg = config(PackageLists=["packagelists/base.json", "packagelists/missing.json"])
    cfg["Disks"][0]["Partitions"][1]["Start"] = 70  # a gap after the ESP
    cfg["Disks"][0]["Partitions"][0]["Flags"] = ["esp", "bios_grub"]
    cfg["SystemConfigs"][0]["Users"][1]["SecondaryGroups"] = ["wheel", "docker"]
    cfg["SystemConfigs"][0]["Users"].append({"Name": "bob"})
    cfg["SystemConfigs"][0]["AdditionalFiles"] = {"files/nope": "/etc/nope", "files/motd": "etc/motd"}
    listed = problems(cfg, reader(lists))
    lst = f"{CONFIG_DIR}/packagelists/base.json: "
    cfg_at = f"{CONFIG_DIR}/web.json: "
    expected = [
        f"{cfg_at}Disks[0].Partitions[0].Flags[1]: keel makes UEFI disks: no BIOS boot partition.",
        f"{cfg_at}Disks[0].Partitions[1].Start: keel starts each partition where the one before it ends "
        "(65 MiB), and this one starts at 70 MiB.",
        f"{cfg_at}SystemConfigs[0].Users[1].SecondaryGroups: keel adds users only to groups the image "
        "defines: add docker to Groups with a GID.",
        f"{cfg_at}SystemConfigs[0].Users[2].UID: keel creates users with a UID (user bob).",
        f"{lst}repo: not a field of a package list.",
        f"{lst}packages[1]: keel installs the packages it builds, without version pins ('gcc=13.2.0').",
        f"{lst}packages[2]: not a package name ('x y').",
        f"{cfg_at}SystemConfigs[0].AdditionalFiles[\"files/nope\"]: cannot read "
        f"{CONFIG_DIR}/files/nope (no such file).",
        f"{cfg_at}SystemConfigs[0].AdditionalFiles[\"files/motd\"]: the destination is an absolute path in the image.",
    ]
    for line in expected:
        assert line in listed, line
    assert any("PackageLists[1]: cannot read the package list" in p for p in listed)


def test_several_system_configs_need_a_name() -> None:
    cfg = config()
    other = dict(cfg["SystemConfigs"][0], Name="Debug", IsDefault=True, Hostname="web-debug")
    cfg["SystemConfigs"].append(other)
    with pytest.raises(ImageImportError, match="name the one to import with `--azl-image-import-system-config=NAME`"):
        convert(cfg)
    build = convert(cfg, system_config="Debug", name="debug").build
    assert 'disk_image(\n    name="debug",' in build and 'hostname="web-debug"' in build
    with pytest.raises(ImageImportError, match="no system config named 'Nope'"):
        convert(cfg, system_config="Nope")


# The goal, in a RuleRunner's build root.


@pytest.fixture
def rule_runner() -> RuleRunner:
    return RuleRunner(rules=import_image_rules(), target_types=[DiskImageTarget, PackageSetTarget])


def write_config(rule_runner: RuleRunner, cfg: dict) -> None:
    rule_runner.write_files(
        {
            f"{CONFIG_DIR}/web.json": json.dumps(cfg, indent=2),
            **{f"{CONFIG_DIR}/{k}": json.dumps(v) for k, v in LISTS.items()},
            **{f"{CONFIG_DIR}/{k}": v for k, v in FILES.items()},
        }
    )
    os.chmod(Path(rule_runner.build_root, CONFIG_DIR, "scripts/setup.sh"), 0o755)


def run(rule_runner: RuleRunner, *args: str):
    return rule_runner.run_goal_rule(
        AzlImageImport, args=[f"--azl-image-import-config={CONFIG_DIR}/web.json", *args]
    )


def test_the_goal_writes_nothing_when_a_field_is_unsupported(rule_runner: RuleRunner) -> None:
    cfg = config(Encryption={"Enable": True}, PreInstallScripts=[{"Path": "scripts/setup.sh"}])
    cfg["SystemConfigs"][0]["Users"][1]["Password"] = "hunter2"
    cfg["Disks"][0]["PartitionTableType"] = "mbr"
    write_config(rule_runner, cfg)
    result = run(rule_runner, "--azl-image-import-dest=images/web")
    assert result.exit_code == 1
    assert "cannot be imported: keel cannot express these fields (nothing was written)" in result.stderr
    for field in (
        "Disks[0].PartitionTableType: keel makes GPT disks, not 'mbr'",
        "SystemConfigs[0].Encryption: keel does not encrypt partitions",
        "SystemConfigs[0].PreInstallScripts: keel runs no scripts before installing packages",
        "SystemConfigs[0].Users[1].Password: keel locks every account's password",
    ):
        assert f"  - {CONFIG_DIR}/web.json: {field}" in result.stderr, field
    assert not Path(rule_runner.build_root, "images").exists()


def test_the_goal_writes_the_build_file_and_importing_again_replaces_it(rule_runner: RuleRunner) -> None:
    write_config(rule_runner, config())
    result = run(rule_runner, "--azl-image-import-dest=images/web")
    assert result.exit_code == 0, result.stderr
    assert "disk_image //images/web:web-server" in result.stdout
    dest = Path(rule_runner.build_root, "images/web")
    first = (dest / "BUILD").read_text()
    assert first == convert(config()).build
    assert (dest / "files/motd").read_bytes() == FILES["files/motd"]
    assert os.access(dest / "scripts/setup.sh", os.X_OK)
    image = rule_runner.get_target(Address("images/web", target_name="web-server"))
    assert image[DiskImagePostInstallField].value == ("scripts/setup.sh",)

    # Again, without the script: the BUILD file is replaced, the copy the config no longer names goes.
    write_config(rule_runner, config(PostInstallScripts=[], Hostname="web02"))
    assert run(rule_runner, "--azl-image-import-dest=images/web").exit_code == 0
    second = (dest / "BUILD").read_text()
    assert 'hostname="web02"' in second and "post_install" not in second
    assert not (dest / "scripts").exists() and (dest / "files/motd").exists()


def test_the_goal_leaves_a_build_file_it_did_not_write(rule_runner: RuleRunner) -> None:
    write_config(rule_runner, config())
    rule_runner.write_files({"images/web/BUILD": "files(sources=['*'])\n"})
    result = run(rule_runner, "--azl-image-import-dest=images/web")
    assert result.exit_code == 1
    assert "images/web/BUILD exists and was not written by `./pants azl-image-import`" in result.stderr
    assert Path(rule_runner.build_root, "images/web/BUILD").read_text() == "files(sources=['*'])\n"
    result = run(rule_runner)
    assert result.exit_code == 1 and "needs `--config=PATH`" in result.stderr
