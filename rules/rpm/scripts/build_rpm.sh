#!/bin/bash
# Runs inside the build root (a toolchain stage's root, see rules/sandbox/scripts/enter_root.sh),
# with the Pants sandbox at /tmp/build as the working directory.
#
# usage: build_rpm.sh SPEC [rpmbuild arguments...]
#   deps/**/*.rpm   RPMs of the BuildRequires closure not already in the root: installed with
#                   rpm first, so rpmbuild's own BuildRequires check passes without --nodeps.
#   SOURCES/        every Source and Patch, flat.
# Output: top/RPMS/<arch>/*.rpm and top/SRPMS/*.src.rpm.
set -euo pipefail
# One log, in the order things happened (keel shows the lines around rpm's first error).
exec 2>&1
top="$PWD"
spec="$1"
shift
mkdir -p "$top/home" "$top/top"

mapfile -t deps < <(find deps -name '*.rpm' 2>/dev/null | LC_ALL=C sort)
if [ "${#deps[@]}" -gt 0 ]; then
  rpm -i $(sh rpm_flags.sh) "${deps[@]}"
  ldconfig
fi

# Binary RPMs first, then the source RPM, in two runs: `rpmbuild -ba` writes the SRPM first and
# stamps its digest (SOURCEPKGID) into every binary RPM, so a comment in the spec would change
# the bytes of every RPM and rebuild every image holding one. Built apart, binary RPMs depend only
# on what the build produced.
args=(--define "_topdir $top/top" --define "_sourcedir $top/SOURCES" "$@" "$spec")
rpmbuild -bb "${args[@]}"
exec rpmbuild -bs "${args[@]}"
