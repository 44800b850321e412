#!/bin/bash
# Runs inside the base root (rules/sandbox/scripts/enter_root.sh --pack): install a stage's
# RPMs with rpm, scriptlets and all, into the root's real rpm database.
#
# usage: install_packages.sh        (RPMs in ./rpms/)
set -euo pipefail
mapfile -t rpms < <(find rpms -name '*.rpm' | LC_ALL=C sort)
if [ "${#rpms[@]}" -gt 0 ]; then
  rpm -i $(sh rpm_flags.sh) "${rpms[@]}"
fi
ldconfig
