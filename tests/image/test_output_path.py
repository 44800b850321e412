"""Where `./pants package` writes an image when its target sets no `output_path`."""
from __future__ import annotations

import itertools

from pants.engine.addresses import Address

from rules.image.goals.package import ContainerImageFieldSet, DiskImageFieldSet, IsoImageFieldSet
from rules.image.target_types import FORMATS, ContainerImageTarget, DiskImageTarget, IsoImageTarget

PACKAGES = {"packages": ["kernel"]}


def disk(directory: str, name: str, format: str, **fields) -> str:
    target = DiskImageTarget({**PACKAGES, "format": format, **fields}, Address(directory, target_name=name))
    return DiskImageFieldSet.create(target).output_file()


def iso(directory: str, name: str) -> str:
    return IsoImageFieldSet.create(IsoImageTarget(PACKAGES, Address(directory, target_name=name))).output_file()


def container(directory: str, name: str) -> str:
    target = ContainerImageTarget(PACKAGES, Address(directory, target_name=name))
    return ContainerImageFieldSet.create(target).output_file()


def test_images_named_after_their_kind_keep_the_directory_name() -> None:
    # images/core/BUILD's targets, as the README and the boot tests name their files.
    assert [disk("images/core", f, f) for f in ("vhdx", "vhd", "raw", "qcow2")] == [
        "images/core/core.vhdx", "images/core/core.vhd", "images/core/core.raw", "images/core/core.qcow2",
    ]
    assert iso("images/core", "iso") == "images/core/core.iso"
    assert container("images/core", "container") == "images/core/core.oci.tar"


def test_two_images_of_one_format_in_one_directory_get_two_files() -> None:
    assert disk("images/core", "vhdx", "vhdx") != disk("images/core", "big", "vhdx") == "images/core/core-big.vhdx"
    assert iso("images/core", "installer") == "images/core/core-installer.iso"
    assert container("images/core", "slim") == "images/core/core-slim.oci.tar"


def test_no_two_targets_share_a_default() -> None:
    names = ["vhdx", "raw", "iso", "container", "core", "big", "core-big"]
    outputs = {}
    for directory, name in itertools.product(["images/core", "images/edge", "other/core"], names):
        for kind, path in [
            *((f"disk {f}", disk(directory, name, f)) for f in FORMATS),
            ("iso", iso(directory, name)),
            ("container", container(directory, name)),
        ]:
            assert path not in outputs, f"{directory}:{name} ({kind}) and {outputs[path]} share {path}"
            outputs[path] = f"{directory}:{name} ({kind})"


def test_output_path_wins() -> None:
    assert disk("images/core", "vhdx", "vhdx", output_path="x/y.vhdx") == "x/y.vhdx"
