#!/bin/sh
# Make a package repository from the RPMs under rpms/: repo/Packages/*.rpm (signed when a key is
# given), repo/repodata/ by createrepo_c, and repomd.xml.asc. (The public key is exported once per
# run by rules/rpm/util_rules/signing.py: images that carry the repository get the same bytes.)
#
#   make_repository.sh SOURCE_DATE_EPOCH [FINGERPRINT GNUPG_HOME SIGN_TIME]
#
# Tools come from the environment: CREATEREPO_C, RPMSIGN, GPG, GPGCONF; the signing steps from
# gnupg.sh. Nothing here reads the clock: metadata times are SOURCE_DATE_EPOCH, signature times
# SIGN_TIME (gpg's faked time), so the same RPMs and key give the same bytes.
set -eu
epoch="$1"
fingerprint="${2:-}"
gnupg_home="${3:-}"
sign_time="${4:-}"

mkdir -p repo/Packages
find rpms -name '*.rpm' -exec cp {} repo/Packages/ \;

if [ -n "$fingerprint" ]; then
  . ./gnupg.sh
  keel_gnupg_home "$gnupg_home"
  # Debian's rpm names /usr/bin/gpg2 as %__gpg; the faked time pins the signature's creation
  # time, and with it the signature's bytes (RSA signatures are deterministic).
  "$RPMSIGN" \
    --define "__gpg $GPG" \
    --define "_gpg_path $GNUPGHOME" \
    --define "_gpg_name $fingerprint" \
    --define "_gpg_sign_cmd_extra_args --batch --pinentry-mode loopback --passphrase '' --faked-system-time ${sign_time}!" \
    --addsign repo/Packages/*.rpm
fi

# primary.xml records each file's mtime; sandbox files carry the time they were written.
touch -d "@$epoch" repo/Packages/*.rpm
# One worker: packages are listed in a fixed order.
"$CREATEREPO_C" --quiet --workers 1 --no-database --revision "$epoch" --set-timestamp-to-revision repo

if [ -n "$fingerprint" ]; then
  keel_detach_sign "$fingerprint" "$sign_time" repo/repodata/repomd.xml.asc repo/repodata/repomd.xml --armor
fi
