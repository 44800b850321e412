#!/bin/bash
# Runs in the Pants sandbox, bound at a fixed path by bwrap (rules/sandbox): install the dependency RPMs where rpmbuild sees them, then build.
#
# usage: build_rpm.sh SPEC [rpmbuild arguments...]
#   deps/**/*.rpm   RPMs of the BuildRequires closure (and a virtual package for what the build
#                   environment provides): recorded in a private rpm database, so rpmbuild's own
#                   BuildRequires check passes without --nodeps, and unpacked into deproot/,
#                   which the compiler, linker and %check see through CPATH, LIBRARY_PATH,
#                   LD_LIBRARY_PATH, PKG_CONFIG_PATH and PATH.
#   SOURCES/        every Source and Patch, flat.
# Output: top/RPMS/<arch>/*.rpm and top/SRPMS/*.src.rpm.
set -euo pipefail
top="$PWD"
spec="$1"
shift
mkdir -p "$top/rpmdb" "$top/deproot" "$top/home" "$top/top"

# Debian's rpm asks for --force-debian before it installs anything, even into a private db.
debian_flag=()
if rpm --help 2>/dev/null | grep -q -- --force-debian; then debian_flag=(--force-debian); fi

rpm --initdb --dbpath "$top/rpmdb"
mapfile -t deps < <(find deps -name '*.rpm' 2>/dev/null | LC_ALL=C sort)
if [ "${#deps[@]}" -gt 0 ]; then
  rpm -i "${debian_flag[@]}" --justdb --nodeps --noscripts --notriggers --ignoresize \
    --dbpath "$top/rpmdb" "${deps[@]}"
  for rpm_file in "${deps[@]}"; do
    rpm2archive - < "$rpm_file" | tar -xzf - -C "$top/deproot"
  done
fi

dep="$top/deproot"
export CPATH="$dep/usr/include"
export LIBRARY_PATH="$dep/usr/lib64:$dep/usr/lib"
export LD_LIBRARY_PATH="$LIBRARY_PATH"
export PKG_CONFIG_PATH="$dep/usr/lib64/pkgconfig:$dep/usr/lib/pkgconfig:$dep/usr/share/pkgconfig"
export PATH="$dep/usr/bin:$PATH"

exec rpmbuild -ba \
  --dbpath "$top/rpmdb" \
  --define "_topdir $top/top" \
  --define "_sourcedir $top/SOURCES" \
  "$@" "$spec"
