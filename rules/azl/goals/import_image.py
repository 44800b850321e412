"""`./pants azl-image-import`: turn an Azure Linux image config into keel targets.

The conversion is rules/azl/image_config.py; this goal reads the config and the files it names
from the workspace, and writes the BUILD file and the copies.
"""
from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path

from pants.base.build_environment import get_buildroot
from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, collect_rules, goal_rule
from pants.option.option_types import StrOption
from pants.util.strutil import help_text

from rules.azl.image_config import (
    GOAL,
    ImageImportError,
    ImportOptions,
    SourceFile,
    stays_inside,
    import_image_config,
    previous_copies,
    written_by_import,
)
from rules.image.target_types import FORMATS


class AzlImageImportSubsystem(GoalSubsystem):
    name = GOAL
    help = help_text(
        """
        Write keel targets for an Azure Linux image config (the toolkit's JSON with `Disks` and
        `SystemConfigs`): `./pants azl-image-import --config=images/core-efi.json
        --dest=images/core-efi`. DEST/BUILD gets a `package_set` of the config's package lists
        and a `disk_image` of its disk, partitions, users, files and scripts; the files and
        scripts are copied under DEST. Whatever keel cannot express stops the import with one
        error listing every such field, and nothing is written. Importing again replaces the
        BUILD file and the files the last import copied.
        """
    )

    config = StrOption(
        default=None,
        help="The image config JSON file to import (relative to the build root, or absolute).",
    )
    system_config = StrOption(
        default=None,
        help=help_text(
            """
            The `Name` of the system config to import, when the config has several (the other
            system configs are not read). A config with one system config needs none.
            """
        ),
    )
    dest = StrOption(
        default=None,
        help=help_text(
            """
            The workspace directory to write, relative to the build root, e.g. `images/web`: its
            BUILD file and the copied files. A BUILD file already there that this goal did not
            write is left alone: the import stops.
            """
        ),
    )
    target_name = StrOption(
        default=None,
        help=help_text(
            """
            The name of the `disk_image` target; the `package_set` is `NAME-packages`. Default:
            the system config's `Name`, lowercased, with other characters than letters, digits,
            `.`, `_` and `-` made `-`.
            """
        ),
    )
    format = StrOption(
        default="vhdx",
        help=help_text(
            f"""
            The `disk_image` format ({", ".join(FORMATS)}) when the disk's `Artifacts` give no
            `Type`.
            """
        ),
    )


class AzlImageImport(Goal):
    subsystem_cls = AzlImageImportSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY



@goal_rule
async def azl_image_import(
    console: Console, subsystem: AzlImageImportSubsystem, workspace: Workspace
) -> AzlImageImport:
    def fail(message: str) -> AzlImageImport:
        console.print_stderr(message)
        return AzlImageImport(exit_code=1)

    if not subsystem.config or not subsystem.dest:
        return fail(
            f"{GOAL} needs `--config=PATH` (an Azure Linux image config JSON) and `--dest=DIR` "
            f"(the workspace directory to write), e.g. `./pants {GOAL} --config=images/core-efi.json "
            "--dest=images/core-efi`."
        )
    buildroot = Path(get_buildroot())
    config_file = (buildroot / os.path.expanduser(subsystem.config)).resolve()
    dest = posixpath.normpath(subsystem.dest.strip("/"))
    if not stays_inside(dest) or dest == ".":
        return fail(f"`--dest` is {subsystem.dest!r}; it is a directory inside the build root, e.g. `images/web`.")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as e:
        return fail(f"Cannot read the image config {config_file}: {e}")
    shown = os.path.relpath(config_file, buildroot)

    def read(relative: str) -> SourceFile:
        path = config_file.parent / relative
        if not path.is_file():
            raise FileNotFoundError("no such file")
        return SourceFile(path.read_bytes(), os.access(path, os.X_OK))

    build_path = buildroot / dest / "BUILD"
    old_build = build_path.read_text() if build_path.is_file() else None
    if old_build is not None and not written_by_import(old_build):
        return fail(
            f"{dest}/BUILD exists and was not written by `./pants {GOAL}`: choose another `--dest`, "
            "or move that BUILD file away."
        )
    try:
        imported = import_image_config(
            config,
            ImportOptions(
                config_path=shown,
                dest=dest,
                system_config=subsystem.system_config,
                name=subsystem.target_name,
                default_format=subsystem.format,
            ),
            read,
        )
    except ImageImportError as e:
        return fail(str(e))

    # Importing again replaces what the last import wrote: the files it copied go first.
    kept = {f.path for f in imported.files}
    for old in previous_copies(old_build or ""):
        old_path = buildroot / dest / old
        if stays_inside(old) and old not in kept and old_path.is_file():
            old_path.unlink()
            # Directories the import made for it go too, when nothing else is in them.
            parent = old_path.parent
            while parent != buildroot / dest and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
    contents = [FileContent(f"{dest}/BUILD", imported.build.encode())]
    contents.extend(FileContent(f"{dest}/{f.path}", f.content, is_executable=f.executable) for f in imported.files)
    workspace.write_digest(await Get(Digest, CreateDigest(contents)))
    console.print_stdout(
        f"Imported {shown} into {dest}/BUILD: disk_image //{dest}:{imported.image}"
        + (f", package_set //{dest}:{imported.package_set} ({imported.packages} packages)" if imported.package_set else "")
        + f", {len(imported.files)} copied files.\n"
        f"Next: `./pants package {dest}:{imported.image}` builds it, once keel builds its packages."
    )
    return AzlImageImport(exit_code=0)


def rules():
    return collect_rules()
