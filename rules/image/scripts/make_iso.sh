#!/bin/bash
# Runs inside the imager root: an ISO 9660 image of the root (Rock Ridge keeps owners, modes and
# links), bootable by UEFI through El Torito: the files under /boot/efi go into a FAT image that
# is the EFI boot entry, as firmware expects (EFI/BOOT/BOOTX64.EFI inside it).
#
# usage: make_iso.sh VOLUME_ID          (rootfs.tar)
# Output: image.iso. xorriso takes every time and the volume UUID from SOURCE_DATE_EPOCH.
set -euo pipefail
volume_id="$1"
out="$PWD"
# On the private tmpfs, directories list in creation order, not by a disk filesystem's hash seed.
work=$(mktemp -d /tmp/iso.XXXXXX)
cd "$work"
mkdir -p rootfs esp
tar -xpf "$out/rootfs.tar" -C rootfs --numeric-owner
mkdir -p rootfs/boot/efi
find rootfs/boot/efi -mindepth 1 -maxdepth 1 -exec mv -t esp {} +

# The FAT image: the ESP's files plus room for FAT metadata, at least 2 MiB.
kib=$(( $(du -sk --apparent-size esp | cut -f1) + 1024 ))
[ "$kib" -ge 2048 ] || kib=2048
mkfs.vfat -C --invariant -i 4b45454c -n EFIBOOT rootfs/boot/efiboot.img "$kib" > /dev/null
if [ -n "$(ls -A esp)" ]; then
  find esp -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  MTOOLS_SKIP_CHECK=1 mcopy -s -m -i rootfs/boot/efiboot.img esp/* ::/
fi
# Directories changed above: clamp every time to SOURCE_DATE_EPOCH, as the root's tar is.
find rootfs -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

xorriso -as mkisofs -quiet -o "$out/image.iso" -R -V "$volume_id" \
  -e boot/efiboot.img -no-emul-boot rootfs
