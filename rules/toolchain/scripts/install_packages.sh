#!/bin/bash
# Runs inside the base root (rules/sandbox/scripts/enter_root.sh --pack): install a stage's
# RPMs with rpm, scriptlets and all, into the root's real rpm database, and its macro files
# into rpm's macro directory.
#
# usage: install_packages.sh        (RPMs in ./rpms/, macro files in ./macros/)
set -euo pipefail
mapfile -t rpms < <(find rpms -name '*.rpm' | LC_ALL=C sort)
if [ "${#rpms[@]}" -gt 0 ]; then
  rpm -i $(sh rpm_flags.sh) "${rpms[@]}"
fi
if [ -d macros ]; then
  macro_dir=$(rpm --eval '%{_rpmmacrodir}')
  mkdir -p "$macro_dir"
  # install, not cp: cp keeps the input's mode, and a remote worker's inputs may be read-only.
  install -m 0644 macros/* "$macro_dir/"
fi
ldconfig
