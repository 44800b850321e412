"""The macros every rpmbuild keel starts gets (in a build root, or making a bootstrap root)."""
from __future__ import annotations

# With SOURCE_DATE_EPOCH set these make rpm's own metadata depend only on the inputs: build time
# and file mtimes come from SOURCE_DATE_EPOCH, the build host is fixed.
REPRODUCIBLE_MACROS = (
    ("_buildhost", "keel"),
    ("use_source_date_epoch_as_buildtime", "1"),
    ("clamp_mtime_to_source_date_epoch", "1"),
    ("_build_id_links", "none"),
)
