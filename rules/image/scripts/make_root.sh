#!/bin/bash
# Runs inside the imager root (rules/sandbox/scripts/enter_root.sh): install an image's RPMs
# into rootfs/ with rpm (scriptlets run, chrooted into rootfs/), write the system settings, and
# pack rootfs/ as a deterministic tar.
#
# usage: make_root.sh HOSTNAME KEEP_RPM_DB      (RPMs in rpms/, the kernel command line in cmdline)
# Output: rootfs.tar
set -euo pipefail
hostname="$1" keep_rpm_db="$2"
root="$PWD/rootfs"
mkdir -p "$root"
mapfile -t rpms < <(find rpms -name '*.rpm' | LC_ALL=C sort)
rpm --root "$root" --initdb
rpm --root "$root" -i $(sh rpm_flags.sh) "${rpms[@]}"
mkdir -p "$root/etc/kernel"
echo "$hostname" > "$root/etc/hostname"
cp cmdline "$root/etc/kernel/cmdline"
# rpm recreates rpmdb.sqlite-shm whenever it opens the database: never part of an image.
rm -f "$root/var/lib/rpm/rpmdb.sqlite-shm" "$root/var/lib/rpm/.rpm.lock"
if [ "$keep_rpm_db" != 1 ]; then rm -rf "$root/var/lib/rpm"; fi
tar --sort=name --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --numeric-owner --mtime="@${SOURCE_DATE_EPOCH}" --clamp-mtime \
  -C "$root" -cf rootfs.tar .
