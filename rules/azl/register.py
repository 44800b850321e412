"""Azure Linux compatibility: import spec directories of an Azure Linux checkout, as ordinary
rpm_package targets built in a toolchain stage that is Azure Linux's build root.

A layer on the three stages, not a fork: the build root is a toolchain_stage
(`//toolchain/azl:bootstrap` plus the stage `azl-import` writes), the specs are rpm_package
targets, and the compatibility report is `./pants rpm-compat` (rules/rpm).

`./pants azl-image-import` does the same for images: an Azure Linux image config becomes a
package_set and a disk_image (rules/image).
"""
from rules.azl.goals import import_image, import_specs


def rules():
    return [*import_specs.rules(), *import_image.rules()]
