"""The `[rpm]` options: how keel runs rpmspec and rpmbuild."""
from __future__ import annotations

from pants.option.option_types import DictOption, IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class RpmSubsystem(Subsystem):
    options_scope = "rpm"
    help = "How keel reads SPEC files and builds RPMs (rpmspec, rpmbuild)."

    defines = DictOption[str](
        default={},
        help=help_text(
            """
            RPM macros defined for every spec, e.g. `{"dist": ".keel1"}`. A target's own
            `defines` field wins over these.
            """
        ),
    )
    search_path = StrListOption(
        default=["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"],
        help=help_text(
            """
            Where to find the host tools keel runs outside build roots: rpmspec (spec queries),
            bubblewrap, unshare, tar and zstd (entering roots), apt-get and mmdebstrap (the
            bootstrap seed). Builds themselves use the tools of their root. The sha256 of every
            host tool found here (and of the libraries it links) is part of each action's cache
            key, so another tool on another machine never gives a false cache hit.
            """
        ),
    )
    default_source_date_epoch = IntOption(
        default=315532800,
        help=help_text(
            """
            SOURCE_DATE_EPOCH for a spec without a `%changelog` (1980-01-01 by default). Specs
            with a changelog use the date of its newest entry. The clock is never used, so two
            builds of the same inputs give identical RPMs.
            """
        ),
    )
    toolchain = StrOption(
        default="//toolchain:official",
        help=help_text(
            """
            The toolchain_stage whose root `rpm_package` targets are built in, unless their
            `toolchain` field says otherwise. Its root archive is part of every build's cache key:
            change a toolchain package and everything built with it rebuilds.
            """
        ),
    )
