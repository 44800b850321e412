#!/bin/bash
# Runs inside the imager root (rules/sandbox/scripts/enter_root.sh): install an image's RPMs
# into rootfs/ with rpm (scriptlets run, chrooted into rootfs/), write the system settings, and
# pack rootfs/ as a deterministic tar.
#
# usage: make_root.sh HOSTNAME KEEP_RPM_DB
#   base/rootfs.tar  optional: the base image's root, to install on (a layered root); then
#                  rpms/, accounts/, extra/ and post/ hold only what the base lacks
#   rpms/          the RPMs
#   cmdline        the kernel command line
#   accounts/      passwd, group, shadow (lines to add), group-replace (lines replacing the
#                  group of the same name: a base's group the image's users join) and homes
#                  (path uid gid)
#   extra/         extra files, at their paths in the image
#   post/*.sh      post-install scripts, run in name order, chrooted into the image
# Output: rootfs.tar
# Exit 5 with "KEEL-NO-OWNERS uid:gid" when a home cannot be given its owner.
set -euo pipefail
hostname="$1" keep_rpm_db="$2"
root="$PWD/rootfs"
# Only rootfs.tar leaves, also on failure: as an ordinary user the root's files belong to
# subordinate ids, which Pants (outside the user namespace) could not remove with the sandbox.
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"
mapfile -t rpms < <(find rpms -name '*.rpm' 2>/dev/null | LC_ALL=C sort)
if [ -f base/rootfs.tar ]; then
  # As root (in the user namespace): owners and modes as the base packed them.
  tar --numeric-owner -xpf base/rootfs.tar -C "$root"
else
  rpm --root "$root" --initdb
fi
if [ "${#rpms[@]}" -gt 0 ]; then
  rpm --root "$root" -i $(sh rpm_flags.sh) "${rpms[@]}"
fi
mkdir -p "$root/etc/kernel"
echo "$hostname" > "$root/etc/hostname"
# install, not cp: cp keeps the input's mode, and a remote worker's inputs may be read-only.
install -m 0644 cmdline "$root/etc/kernel/cmdline"

for db in passwd group shadow; do
  if [ -s "accounts/$db" ]; then
    touch "$root/etc/$db"
    cat "accounts/$db" >> "$root/etc/$db"
  fi
done
if [ -s accounts/group-replace ]; then
  awk -F: 'NR == FNR { line[$1] = $0; next } ($1 in line) { print line[$1]; next } { print }' \
    accounts/group-replace "$root/etc/group" > group.new
  cat group.new > "$root/etc/group"
fi
[ ! -e "$root/etc/shadow" ] || chmod 0640 "$root/etc/shadow"
while IFS=$'\t' read -r home uid gid; do
  mkdir -p "$root$home"
  # In an ordinary user's namespace without subordinate ids only root exists (enter_root.sh).
  chown "$uid:$gid" "$root$home" || { echo "KEEL-NO-OWNERS $uid:$gid" >&2; exit 5; }
done < accounts/homes

if [ -d extra ]; then
  (cd extra && find . -type f) | while IFS= read -r file; do
    install -D -m 0644 -o 0 -g 0 "extra/$file" "$root/${file#./}"
  done
fi

mapfile -t scripts < <(find post -name '*.sh' 2>/dev/null | LC_ALL=C sort)
if [ "${#scripts[@]}" -gt 0 ]; then
  if [ ! -e "$root/bin/sh" ] && [ ! -L "$root/bin/sh" ]; then
    echo "KEEL-NO-SHELL" >&2
    exit 3
  fi
  mkdir -p "$root/tmp/keel-post"
  for script in "${scripts[@]}"; do
    cp "$script" "$root/tmp/keel-post/"
    status=0
    chroot "$root" /bin/sh "/tmp/keel-post/$(basename "$script")" || status=$?
    if [ "$status" != 0 ]; then
      # For the rule's message: which script (post/NNN-name.sh: NNN is its place in the field).
      echo "KEEL-POST-FAILED $(basename "$script") $status" >&2
      exit "$status"
    fi
  done
  rm -rf "$root/tmp/keel-post"
fi
# rpm recreates rpmdb.sqlite-shm whenever it opens the database: never part of an image.
rm -f "$root/var/lib/rpm/rpmdb.sqlite-shm" "$root/var/lib/rpm/.rpm.lock"
if [ "$keep_rpm_db" != 1 ]; then rm -rf "$root/var/lib/rpm"; fi
tar --sort=name --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --numeric-owner --mtime="@${SOURCE_DATE_EPOCH}" --clamp-mtime \
  -C "$root" -cf rootfs.tar .
