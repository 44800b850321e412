#!/bin/bash
# Runs inside the base root (rules/sandbox/scripts/enter_root.sh --pack): install a stage's
# RPMs with rpm, scriptlets and all, into the root's real rpm database, its macro files into
# rpm's macro directory and the helper scripts they run below rpm's configuration directory.
#
# usage: install_packages.sh   (RPMs in ./rpms/, macro files in ./macros/, helpers in ./rpmconfig/)
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
if [ -d rpmconfig ]; then
  config_dir=$(rpm --eval '%{_rpmconfigdir}')
  (cd rpmconfig && find . -type f | LC_ALL=C sort) | while read -r helper; do
    install -D -m 0755 "rpmconfig/$helper" "$config_dir/$helper"
  done
fi
ldconfig
