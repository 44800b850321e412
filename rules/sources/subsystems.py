"""The `[rpm-sources]` options: where sources not kept in the repo come from."""
from __future__ import annotations

from pants.option.option_types import BoolOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text

DEFAULT_CACHE_DIR = "~/.cache/keel/sources"


class RpmSourcesSubsystem(Subsystem):
    options_scope = "rpm-sources"
    help = help_text(
        """
        Sources pinned by content. A spec's `SourceN`/`PatchN` that is not a file next to the
        spec must be listed with its sha256 in `NAME.signatures.json`
        (`{"Signatures": {"file": "sha256"}}`, the Azure Linux convention). keel fetches it once
        per sha256, trying in order: the local source cache, each mirror, the spec's own URL.
        """
    )

    cache_dir = StrOption(
        default=DEFAULT_CACHE_DIR,
        help=help_text(
            """
            A local directory of source files by file name, tried first. Fill it on an offline
            machine with `build-support/source-cache import DIR`, which checks every file
            against the signatures.
            """
        ),
    )
    mirrors = StrListOption(
        default=[],
        help=help_text(
            """
            URL templates tried after the local cache, in order; `{filename}` and `{sha256}` are
            replaced, e.g. `https://mirror.example/sources/{filename}`.
            """
        ),
    )
    use_spec_urls = BoolOption(
        default=True,
        help="Try the URL the spec gives for a source (its `SourceN:` line) after the mirrors.",
    )
