#!/bin/bash
# Runs inside a bootstrap root (chrooted by make_bootstrap.sh): print, one per line and sorted,
# the RPM capabilities that the root's packages really supply, so that BuildRequires written
# with an RPM distribution's names resolve against what is there instead of against a hand list.
#
# The seed's packages are another distribution's (Debian's), so rpm's database knows none of
# them. What they hold is described here with rpm's own dependency generators and with the
# naming conventions RPM distributions share:
#   - shared libraries: their sonames, by rpm's elfdeps (`libz.so.1()(64bit)`);
#   - pkg-config files: `pkgconfig(NAME) = VERSION`, by rpm's pkgconfigdeps.sh;
#   - perl modules: `perl(Module::Name) = VERSION`, by rpm's perl.prov, plus the interpreter's
#     `perl(:VERSION)` and `perl(:MODULE_COMPAT_X.Y.Z)` as RPM distributions' perl declares them,
#     and `perl-Module-Name`, as they name the package of a module;
#   - python distributions: `python3dist(name)`, `python3.Xdist(name)`, by rpm's
#     pythondistdeps.py, when the root has python3 and its `packaging` module, and
#     `python3-name`, as RPM distributions name their package;
#   - executables: their paths (`/usr/bin/x`, and `/bin/x` where /bin is /usr/bin);
#   - development packages: every Debian `-dev` package as `NAME-devel`, under its own name
#     less `-dev` and its source package's name, each also without a version suffix, and under
#     the name of each `.pc` file it ships (libssl-dev: `libssl-devel`, `openssl-devel`,
#     `libcrypto-devel`; libgcrypt20-dev: `libgcrypt-devel`);
#   - package names: every installed package by its own name. (Not by its source package's
#     name: groff-base is not groff.)
# Names RPM distributions give that follow none of these (gcc-c++, perl-interpreter) are the
# stage's hand-written `provides`.
set -uo pipefail
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lib_dirs=(/usr/lib /usr/lib64 /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu)
dirs=()
for dir in "${lib_dirs[@]}"; do
  [ -d "$dir" ] && [ ! -L "$dir" ] && dirs+=("$dir")
done

{
  # Shared libraries, as rpm's ELF generator names them.
  find "${dirs[@]}" -maxdepth 1 -name 'lib*.so*' -type f 2>/dev/null | /usr/lib/rpm/elfdeps --provides

  # pkg-config files.
  if [ -x /usr/bin/pkg-config ]; then
    find "${dirs[@]}" /usr/share -maxdepth 2 -path '*/pkgconfig/*.pc' 2>/dev/null \
      | /usr/lib/rpm/pkgconfigdeps.sh --provides
  fi

  # perl modules and the interpreter.
  if [ -x /usr/bin/perl ]; then
    perl -e 'print join("\n", grep { -d && m{^/} } @INC), "\n"' \
      | xargs -r -I{} find {}/ -name '*.pm' 2>/dev/null | /usr/lib/rpm/perl.prov
    perl -e 'printf "perl(:VERSION) = %vd\nperl(:MODULE_COMPAT_%vd)\n", $^V, $^V'
  fi > "$tmp/perl"
  cat "$tmp/perl"
  # RPM distributions name a perl module's package perl-Module-Name (perl-XML-Parser).
  sed -n 's/^perl(\([A-Za-z_][A-Za-z0-9_:]*\)).*/perl-\1/p' "$tmp/perl" | sed 's/::/-/g'


  # python distributions (dist-info and egg-info directories). pythondistdeps.py reads the
  # python version off a `pythonX.Y/` path; Debian keeps them in /usr/lib/python3/dist-packages,
  # which names none, so it is shown them through a link at such a path.
  if [ -x /usr/bin/python3 ] && python3 -c 'import packaging' 2>/dev/null; then
    version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    view="$tmp/view"
    mkdir -p "$view/python$version"
    for site in /usr/lib/python3/dist-packages /usr/lib/python$version/site-packages; do
      [ -d "$site" ] || continue
      ln -sfn "$site" "$view/python$version/site-packages"
      find "$site/" -maxdepth 1 \( -name '*.dist-info' -o -name '*.egg-info' \) -printf "$view/python$version/site-packages/%f\n" \
        | python3 /usr/lib/rpm/pythondistdeps.py --provides --majorver-provides 2>/dev/null
    done > "$tmp/python"
    cat "$tmp/python"
    # RPM distributions name a python distribution's package python3-name (python3-flit-core).
    sed -n 's/^python3dist(\([^)]*\)).*/python3-\1/p' "$tmp/python" | tr 'A-Z_.' 'a-z--'
  fi

  # Executables by path.
  for dir in /usr/bin /usr/sbin /bin /sbin; do
    [ -d "$dir" ] || continue
    find "$dir/" -maxdepth 1 \( -type f -o -type l \) -perm -u+x -printf '%p\n' 2>/dev/null
    if [ -L "$dir" ]; then  # merged /usr: /bin/x is /usr/bin/x
      find "$dir/" -maxdepth 1 \( -type f -o -type l \) -printf "$dir/%f\n" 2>/dev/null
    fi
  done

  # Debian packages: own and source names, and development packages as RPM names them, at
  # the upstream part of the Debian version (no epoch, no Debian revision), so that a
  # `BuildRequires: ocaml >= 5.1` is not met by an older ocaml.
  dpkg-query -W -f '${binary:Package}\t${source:Package}\t${Version}\n' 2>/dev/null \
    | sed 's/:[a-z0-9]*\t/\t/' \
    | while IFS=$'\t' read -r package source version; do
        version=${version#*:}
        version=${version%-*}
        echo "$package = $version"
        case "$package" in
          *-dev)
            # Also without Debian's version suffix: libgcrypt20-dev is libgcrypt-devel, the
            # source slang2 is slang-devel, glib2.0 is glib-devel.
            for name in "${package%-dev}" "$source"; do
              echo "$name-devel = $version"
              unversioned=$(echo "$name" | sed -E 's/-?[0-9.]+$//')
              [ -n "$unversioned" ] && [ "$unversioned" != "$name" ] && echo "$unversioned-devel = $version"
            done
            dpkg-query -L "$package" 2>/dev/null | sed -n 's|.*/pkgconfig/\(.*\)\.pc$|\1-devel|p'
            ;;
        esac
      done
} | sed 's/[[:space:]]*$//' | grep -v '^$' | sort -u
