"""The `[rpm-publish]` options: what is already published, so nothing is published twice
with different bytes."""
from __future__ import annotations

from pants.option.option_types import StrListOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class RpmPublishSubsystem(Subsystem):
    options_scope = "rpm-publish"
    help = help_text(
        """
        How `rpm_repository` targets are published. A client that has seen an RPM's checksum
        in a repository's metadata refuses other bytes under the same name ("checksum doesn't
        match"): `published` makes `./pants package` refuse them first.
        """
    )

    published = StrListOption(
        default=[],
        help=help_text(
            """
            What is already published, checked by every `rpm_repository` that does not set its
            own `published` field. Each entry is either a directory of a published repository
            (the directory holding `repodata/`: a copy of what the server serves; its
            `repodata/` alone is enough, the RPM files are not read), or a JSON file (`.json`)
            mapping RPM file names or NEVRAs to sha256, e.g.
            `{"foo-1.0-1.azl3.x86_64.rpm": "<sha256>"}` (a keel repository's `keel-seed.json`
            is one too: its `Signatures`). Paths are absolute or relative to the
            build root. An RPM whose name, version, release and arch are published with other
            bytes fails the package goal, naming the spec whose Release to bump; the same
            bytes publish again. Also `PANTS_RPM_PUBLISH_PUBLISHED` (one path, or a list
            `["DIR", "FILE.json"]`).
            """
        ),
    )
