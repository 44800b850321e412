#!/bin/bash
# Runs inside the imager root: make each partition's filesystem from a directory, write the GPT
# into a file, and copy the filesystems in. No loop device, no mount.
#
# usage: make_disk.sh SIZE_MIB [parts]
#   rootfs.tar   the image root (owners and modes kept: we are root in this namespace)
#   plan.tsv     number name start_mib size_mib filesystem mount label fs_uuid vfat_id,
#                deepest mount point first, "/" last (rules/image/util_rules/layout.py); empty
#                partitions are only in the GPT
#   gpt.sfdisk   the partition table, for sfdisk
# Output: disk.raw; with `parts`, no disk but its pieces, as an update artifact carries them:
# parts/NAME.img (each filesystem of the plan, partition-sized) and parts/primary-gpt.img (the
# protective MBR, the primary GPT header and its entries).
# A disk with A/B root slots (a partition named root-a) gets its boot state on the EFI system
# partition (named esp): keel/slot = "a", which keel core's initramfs reads.
# Exit 3 with "KEEL-TOO-SMALL name size_mib content_mib" when files don't fit.
# Exit 4 with "KEEL-NO-ROOM need_mib free_mib files_mib" when the assembly would not fit in the
# memory it may use (the private /tmp, a tmpfs: rules/image/subsystems.py, `[image].assembly`).
# KEEL_ASSEMBLY=disk: the filesystem images are made in the sandbox, on disk, not in memory.
set -euo pipefail
size_mib="$1"
mode="${2:-disk}"
case "$mode" in disk|parts) ;; *) echo "usage: make_disk.sh SIZE_MIB [parts]" >&2; exit 2;; esac
out="$PWD"
ab_slots=$(grep -q "$(printf '\troot-a\t')" plan.tsv && echo yes || true)
# Work on the private tmpfs: mkfs.ext4 -d and mcopy -s add files in readdir order, which on a disk
# filesystem depends on per-directory hash seeds; on tmpfs it follows creation (tar's sorted) order.
# The filesystem images' bytes do not depend on where they are written: with KEEL_ASSEMBLY=disk
# they go to the sandbox, and only the files stay in memory.
# Memory needed: the files, each taking whole 4 KiB pages on the tmpfs (from tar's listing), and
# a few MiB of work files; unless on disk, the filesystem images too: sparse files holding those
# files again plus their metadata (estimated at 1/16 of the partitions' sizes: inode tables,
# bitmaps, journals).
files_mib=$(tar -tvf rootfs.tar | awk '{ kib += 4 * int(($3 + 4095) / 4096) + 4 } END { print int(kib / 1024) + 4 }')
partitions_mib=$(awk -F'\t' '{ total += $4 } END { print total + 0 }' plan.tsv)
need_mib=$files_mib
[ "${KEEL_ASSEMBLY:-memory}" = disk ] || need_mib=$(( 2 * files_mib + partitions_mib / 16 ))
free_mib=$(df -Pm /tmp | awk 'NR == 2 { print $4 }')
if [ "$need_mib" -gt "$free_mib" ]; then
  echo "KEEL-NO-ROOM $need_mib $free_mib $files_mib"
  exit 4
fi
work=$(mktemp -d /tmp/disk.XXXXXX)
cp plan.tsv gpt.sfdisk "$work/"
cd "$work"
mkdir -p rootfs files
if [ "${KEEL_ASSEMBLY:-memory}" = disk ]; then
  mkdir "$out/.keel-assembly"
  ln -s "$out/.keel-assembly" parts
else
  mkdir parts
fi
tar -xpf "$out/rootfs.tar" -C rootfs --numeric-owner

while IFS=$'\t' read -r number name start size fs mount label fs_uuid vfat_id; do
  if [ "$mount" = / ]; then
    src=rootfs
  else
    # This partition's files leave the root; their directory stays as its mount point. In
    # memory, whatever KEEL_ASSEMBLY says: they are read in readdir order.
    src="files/$name.d"
    mkdir -p "$src" "rootfs$mount"
    find "rootfs$mount" -mindepth 1 -maxdepth 1 -exec mv -t "$src" {} +
  fi
  if [ "$ab_slots" = yes ] && [ "$name" = esp ]; then
    mkdir -p "$src/keel"
    echo a > "$src/keel/slot"
  fi
  # Moving files out changed some directories' mtimes: clamp them, as the tar's are.
  find "$src" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  image="parts/$name.img"
  too_small() {
    echo "KEEL-TOO-SMALL $name $size $(du -sm --apparent-size "$src" | cut -f1)"
    cat mkfs.log
    exit 3
  }
  case "$fs" in
    ext4)
      # E2FSPROGS_FAKE_TIME: inode and superblock times; -U and hash_seed: no random ids.
      E2FSPROGS_FAKE_TIME="$SOURCE_DATE_EPOCH" mkfs.ext4 -q -F -d "$src" -U "$fs_uuid" \
        -E "hash_seed=$fs_uuid,root_owner=0:0" -L "$label" "$image" "${size}M" > mkfs.log 2>&1 \
        || too_small
      # mkfs.ext4 -d copies each file's atime and ctime, and a ctime is always "now": set both
      # to SOURCE_DATE_EPOCH with debugfs (mtimes already are at most that).
      (cd "$src" && find . | LC_ALL=C sort) | while IFS= read -r path; do
        path="${path#.}"
        printf 'sif "%s" atime @%s\nsif "%s" ctime @%s\n' "${path:-/}" "$SOURCE_DATE_EPOCH" "${path:-/}" "$SOURCE_DATE_EPOCH"
      done > times.debugfs
      E2FSPROGS_FAKE_TIME="$SOURCE_DATE_EPOCH" debugfs -w -f times.debugfs "$image" > debugfs.log 2>&1
      if grep -q "^sif:" debugfs.log; then cat debugfs.log; exit 1; fi
      ;;
    vfat)
      # --invariant and -i: no clock or random volume id in the boot sector.
      mkfs.vfat -C --invariant -i "$vfat_id" -n "$label" "$image" $((size * 1024)) > mkfs.log 2>&1
      if [ -n "$(ls -A "$src")" ]; then
        find "$src" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
        MTOOLS_SKIP_CHECK=1 mcopy -s -m -i "$image" "$src"/* ::/ > mkfs.log 2>&1 || too_small
      fi
      ;;
  esac
done < plan.tsv

disk="$out/disk.raw"
[ "$mode" = disk ] || disk="$work/disk.raw"
truncate -s "${size_mib}M" "$disk"
sfdisk --quiet --no-reread --no-tell-kernel "$disk" < gpt.sfdisk > /dev/null
if [ "$mode" = parts ]; then
  mkdir -p "$out/parts"
  # The primary GPT ends with its last entry: the header (LBA 1) says where the entries start,
  # how many there are and how large each is.
  field() { od -An -t "u$2" -j $((512 + $1)) -N "$2" "$disk" | tr -d ' '; }
  gpt_end=$(( $(field 72 8) * 512 + $(field 80 4) * $(field 84 4) ))
  head -c "$gpt_end" "$disk" > "$out/parts/primary-gpt.img"
  while IFS=$'\t' read -r number name rest; do
    mv "parts/$name.img" "$out/parts/$name.img"
  done < plan.tsv
  exit 0
fi
while IFS=$'\t' read -r number name start size fs rest; do
  dd if="parts/$name.img" of="$disk" bs=1M seek="$start" conv=notrunc status=none
done < plan.tsv
