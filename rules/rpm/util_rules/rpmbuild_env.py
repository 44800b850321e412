"""rpmbuild settings: the macros every rpmbuild keel starts gets (in a build root or on the host),
and the environment of the one rpmbuild that runs on the host, for generated virtual packages."""
from __future__ import annotations

from rules.core.host_tools import HostTools
from rules.sandbox.bwrap import BUILD_DIR

# Host tools of the virtual-package build; package builds use the tools of their build root.
RPMBUILD_TOOLS = ("bwrap", "rpmbuild")

# With SOURCE_DATE_EPOCH set these make rpm's own metadata depend only on the inputs: build time
# and file mtimes come from SOURCE_DATE_EPOCH, the build host is fixed.
REPRODUCIBLE_MACROS = (
    ("_buildhost", "keel"),
    ("use_source_date_epoch_as_buildtime", "1"),
    ("clamp_mtime_to_source_date_epoch", "1"),
    ("_build_id_links", "none"),
)


def rpmbuild_env(tools: HostTools, search_path: tuple[str, ...], source_date_epoch: int) -> dict:
    return {
        "PATH": ":".join(search_path),
        "HOME": f"{BUILD_DIR}/home",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "KEEL_HOST_TOOLS": tools.identity,
    }
