#!/bin/bash
# Runs inside the build root (a toolchain stage's root, see rules/sandbox/scripts/enter_root.sh),
# with the Pants sandbox at /tmp/build as the working directory.
#
# usage: build_rpm.sh SPEC [rpmbuild arguments...]
#   deps/**/*.rpm   RPMs of the BuildRequires closure not already in the root: installed with
#                   rpm first, so rpmbuild's own BuildRequires check passes without --nodeps.
#   SOURCES/        every Source and Patch, flat.
#   executable_inputs  the spec and sources (SPECS/..., SOURCES/...) executable in the checkout.
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
  # A python project a Debian seed holds and an RPM built here installs anew, into the same
  # directory (Azure Linux's python3-setuptools_scm 8 where Debian's 7 is): rpm overwrites the
  # modules but not the other version's metadata, and Python then finds both dist-infos and may
  # load the old one's entry points. The metadata of that project that no RPM owns goes.
  # (A spec may list the metadata directory or only the files in it.)
  # A metadata directory's project, normalized: setuptools_scm-8.0.3.dist-info -> setuptools_scm.
  project_of() { basename "$1" | sed -E 's/-.*//; s/[-_.]+/_/g' | tr 'A-Z' 'a-z'; }
  rpm -qlp "${deps[@]}" | sed -nE 's#^(/.*/[^/]+\.(dist|egg)-info)(/.*)?$#\1#p' | LC_ALL=C sort -u | while read -r info; do
    project=$(project_of "$info")
    for other in "${info%/*}"/*.dist-info "${info%/*}"/*.egg-info; do
      [ -e "$other" ] && [ "$other" != "$info" ] || continue
      name=$(project_of "$other")
      # Owned by an RPM (the directory, or a file in it, as specs list either): kept.
      owned=$(find "$other" -type f -print -quit 2>/dev/null)
      if [ "$name" = "$project" ] && ! { rpm -qf "$other" || rpm -qf "${owned:-$other}"; } >/dev/null 2>&1; then
        echo "build_rpm.sh: removing $other (the root's own $project, which an RPM of the BuildRequires installs anew)"
        rm -rf "$other"
      fi
    done
  done
fi

# Binary RPMs first, then the source RPM, in two runs: `rpmbuild -ba` writes the SRPM first and
# stamps its digest (SOURCEPKGID) into every binary RPM, so a comment in the spec would change
# the bytes of every RPM and rebuild every image holding one. Built apart, binary RPMs depend only
# on what the build produced.
rpmbuild -bb --define "_topdir $top/top" --define "_sourcedir $top/SOURCES" "$@" "$spec"

# The SRPM records each source's mode and mtime as the sandbox has them, and sandboxes differ:
# Pants hard-links a large file into a local sandbox read-only and executable, a remote execution
# worker may hard-link read-only files from its cache, with any mtime (REAPI carries neither). The
# SRPM is made from fresh copies with the mode of a checkout (0755 for the files
# executable_inputs lists, which the rule took from their digests; 0644 otherwise) and
# SOURCE_DATE_EPOCH as mtime, the same on every machine.
srpm_in="$top/srpm-inputs"
mkdir -p "$srpm_in/SOURCES"
for file in "$spec" SOURCES/*; do
  [ -f "$file" ] || continue
  [ "$file" = "$spec" ] && copy="$srpm_in/$(basename "$spec")" || copy="$srpm_in/SOURCES/$(basename "$file")"
  if grep -qxF -- "$file" executable_inputs; then mode=0755; else mode=0644; fi
  install -m "$mode" "$file" "$copy"
  touch -d "@${SOURCE_DATE_EPOCH}" "$copy"
done
exec rpmbuild -bs --define "_topdir $top/top" --define "_sourcedir $srpm_in/SOURCES" "$@" "$srpm_in/$(basename "$spec")"
