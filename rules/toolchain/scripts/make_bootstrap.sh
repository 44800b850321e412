#!/bin/bash
# Make the bootstrap root from the seed packages with mmdebstrap, the field's tool for a
# reproducible Debian root from a given package set: it runs every maintainer script, and with
# SOURCE_DATE_EPOCH set its tar output is bit-identical across runs.
#
# usage: make_bootstrap.sh SUITE PACKAGE...
#   debs/*.deb           the seed (checked against the lock by the caller)
#   provides/**/*.rpm      a virtual package with the seed's Provides, installed with rpm so the
#                        root's rpm database answers BuildRequires
#   files/               macros.keel (rpm's database in /var/lib/rpm) and keel-lib64.conf
#                        (ld.so searches %{_libdir}, /usr/lib64, like an RPM distribution)
# Output: root.tar.zst, compressed by KEEL_COMPRESS.
set -euo pipefail
suite="$1"
shift
top="$PWD"
(cd debs && apt-ftparchive packages . > Packages)

mode=root
[ "$(id -u)" = 0 ] || mode=unshare
names=$(IFS=,; echo "$*")
provides_path=$(find provides -name "*.rpm")
provides=$(basename "$provides_path")

# The package index points at this sandbox; sources.list is removed so that path does not reach
# the root.
mmdebstrap --quiet --mode="$mode" --variant=custom --include="$names" \
  --customize-hook="mkdir -p \"\$1/etc/rpm\" \"\$1/etc/ld.so.conf.d\" \"\$1/tmp/keel\"" \
  --customize-hook="copy-in $top/files/macros.keel /etc/rpm" \
  --customize-hook="copy-in $top/files/keel-lib64.conf /etc/ld.so.conf.d" \
  --customize-hook="copy-in $top/$provides_path /tmp/keel" \
  --customize-hook="chroot \"\$1\" rpm -i --force-debian /tmp/keel/$provides" \
  --customize-hook="chroot \"\$1\" ldconfig" \
  --customize-hook="rm -rf \"\$1/tmp/keel\" \"\$1/etc/apt/sources.list\" \"\$1/var/lib/rpm/rpmdb.sqlite-shm\" \"\$1/var/lib/rpm/.rpm.lock\" \"\$1/var/cache/ldconfig/aux-cache\"" \
  "$suite" - "deb [trusted=yes] copy://$top/debs ./" \
  | $KEEL_COMPRESS > root.tar.zst
