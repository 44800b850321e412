"""Bad inputs of the image stage: image targets, their fields and files, what they install.
(tests/reliability/catalogue.py says how each case is checked.)"""
from __future__ import annotations

from typing import Callable, Iterator

import pytest

from tests.integration.image_workspace import FILES
from tests.pants_workspace import Workspace
from tests.reliability.catalogue import Case, Catalogue, catalogue, replace

IMAGES = "images/greeter/BUILD"
RAW = 'disk_image(name="raw", format="raw", size="64M", **SYSTEM)'
ESP = '{"name": "esp", "size": "8M", "filesystem": "vfat", "type": "esp", "mount": "/boot/efi"}'


def raw(fields: str) -> Callable:
    """An edit of images/greeter:raw: its fields after SYSTEM's (which they override)."""
    return replace(RAW, f'disk_image(name="raw", **dict(dict(SYSTEM, format="raw", size="64M"), {fields}))')


CASES = [
    Case(
        "unknown-package",
        "an image package no target builds or provides",
        {IMAGES: raw('packages=["//specs/greet", "no-such-package"]')},
        "images/greeter:raw",
        "The `packages` field of images/greeter:raw lists 'no-such-package', but no rpm_package builds or provides it",
        names=("images/greeter/BUILD",),
    ),
    Case(
        "unmet-requires",
        "an image package whose `Requires:` nothing provides",
        {"specs/greet-data/greet-data.spec": replace("BuildArch: noarch\n", "BuildArch: noarch\nRequires: unicorn-dust\n")},
        "images/greeter:raw",
        "greet-data (specs/greet-data/greet-data.spec, target specs/greet-data:greet-data) Requires "
        "unicorn-dust, which no rpm_package provides",
        names=("images/greeter/BUILD", "images/greeter:raw"),
    ),
    Case(
        "too-small",
        "an image whose files do not fit its size",
        {
            "specs/greet-data/greet-data.spec": replace(
                "echo hello > %{buildroot}%{_datadir}/greet/message",
                "head -c 24000000 /dev/urandom > %{buildroot}%{_datadir}/greet/message",
            ),
            IMAGES: raw(f'size="20M", partitions=[{ESP}, {{"name": "root", "size": "*", "filesystem": "ext4", "mount": "/"}}]'),
        },
        "images/greeter:raw",
        "The `partitions` field of images/greeter:raw: partition root (10 MiB) cannot hold its",
        names=("images/greeter/BUILD", "Give it a larger `size`"),
    ),
    Case(
        "partitions-exceed-disk",
        "partitions larger than the disk",
        {IMAGES: raw(f'partitions=[{ESP}, {{"name": "root", "size": "60M", "filesystem": "ext4", "mount": "/"}}]')},
        "images/greeter:raw",
        "The `size` field of images/greeter:raw: 64M cannot hold partitions of 68 MiB",
        names=("images/greeter/BUILD",),
    ),
    Case(
        "size-not-whole-mib",
        "a size that is not a whole number of MiB (a VHD's footer needs one)",
        {IMAGES: raw('size="67108865"')},
        "images/greeter:raw",
        "images/greeter/BUILD:11: The `size` field of images/greeter:raw: the disk size is '67108865'; write MiB or GiB",
    ),
    Case(
        "unknown-format",
        "an unknown disk format",
        {IMAGES: replace('format="raw", size="64M", **SYSTEM)', 'format="vmdk", size="64M", **SYSTEM)')},
        "images/greeter:raw",
        # Pants' own check of the field's choices, with the BUILD file's line.
        "images/greeter/BUILD:11: Values for the 'format' field in target images/greeter:raw must be one of "
        "['qcow2', 'raw', 'vhd', 'vhdx'], but 'vmdk' was provided",
    ),
    Case(
        "unknown-filesystem",
        "a partition filesystem keel does not make",
        {IMAGES: raw('partitions=[{"name": "root", "size": "*", "filesystem": "xfs", "mount": "/"}]')},
        "images/greeter:raw",
        "partition root has filesystem 'xfs'; keel makes ext4 and vfat",
        names=("images/greeter/BUILD",),
    ),
    Case(
        "duplicate-mounts",
        "two partitions with one mount point",
        {IMAGES: raw(f'partitions=[{ESP}, {ESP.replace("esp", "esp2")}, {{"name": "root", "filesystem": "ext4", "mount": "/"}}]')},
        "images/greeter:raw",
        "two partitions mount /boot/efi; give each its own `mount`",
        names=("images/greeter/BUILD", "images/greeter:raw"),
    ),
    Case(
        "two-rest-partitions",
        "two partitions without a size",
        {IMAGES: raw('partitions=[{"name": "data", "filesystem": "ext4", "mount": "/srv"}, {"name": "root", "filesystem": "ext4", "mount": "/"}]')},
        "images/greeter:raw",
        "only one partition may take the rest",
        names=("images/greeter/BUILD", "images/greeter:raw"),
    ),
    Case(
        "post-install-without-shell",
        "a `post_install` script in an image without /bin/sh",
        {IMAGES: raw('packages=["//specs/greet"]')},
        "images/greeter:raw",
        "The `post_install` scripts of images/greeter:raw need /bin/sh in the image",
        names=("images/greeter/BUILD",),
    ),
    Case(
        "post-install-fails",
        "a `post_install` script that fails",
        {"images/greeter/setup.sh": "echo 'setup: no network here' >&2; exit 3\n"},
        "images/greeter:raw",
        "The `post_install` script images/greeter/setup.sh of images/greeter:raw failed (exit status 3)",
        names=("images/greeter/BUILD",),
        also=("setup: no network here",),
    ),
    Case(
        "missing-file",
        "a `files` entry naming a file that is not there",
        {IMAGES: raw('files={"/etc/motd": "no-such-motd"}')},
        "images/greeter:raw",
        "The `files` field of images/greeter:raw names 'no-such-motd', but images/greeter has no such file",
        names=("images/greeter/BUILD",),
    ),
    Case(
        "user-in-unknown-group",
        "a user in a group the image does not define",
        {IMAGES: raw('users=[{"name": "bob", "uid": "1002", "groups": "nope"}]')},
        "images/greeter:raw",
        "The `users` field of images/greeter:raw: user bob is to join group nope",
        names=("images/greeter/BUILD",),
    ),
    Case(
        "bad-group",
        "a group entry without a numeric gid",
        {IMAGES: raw('groups=[{"name": "staff", "gid": "fifty"}]')},
        "images/greeter:raw",
        "The `groups` field of images/greeter:raw: group staff has gid 'fifty'; a gid is a number",
        names=("images/greeter/BUILD",),
    ),
    Case(
        "field-type",
        "a BUILD field of the wrong type",
        {IMAGES: raw("size=64")},
        "images/greeter:raw",
        # Pants' own check, with the BUILD file's line.
        "images/greeter/BUILD:11: The 'size' field in target images/greeter:raw must be a string",
    ),
    Case(
        "no-such-address",
        "an address that does not exist",
        {},
        "images/greeter:rwa",
        "The address images/greeter:rwa from CLI arguments does not exist",
        # Pants' own error: it names the directory (there may be no BUILD file) and the names
        # that are there.
        names=("is not defined in the directory images/greeter", "* :raw"),
        fixed_target="images/greeter:raw",
    ),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[Catalogue]:
    ws = Workspace(tmp_path_factory.mktemp("image"), FILES)
    yield from catalogue(ws, ("images/greeter:raw",))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_image_input_is_one_clear_error_and_nothing_wrong_is_kept(built: Catalogue, case: Case) -> None:
    built.check(case)

