#!/bin/bash
# The last step of making a bootstrap root (an mmdebstrap customize hook, run on the host with
# the root's path): configure its rpm as the stage asks, and record in its rpm database what the
# seed provides.
#
# usage: configure_root.sh ROOT
#   files/macros.keel        rpm's database in /var/lib/rpm (Debian's rpm keeps it per user)
#   files/keel-lib64.conf    ld.so searches /usr/lib64, where RPM specs put libraries
#   files/rpm_platform.tsv   NAME<TAB>VALUE macros for rpm's platform file (may be empty)
#   files/provides.txt       capabilities named by hand (the stage's `provides`)
#   files/remove.txt         files of the seed to remove (the stage's `remove_files`)
#   files/root/              files to write into the root (the stage's `root_files`)
#   files/reproducible.spec  `%global` lines that make rpmbuild's output reproducible
#   root_provides.sh         prints the capabilities found in the root
#   KEEL_BIN_SH              a shell to link /bin/sh to, or empty
# Output: /tmp/keel-out/capabilities.txt in the root, every capability the virtual package
# keel-seed-provides provides (make_bootstrap.sh takes it out: as an ordinary user this hook runs
# as a subordinate id that may not write to the sandbox).
set -euo pipefail
root="$1"
top="$PWD"

mkdir -p "$root/etc/rpm" "$root/etc/ld.so.conf.d" "$root/tmp/keel" "$root/tmp/keel-out"
capabilities="$root/tmp/keel-out/capabilities.txt"
cp files/macros.keel "$root/etc/rpm/"
cp files/keel-lib64.conf "$root/etc/ld.so.conf.d/"

# rpm's platform file, as the target distribution's rpm was configured. rpm reads its vendor's
# macros and rpmrc from /usr/lib/rpm/<vendor>/, the vendor it was built for (Debian's: debian);
# with another `_vendor`, that directory points at the new vendor's, where the distribution's
# macro package installs its files.
platform="$root/usr/lib/rpm/platform/$(uname -m)-linux/macros"
if [ -s files/rpm_platform.tsv ]; then
  built_vendor=$(sed -n 's/^%_vendor[[:space:]]*//p' "$platform")
  while IFS=$'\t' read -r name value; do
    if grep -q "^%$name[[:space:]]" "$platform"; then
      # Replace the line in place (a sed expression would need the value escaped).
      awk -v n="%$name" -v v="$value" \
        '{ split($0, f, /[ \t]+/); if (f[1] == n) print n "\t\t" v; else print }' \
        "$platform" > "$platform.keel" && mv "$platform.keel" "$platform"
    else
      printf '%%%s\t\t%s\n' "$name" "$value" >> "$platform"
    fi
    if [ "$name" = _vendor ] && [ "$value" != "$built_vendor" ] && [ ! -e "$root/usr/lib/rpm/$built_vendor" ]; then
      ln -s "$value" "$root/usr/lib/rpm/$built_vendor"
    fi
  done < files/rpm_platform.tsv
fi

if [ -n "${KEEL_BIN_SH:-}" ]; then
  [ -x "$root/usr/bin/$KEEL_BIN_SH" ] || [ -x "$root/bin/$KEEL_BIN_SH" ] || {
    echo "keel: bin_sh=$KEEL_BIN_SH, but the root has no /usr/bin/$KEEL_BIN_SH: add it to seed_packages." >&2
    exit 1
  }
  ln -sfn "$KEEL_BIN_SH" "$root/bin/sh"
fi

while read -r path; do
  case "$path" in
    /*) rm -f "$root$path" ;;
    *) echo "keel: remove_files takes absolute paths in the root, not $path" >&2; exit 1 ;;
  esac
done < files/remove.txt

if [ -d files/root ]; then
  cp -r --no-preserve=ownership files/root/. "$root/"
fi

# What the seed provides: found in the root, plus the names given by hand. Capabilities rpm
# cannot take as a dependency name (spaces, macros) are left out.
cp root_provides.sh "$root/tmp/keel/"
{
  chroot "$root" /bin/bash /tmp/keel/root_provides.sh
  cat files/provides.txt
} | grep -v '[%[:cntrl:]]' | grep -E '^[[:alnum:]_/(]' | LC_ALL=C sort -u > "$capabilities"
{
  cat files/reproducible.spec
  printf 'Name: keel-seed-provides\nVersion: 1\nRelease: 1\nLicense: NONE\nBuildArch: noarch\n'
  printf 'Summary: What the seed of this root provides\n'
  sed 's/^/Provides: /' "$capabilities"
  printf '%%description\nWhat the seed packages of this root provide, as RPM capabilities.\n%%files\n'
} > "$root/tmp/keel/keel-seed-provides.spec"
chroot "$root" rpmbuild -bb --quiet --define "_topdir /tmp/keel/top" /tmp/keel/keel-seed-provides.spec
chroot "$root" sh -c 'rpm -i --nodeps $(rpm --help | grep -q -- --force-debian && echo --force-debian) /tmp/keel/top/RPMS/noarch/*.rpm'
chroot "$root" ldconfig
rm -rf "$root/tmp/keel" "$root/etc/apt/sources.list" "$root/var/lib/rpm/rpmdb.sqlite-shm" \
  "$root/var/lib/rpm/.rpm.lock" "$root/var/cache/ldconfig/aux-cache"
cd "$top"
