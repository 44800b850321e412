#!/bin/bash
# Make the bootstrap root from the seed packages with mmdebstrap, the field's tool for a
# reproducible Debian root from a given package set: it runs every maintainer script, and with
# SOURCE_DATE_EPOCH set its tar output is bit-identical across runs. configure_root.sh then sets
# up the root's rpm and records what the seed provides in its rpm database.
#
# usage: make_bootstrap.sh SUITE PACKAGE...
#   debs/*.deb           the seed (checked against the lock by the caller)
#   configure_root.sh    the last customize step (see there for its inputs under files/)
# Output: root.tar.zst, compressed by KEEL_COMPRESS, and capabilities.txt.
set -euo pipefail
suite="$1"
shift
top="$PWD"
(cd debs && apt-ftparchive packages . > Packages)

mode=root
[ "$(id -u)" = 0 ] || mode=unshare
names=$(IFS=,; echo "$*")

# The package index points at this sandbox; configure_root.sh removes sources.list so that
# path does not reach the root.
# dpkg installs the whole seed in one call, with --force-depends, so a maintainer script may run
# before the alternatives it calls exist: ucf (which many packages' scripts use) runs `awk`,
# whose link mawk's or gawk's own script makes. The extract hook links it first, to an awk every
# seed has (mawk is required); update-alternatives then takes the link over as usual.
mmdebstrap --quiet --mode="$mode" --variant=custom --include="$names" \
  --extract-hook='[ -e "$1/usr/bin/awk" ] || ln -s mawk "$1/usr/bin/awk"' \
  --customize-hook="cd \"$top\" && bash configure_root.sh \"\$1\"" \
  --customize-hook="download /tmp/keel-out/capabilities.txt \"$top/capabilities.txt\"" \
  --customize-hook='rm -rf "$1/tmp/keel-out"' \
  "$suite" - "deb [trusted=yes] copy://$top/debs ./" \
  | $KEEL_COMPRESS > root.tar.zst
