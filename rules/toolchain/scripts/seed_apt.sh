#!/bin/bash
# The apt side of a bootstrap seed, run on the build host with the host's own apt configuration
# (its sources, proxies and keys), so no repository is named in keel. Along with source
# fetches, this is the only network use of a keel build.
#
#   seed_apt.sh lock PACKAGE...        print a lock (TSV) of PACKAGEs, their dependencies and
#                                      the distribution's essential packages (and of the
#                                      stand-ins in KEEL_STAND_INS that apt can add)
#   seed_apt.sh fetch CACHE LOCK OUT   put every package of LOCK (TSV) into OUT/, from CACHE
#                                      (files by sha256) or apt; exit 3 if one is gone or changed
#   seed_apt.sh index [PATTERN]        print the distribution's package index (the fields
#                                      Package, Source, Version, Provides, Architecture), a line
#                                      `#contents`, then its Contents index (which package ships
#                                      which file), only the lines matching the extended regular
#                                      expression PATTERN if one is given; read by
#                                      rules/toolchain/util_rules/debian_index.py
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

installable() {  # whether apt can resolve the packages together, without downloading them
  apt-get "${apt_opts[@]}" install --simulate -y "$@" >/dev/null 2>&1
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
    # Debian stand-ins (KEEL_STAND_INS, space-separated): if the seed cannot take them all,
    # each is tried alone and one apt cannot install with the seed is left out, said as
    # `#dropped<TAB>NAME`.
    read -r -a optional <<< "${KEEL_STAND_INS:-}"
    kept=()
    if [ "${#optional[@]}" -gt 0 ]; then
      if installable "${essential[@]}" "$@" "${optional[@]}"; then
        kept=("${optional[@]}")
      else
        for package in "${optional[@]}"; do
          if installable "${essential[@]}" "$@" "$package"; then
            kept+=("$package")
          else
            printf '#dropped\t%s\n' "$package"
          fi
        done
      fi
    fi
    download "${essential[@]}" "$@" "${kept[@]}"
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
  index)
    # Which Debian package supplies what an RPM spec requires is answered from Debian's own
    # metadata: the Packages indexes, and the Contents indexes (every file of every package, as
    # apt-file reads them). apt fetches Contents like any index when a target asks for it, and
    # checks it against the signed Release file as it does Packages. One target is enough: where
    # the Release file says Architecture all has no Packages index of its own
    # (No-Support-for-Architecture-all), apt adds `all` to the architectures of the other
    # targets, so this one fetches Contents-all too (a second target for Contents-all asks for
    # the same file and apt warns). The target carries apt-file's name, so a host with apt-file
    # configured sees the same target, not a rival one; it is switched on here even where the
    # host's configuration switches it off, as it only goes to this script's private state.
    pattern="${2:-}"
    contents='Acquire::IndexTargets::deb::Contents-deb'
    apt_opts+=(
      -o "$contents::MetaKey=\$(COMPONENT)/Contents-\$(ARCHITECTURE)"
      -o "$contents::ShortDescription=Contents-\$(ARCHITECTURE)"
      -o "$contents::Description=\$(RELEASE)/\$(COMPONENT) \$(ARCHITECTURE) Contents (deb)"
      -o "$contents::DefaultEnabled=true"
    )
    update
    targets() {  # FORMAT CREATED-BY: one line per index file apt holds for the target
      apt-get "${apt_opts[@]}" indextargets --format "$1" "Created-By: $2"
    }
    # A mirror may carry no Contents (or an empty one, which apt does not fetch): the packages of
    # that part of the sources are then found by name only. Said, not fatal.
    targets '$(SITE) $(RELEASE)/$(COMPONENT)' Contents-deb > "$state/with-contents"
    targets '$(SITE) $(RELEASE)/$(COMPONENT)' Packages | LC_ALL=C sort -u \
      | awk 'FILENAME == ARGV[1] { with[$0] = 1; next }
             !($0 in with) { print "seed_apt.sh: no Contents index for " $0 "; not searched" }' \
          "$state/with-contents" - >&2
    # Stanzas keep only the fields that are read, and each file ends with a blank line so that
    # the last stanza of one file and the first of the next never run together.
    targets '$(FILENAME)' Packages | while read -r file; do
      /usr/lib/apt/apt-helper cat-file "$file" | awk '
        /^$/ { print; keep = 0; next }
        /^[ \t]/ { if (keep) print; next }
        { keep = ($0 ~ /^(Package|Source|Version|Provides|Architecture):/) }
        keep'
      echo
    done
    echo '#contents'
    # Debian 12's Contents are 7 million lines (670 MB): PATTERN keeps the few directories the
    # reader looks in. It is passed in the environment, as awk -v would read backslashes in it.
    targets '$(FILENAME)' Contents-deb | while read -r file; do
      /usr/lib/apt/apt-helper cat-file "$file" | KEEL_CONTENTS_PATTERN="$pattern" awk '
        $0 ~ ENVIRON["KEEL_CONTENTS_PATTERN"]'
    done
    ;;
  *)
    echo "usage: seed_apt.sh lock PACKAGE... | fetch CACHE LOCK OUT | index [PATTERN]" >&2
    exit 2
    ;;
esac
