#!/bin/bash
# Runs inside the imager root: the pieces of an update artifact, made from an image root with the
# A/B layout of its disk, and what the manifest says of the root.
#
# usage: make_update.sh SIZE_MIB
#   rootfs.tar, plan.tsv, gpt.sfdisk   as for make_disk.sh
#   rpms/                              the installed RPMs: their headers stand in for the rpm
#                                      database of a root that has none (rpm_db=False)
# Output:
#   parts/                 make_disk.sh's pieces: each filesystem, and the primary GPT
#   os-release             the root's /etc/os-release (else /usr/lib/os-release), with symlinks
#                          followed inside the root; absent when the root has neither
#   packages.tsv           NAME EPOCH VERSION RELEASE ARCH of every installed package
set -euo pipefail
bash make_disk.sh "$1" parts

root=$(mktemp -d /tmp/root.XXXXXX)
tar -xpf rootfs.tar -C "$root" --numeric-owner

# A path relative to the root without `.` and `..`, never above the root (a link may say
# `../usr/lib/os-release`).
normalize() {
  local IFS=/ part
  local -a parts out=()
  read -ra parts <<< "$1"
  for part in "${parts[@]}"; do
    case "$part" in
      "" | .) ;;
      ..) [ "${#out[@]}" -eq 0 ] || unset 'out[-1]' ;;
      *) out+=("$part") ;;
    esac
  done
  echo "${out[*]}"
}

# The file a path names inside the root, following symlinks of its last component (the root's
# own absolute links point into the root, not into the imager).
resolve() {
  local path="$1" target hops=0
  while [ -L "$root/$path" ] && [ "$hops" -lt 40 ]; do
    target=$(readlink "$root/$path")
    case "$target" in
      /*) path=$(normalize "$target") ;;
      *) path=$(normalize "$(dirname "$path")/$target") ;;
    esac
    hops=$((hops + 1))
  done
  echo "$path"
}

for candidate in etc/os-release usr/lib/os-release; do
  file=$(resolve "$candidate")
  if [ -f "$root/$file" ] && [ ! -L "$root/$file" ]; then
    cp "$root/$file" os-release
    break
  fi
done

query='%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n'
if [ -d "$root/var/lib/rpm" ]; then
  rpm --root "$root" -qa --qf "$query"
else
  find rpms -name '*.rpm' -exec rpm -qp --nosignature --qf "$query" {} +
fi | LC_ALL=C sort > packages.tsv
