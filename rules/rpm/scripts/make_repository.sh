#!/bin/sh
# Make a package repository from the RPMs under rpms/: repo/Packages/*.rpm (signed when a key is
# given), repo/repodata/ by createrepo_c, repomd.xml.asc and the public key.
#
#   make_repository.sh SOURCE_DATE_EPOCH [FINGERPRINT GNUPG_HOME SIGN_TIME]
#
# Tools come from the environment: CREATEREPO_C, RPMSIGN, GPG, GPGCONF. Nothing here reads the
# clock: metadata times are SOURCE_DATE_EPOCH, signature times SIGN_TIME (gpg's faked time), so
# the same RPMs and key give the same bytes.
set -eu
epoch="$1"
fingerprint="${2:-}"
gnupg_home="${3:-}"
sign_time="${4:-}"

mkdir -p repo/Packages
find rpms -name '*.rpm' -exec cp {} repo/Packages/ \;

if [ -n "$fingerprint" ]; then
  # gpg needs a writable home (agent socket, lock files): a copy of the user's, here in the
  # sandbox, with only the keyrings (sockets of a running agent must not come along).
  home="$PWD/gnupg"
  mkdir -m 0700 "$home"
  for entry in pubring.kbx pubring.gpg secring.gpg trustdb.gpg private-keys-v1.d; do
    if [ -e "$gnupg_home/$entry" ]; then cp -R "$gnupg_home/$entry" "$home/"; fi
  done
  export GNUPGHOME="$home"
  # The agent this gpg starts lives in the copy: stop it whatever happens.
  trap '"$GPGCONF" --homedir "$home" --kill gpg-agent >/dev/null 2>&1 || true' EXIT
  # Debian's rpm names /usr/bin/gpg2 as %__gpg; the faked time pins the signature's creation
  # time, and with it the signature's bytes (RSA signatures are deterministic).
  "$RPMSIGN" \
    --define "__gpg $GPG" \
    --define "_gpg_path $home" \
    --define "_gpg_name $fingerprint" \
    --define "_gpg_sign_cmd_extra_args --batch --pinentry-mode loopback --passphrase '' --faked-system-time ${sign_time}!" \
    --addsign repo/Packages/*.rpm
fi

# primary.xml records each file's mtime; sandbox files carry the time they were written.
touch -d "@$epoch" repo/Packages/*.rpm
# One worker: packages are listed in a fixed order.
"$CREATEREPO_C" --quiet --workers 1 --no-database --revision "$epoch" --set-timestamp-to-revision repo

if [ -n "$fingerprint" ]; then
  "$GPG" --batch --no-tty --pinentry-mode loopback --passphrase '' --faked-system-time "${sign_time}!" \
    --local-user "$fingerprint" --detach-sign --armor --output repo/repodata/repomd.xml.asc \
    repo/repodata/repomd.xml
  "$GPG" --batch --armor --export "$fingerprint" > repo/public-key
fi
