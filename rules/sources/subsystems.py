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
        per sha256, trying in order: the local source cache, each mirror, the spec's own URL,
        then (`from_host`) the package registries the host reaches.
        """
    )

    cache_dir = StrOption(
        default=DEFAULT_CACHE_DIR,
        help=help_text(
            """
            A local directory of source files by file name, tried first. Fill it on an offline
            machine with `build-support/source-cache import DIR`, which checks every file
            against the signatures, or ahead of a build with `build-support/source-cache
            from-host` (what `from_host` does file by file during a build).
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
    from_host = BoolOption(
        default=True,
        help=help_text(
            """
            When no other place has a pinned source, look it up by sha256 in the package
            registries the host reaches through its own clients' configuration, as
            `build-support/source-cache from-host` does, and use the file only if its sha256 is
            the pin: Debian's source indexes (every suite the apt configuration of `apt_dir`
            reaches, and `debian_suites` at the same URIs), PyPI's simple indexes as pip is
            configured (for files named like an sdist or whose URL names a PyPI project), and npm
            (`npm pack`, for NAME-X.Y.Z.tgz). The Debian indexes are read once into a sha256 index
            kept in the Pants named cache `keel_host_registries` (tens of seconds the first
            time; read again when older than 12 hours, or when a file is missing from an index
            older than an hour). Sources are still fetched in their own processes before any
            build, never inside one.
            """
        ),
    )
    apt_dir = StrOption(
        default="/etc/apt",
        help=help_text(
            """
            The apt configuration whose `deb` sources `from_host` turns into `deb-src` to search
            Debian's source indexes (sources.list and sources.list.d/); apt reads them in a
            private state, never touching the host's apt lists.
            """
        ),
    )
    debian_suites = StrListOption(
        default=["backports", "stable", "testing", "unstable"],
        help=help_text(
            """
            Debian suites `from_host` reads at the URIs of the host's apt sources, besides the
            host's own suites: `backports` is CODENAME-backports for each of their codenames,
            other names are suites as they are (Debian's stable/testing/unstable aliases, or a
            codename). Empty: the host's own suites only.
            """
        ),
    )
