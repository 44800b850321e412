"""The `[keel-host]` and `[keel-execution]` options: the host keel runs on and where its build actions run, for every backend."""
from __future__ import annotations

from dataclasses import dataclass

from pants.option.option_types import BoolOption, IntOption, StrListOption, StrOption
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


class KeelExecutionSubsystem(Subsystem):
    options_scope = "keel-execution"
    help = help_text(
        """
        Where keel's build actions run: rpmbuild, packing toolchain roots, assembling images.
        By default on this machine; with remote execution (pants.remote.toml), on the workers of
        an REAPI server. Fetching sources, the toolchain seed's package-manager fetch and reading
        specs stay on this machine either way.
        """
    )

    environment = StrOption(
        default="",
        help=help_text(
            """
            The name, from `[environments-preview].names`, of the `remote_environment` keel's
            build actions run in (this repository's BUILD defines `keel_workers`). Empty: on this
            machine. With `--no-remote-execution` the environment's `fallback_environment`
            applies, so one configuration serves both.
            """
        ),
    )
    fallback_to_local = BoolOption(
        default=False,
        help=help_text(
            """
            What to do when the remote execution server does not answer at the start of a run:
            build here, with a warning (true), or stop with an error that names the server
            (false, the default: a CI that expects workers should not quietly build alone).
            """
        ),
    )
    probe_timeout = IntOption(
        default=5,
        help="Seconds to wait for the remote execution server to accept a connection at the start of a run.",
    )
