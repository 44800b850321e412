# Sourced (POSIX sh) by the scripts that sign with the `[rpm-sign]` key: make_repository.sh and
# sign_file.sh. Tools come from the environment: GPG, GPGCONF.

# keel_gnupg_home GNUPG_HOME: gpg needs a writable home (agent socket, lock files), so signing
# uses a copy of the user's in the sandbox, $PWD/gnupg, with only the keyrings (sockets of a
# running agent must not come along). Exports GNUPGHOME; the agent gpg starts there is stopped
# when the script exits, whatever happens.
keel_gnupg_home() {
  keel_home="$PWD/gnupg"
  mkdir -m 0700 "$keel_home"
  for entry in pubring.kbx pubring.gpg secring.gpg trustdb.gpg private-keys-v1.d; do
    if [ -e "$1/$entry" ]; then cp -R "$1/$entry" "$keel_home/"; fi
  done
  GNUPGHOME="$keel_home"
  export GNUPGHOME
  trap '"$GPGCONF" --homedir "$keel_home" --kill gpg-agent >/dev/null 2>&1 || true' EXIT
}

# keel_detach_sign FINGERPRINT SIGN_TIME OUTPUT INPUT [GPG OPTIONS...]: a detached signature of
# INPUT by the key, made at SIGN_TIME (gpg's faked clock): the time is in the signature, and
# with it pinned the same input and key give the same bytes (RSA signatures are deterministic).
keel_detach_sign() {
  keel_fingerprint="$1" keel_time="$2" keel_output="$3" keel_input="$4"
  shift 4
  "$GPG" --batch --no-tty --pinentry-mode loopback --passphrase '' --faked-system-time "${keel_time}!" \
    --local-user "$keel_fingerprint" --detach-sign "$@" --output "$keel_output" "$keel_input"
}
