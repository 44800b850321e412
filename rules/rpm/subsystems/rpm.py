"""The `[rpm]` options: how keel runs rpmspec and rpmbuild."""
from __future__ import annotations

from pants.option.option_types import DictOption, IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text

from rules.core.subsystems import DEFAULT_SEARCH_PATH


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
        default=list(DEFAULT_SEARCH_PATH),
        help=help_text(
            """
            Deprecated: the old name of `[keel-host].search_path`, where keel finds its host
            tools. Set alone, it is still used.
            """
        ),
        removal_version="2.19.0.dev0",
        removal_hint="Set `[keel-host].search_path` instead: one option for every backend's host tools.",
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
    seed = StrOption(
        default="",
        help=help_text(
            """
            Seed the package stage: RPMs taken instead of being built, like the Azure Linux
            toolkit's prebuilt packages. The directory (or URL) of a repository that `./pants
            package` of an `rpm_repository` wrote, or a copy of its `keel-seed.json` (then its
            RPMs are looked for in `Packages/` next to it, in the local source cache and on the
            `[rpm-sources].mirrors`). A relative path is relative to the build root.

            A package is seeded when every binary RPM its spec names now is in the seed, built
            from the inputs its build would have now: the same spec and sources, the same
            BuildRequires RPMs (by sha256), the same toolchain root, macros and host tools (the
            seed records a key of the rpmbuild action for each RPM). Anything else is built,
            and so are the packages that BuildRequire a package whose RPMs changed. Seeded RPMs
            are checked by sha256 against the seed, and images and builds use them as they use
            built ones; a seeded package has no SRPM. Packages a toolchain stage lists in its
            `packages` are never seeded from here (see its `prebuilt`). The build report says
            `seeded`.
            """
        ),
    )
