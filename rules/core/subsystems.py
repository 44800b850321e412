"""The `[keel-host]` options: the host keel runs on, for every backend."""
from __future__ import annotations

from dataclasses import dataclass

from pants.option.option_types import StrListOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text

DEFAULT_SEARCH_PATH = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")


class KeelHostSubsystem(Subsystem):
    options_scope = "keel-host"
    help = help_text(
        """
        The host keel runs on: where its host tools are. The tools, and the packages that bring
        them, are listed in rules/core/host-tools.txt.
        """
    )

    search_path = StrListOption(
        default=list(DEFAULT_SEARCH_PATH),
        help=help_text(
            """
            Where to find the host tools keel runs outside build roots: bubblewrap, unshare, tar
            and zstd (entering roots), apt-get and mmdebstrap (the bootstrap seed), rpm (reading
            RPM headers), python3 (fetching sources, writing VHD/VHDX). Builds themselves use the
            tools of their root. The sha256 of every host tool found here (and of the libraries
            it links) is part of each action's cache key, so another tool on another machine
            never gives a false cache hit. Replaces `[rpm].search_path`.
            """
        ),
    )


@dataclass(frozen=True)
class HostSettings:
    """`[keel-host]` as the rules use it, with the deprecated `[rpm].search_path` folded in."""

    search_path: tuple[str, ...]

    @property
    def path_env(self) -> str:
        """The search path as a PATH value."""
        return ":".join(self.search_path)
