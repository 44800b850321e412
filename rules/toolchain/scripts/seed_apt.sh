#!/bin/bash
# The apt side of a bootstrap seed, run on the build host with the host's own apt configuration
# (its sources, proxies and keys), so no repository is named in keel. Along with source
# fetches, this is the only network use of a keel build.
#
#   seed_apt.sh lock PACKAGE...        print a lock (TSV) of PACKAGEs, their dependencies and
#                                      the distribution's essential packages
#   seed_apt.sh fetch CACHE LOCK OUT   put every package of LOCK (TSV) into OUT/, from CACHE
#                                      (files by sha256) or apt; exit 3 if one is gone or changed
#
# apt runs with a private, empty package state in ./apt-state: the host's installed packages and
# package lists are neither read nor changed.
# Lock TSV columns: name version architecture filename sha256 size
set -euo pipefail

state="$PWD/apt-state"
mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/cache"
: > "$state/status"
apt_opts=(
  -o "Dir::State::status=$state/status" -o "Dir::State::Lists=$state/lists"
  -o "Dir::Cache=$state/cache" -o "Dir::Cache::archives=$state/archives"
  -o Debug::NoLocking=1 -o APT::Install-Recommends=false -o APT::Install-Suggests=false
  -o APT::Sandbox::User="$(id -un)" -q
)

update() { apt-get "${apt_opts[@]}" update >&2; }

download() {  # apt resolves against the empty state, so dependencies come along
  apt-get "${apt_opts[@]}" install --download-only -y "$@" >&2
}

describe() {  # one lock line per downloaded file
  for deb in "$state"/archives/*.deb; do
    fields=$(dpkg-deb --show --showformat='${Package}\t${Version}\t${Architecture}' "$deb")
    sum=$(sha256sum "$deb" | cut -d' ' -f1)
    printf '%s\t%s\t%s\t%s\n' "$fields" "$(basename "$deb")" "$sum" "$(stat -c %s "$deb")"
  done | LC_ALL=C sort
}

case "${1:-}" in
  lock)
    shift
    update
    # Essential packages are never pulled in as dependencies, yet dpkg and every maintainer
    # script assume them: list them from the package indexes, as debootstrap does.
    mapfile -t essential < <(
      apt-get "${apt_opts[@]}" indextargets --format '$(FILENAME)' 'Created-By: Packages' \
        | xargs -r /usr/lib/apt/apt-helper cat-file \
        | awk '/^Package:/ {name = $2} /^Essential: yes/ {print name}' | LC_ALL=C sort -u
    )
    download "${essential[@]}" "$@"
    . /etc/os-release
    printf '#suite\t%s\n' "${VERSION_CODENAME:-unknown}"
    describe
    ;;
  fetch)
    cache="$2" lock="$3" out="$4"
    mkdir -p "$cache" "$out"
    missing=()
    while IFS=$'\t' read -r name version arch filename sum size; do
      [ "${name:0:1}" = "#" ] && continue
      for candidate in "$cache/$sum" "/var/cache/apt/archives/$filename"; do
        if [ -f "$candidate" ] && [ "$(sha256sum "$candidate" | cut -d' ' -f1)" = "$sum" ]; then
          cp "$candidate" "$out/$filename"
          break
        fi
      done
      [ -f "$out/$filename" ] || missing+=("$name=$version")
    done < "$lock"
    if [ "${#missing[@]}" -gt 0 ]; then
      update
      # One version apt no longer has fails the whole batch: then ask for each package alone,
      # so the error below names only the packages that are really gone.
      if ! download "${missing[@]}"; then
        for package in "${missing[@]}"; do download "$package" 2>/dev/null || true; done
      fi
    fi
    problems=()
    while IFS=$'\t' read -r name version arch filename sum size; do
      [ "${name:0:1}" = "#" ] && continue
      [ -f "$out/$filename" ] && continue
      got="$state/archives/$filename"
      if [ ! -f "$got" ]; then
        problems+=("$name $version ($arch): not available from this host's package sources")
      elif [ "$(sha256sum "$got" | cut -d' ' -f1)" != "$sum" ]; then
        problems+=("$name $version ($arch): sha256 $(sha256sum "$got" | cut -d' ' -f1), lock says $sum")
      else
        # A name of its own: another build may be storing the same package at the same time.
        cp "$got" "$cache/$sum.partial.$$" && mv "$cache/$sum.partial.$$" "$cache/$sum"
        cp "$got" "$out/$filename"
      fi
    done < "$lock"
    if [ "${#problems[@]}" -gt 0 ]; then
      printf '%s\n' "${problems[@]}" >&2
      exit 3
    fi
    ;;
  *)
    echo "usage: seed_apt.sh lock PACKAGE... | fetch CACHE LOCK OUT" >&2
    exit 2
    ;;
esac
