"""The `[image]` options."""
from __future__ import annotations

from pants.option.option_types import StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class ImageSubsystem(Subsystem):
    options_scope = "image"
    help = "How keel assembles disk images."

    toolchain = StrOption(
        default="//toolchain:imager",
        help=help_text(
            """
            The toolchain_stage whose root holds the image tools (rpm, e2fsprogs, dosfstools,
            mtools, fdisk, qemu-utils). Images are assembled inside it, so the tools' versions
            are pinned by its seed lock; a separate stage from the package build root, so a new
            image tool does not rebuild any RPM.
            """
        ),
    )
