"""The `[image]` options."""
from __future__ import annotations

from enum import Enum

from pants.option.option_types import BoolOption, EnumOption, IntOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class AssemblySpace(Enum):
    memory = "memory"
    disk = "disk"


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
    assembly = EnumOption(
        default=AssemblySpace.memory,
        help=help_text(
            """
            Where a disk's filesystem images are made: `memory`, the private /tmp of the
            imager root (a tmpfs), or `disk`, the action's sandbox (under Pants'
            `[GLOBAL].local_execution_root_dir`), for images larger than memory should hold.
            The image's files are unpacked in memory either way: mkfs.ext4 -d and mcopy add
            them in readdir order, which a tmpfs keeps as tar's sorted order and a disk
            filesystem does not. Both give the same bytes. An image that does not fit fails
            with the memory it needs.
            """
        ),
    )
    assembly_memory_mib = IntOption(
        default=0,
        help=help_text(
            """
            The most memory, in MiB, that assembling one disk may take (the size of the imager
            root's /tmp). 0: the kernel's default for a tmpfs, half the machine's memory. A
            disk whose files (and, with `assembly = "memory"`, filesystem images) need more
            fails before it starts, saying how much it needs.
            """
        ),
    )

    layered_roots = BoolOption(
        default=True,
        help=help_text(
            """
            Install an image with a `base` on the base's installed root: unpack it, install
            only the RPMs the base lacks, then the image's own users, groups, files and
            `post_install` scripts. The base's root is installed once and every image on it
            reuses it (from the cache). `False`: install every image's packages into an empty
            root. The two roots hold the same files with the same owners, modes and contents,
            except the rpm database and the account files, whose order follows the order of
            installation (README, "Teams: your packages on keel core"). Not layered either way:
            an image or base with `rpm_db=False` (rpm needs the base's database), or whose
            base holds an RPM the image does not.
            """
        ),
    )

    def assembly_env(self) -> dict[str, str]:
        """What scripts/make_disk.sh and rules/sandbox/scripts/enter_root.sh read."""
        env = {"KEEL_ASSEMBLY": self.assembly.value}
        if self.assembly_memory_mib:
            env["KEEL_TMP_MIB"] = str(self.assembly_memory_mib)
        return env
