"""Stage 3, images: `disk_image` targets made from the RPMs of the package stage.

Reading order: target_types, util_rules/settings (an image's `base` applied),
util_rules/image_root (packages resolved and installed),
util_rules/layout (GPT, sizes, derived ids), util_rules/disk (filesystems, raw disk, formats),
util_rules/update (update artifacts and COSI), goals/package.
"""
from rules.image import dependency_inference
from rules.image.goals import graph, package
from rules.image.target_types import (
    ContainerImageTarget,
    DiskImageTarget,
    IsoImageTarget,
    PackageSetTarget,
    UpdateImageTarget,
)
from rules.image.util_rules import container, disk, image_root, iso, keyring, repos, settings, update
from rules.rpm import register as rpm


def target_types():
    return [
        DiskImageTarget, IsoImageTarget, ContainerImageTarget, UpdateImageTarget, PackageSetTarget,
        *rpm.target_types(),
    ]


def rules():
    return [*rpm.rules(), *image_root.rules(), *disk.rules(), *container.rules(), *iso.rules(), *keyring.rules(), *repos.rules(), *settings.rules(), *update.rules(), *package.rules(), *dependency_inference.rules(), *graph.rules()]
