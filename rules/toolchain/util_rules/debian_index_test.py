"""The rules that find the Debian package supplying an RPM requirement, on a small hand-written
Contents and Packages index holding a case of each rule, its ties and its misses."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from rules.toolchain.util_rules.debian_index import (
    CONTENTS_PATTERN,
    CONTENTS_SEPARATOR,
    DebianIndex,
    StandIn,
    parse_index_output,
)

# An old-style header first (free text up to the FILE line), then two indexes run together.
CONTENTS = """\
This file maps each file available in the Debian
GNU/Linux system to the package from which it originates.

FILE                                                    LOCATION
usr/share/perl5/Test/Exception.pm                       perl/libtest-exception-perl
usr/share/perl5/File/Which.pm                           perl/libfile-which-perl
usr/share/perl/5.36.0/Getopt/Long.pm                    perl/perl-modules-5.36
usr/lib/x86_64-linux-gnu/perl-base/strict.pm            perl/perl-base
usr/lib/x86_64-linux-gnu/perl5/5.36/Net/DNS.pm          perl/libnet-dns-perl
usr/share/perl5/Shared/Module.pm                        perl/zzz-bundle,perl/aaa-bundle,perl/libshared-module-perl
usr/share/perl5/Other/Module.pm                         perl/zzz-bundle,perl/aaa-bundle
usr/share/doc/libelixir-perl/examples/Stray.pm          perl/libelixir-perl
usr/lib/x86_64-linux-gnu/pkgconfig/gobject-introspection-1.0.pc libdevel/libgirepository1.0-dev
usr/share/pkgconfig/bash-completion.pc                  shells/bash-completion
usr/lib/x86_64-linux-gnu/pkgconfig/nss.pc               libdevel/libnss3-dev
usr/lib/x86_64-linux-gnu/pkgconfig/alsa.pc              libdevel/libasound2-dev
usr/lib/x86_64-linux-gnu/pkgconfig/twice.pc             libdevel/zz-tools,libdevel/twice-dev
usr/lib/x86_64-linux-gnu/pkgconfig/zlib.pc              libdevel/zlib1g-dev
usr/share/doc/foo/notapc/foo.pc                         doc/foo-doc
usr/bin/less                                            text/less
usr/bin/doxygen                                         devel/doxygen
bin/bash                                                shells/bash
usr/sbin/useradd                                        admin/passwd
usr/bin/xz                                              utils/xz-utils
usr/bin/shared-tool                                     utils/zeta,utils/shared-tool,utils/alpha
usr/bin/My Tool                                         non-free/utils/mytool
usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA python/python3-yaml
usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/RECORD python/python3-yaml
usr/lib/python3/dist-packages/flit_core-3.8.0.dist-info/METADATA python/flit
usr/lib/python3/dist-packages/Old_Thing-1.2.egg-info    python/python3-oldthing
lib/x86_64-linux-gnu/libz.so.1                          libs/zlib1g
lib/x86_64-linux-gnu/libz.so.1.2.13                     libs/zlib1g
usr/lib/x86_64-linux-gnu/libc.so.6                      libs/libc6
usr/lib/x86_64-linux-gnu/libz.so                        libdevel/zlib1g-dev
usr/lib/x86_64-linux-gnu/libfoo.so.1                    libs/libfoo1-dbgsym
usr/lib/x86_64-linux-gnu/cmake/Qt5Core/Qt5CoreConfig.cmake libdevel/qtbase5-dev
usr/share/cmake/yaml-cpp/yaml-cpp-config.cmake          libdevel/libyaml-cpp-dev
usr/share/texlive/texmf-dist/tex/latex/base/article.cls tex/texlive-latex-base
usr/share/doc/texlive-doc/stray.sty                     doc/texlive-doc
usr/share/doc/less/README                               text/less
"""

# The second Contents index: a path of the first again, with another package.
CONTENTS_UPDATES = """\
usr/bin/doxygen                                         devel/doxygen-legacy
"""

PACKAGES = """\
Package: libtest-exception-perl
Version: 0.43-3
Architecture: all

Package: libfile-which-perl
Version: 1.27-2

Package: libcgi-pm-perl
Version: 4.55-1

Package: perl-base
Source: perl
Version: 5.36.0-7

Package: libwww-perl
Version: 6.68-1

Package: libgirepository1.0-dev
Source: gobject-introspection (1.74.0-3)
Version: 1.74.0-3

Package: liblz4-dev
Source: lz4
Version: 1.9.4-1

Package: libasound2-dev
Source: alsa-lib
Version: 1.2.8-1

Package: libatopology-dev
Source: alsa-lib
Version: 1.2.8-1

Package: libpulse-dev
Source: pulseaudio
Version: 16.1-1

Package: libnss3-dev
Source: nss
Version: 2:3.87.1-1

Package: libnss3
Source: nss
Version: 2:3.87.1-1

Package: uuid-dev
Source: util-linux
Version: 2.38.1-5

Package: zlib1g-dev
Source: zlib
Version: 1:1.2.13-1
Provides: libz-dev

Package: lib32z1-dev
Source: zlib
Version: 1:1.2.13-1

Package: zlib1g
Source: zlib
Version: 1:1.2.13-1

Package: libgcrypt20-dev
Source: libgcrypt20
Version: 1.10.1-3

Package: libglib2.0-dev
Source: glib2.0
Version: 2.74.6-2

Package: libgtk-3-dev
Source: gtk+3.0

Package: libgtk-4-dev
Source: gtk4

Package: liblua5.1-dev
Source: lua5.1

Package: liblua5.4-dev
Source: lua5.4

Package: libcairo2-dev
Source: cairo
Provides: libcairo-dev

Package: libelf-dev
Source: elfutils

Package: libasm-dev
Source: elfutils

Package: elfutils
Source: elfutils

Package: ocaml

Package: libbase16384-dev
Source: base16384

Package: xz-utils
Version: 5.4.1-0.2

Package: liblzma-dev
Source: xz-utils

Package: twice-dev
Source: twice

Package: extra-twice-dev
Source: twice

Package: python3-tomli
Source: tomli
Version: 2.0.1-2

Package: python3-yaml
Source: pyyaml

Package: flit
Version: 3.8.0-1

Package: python3-oldthing

Package: doxygen
Version: 1.9.4-4

Package: less
Version: 590-2

Package: bash
Version: 5.2.15-2

Package: passwd
Source: shadow

Package: zeta
Package: shared-tool
Package: alpha

Package: mytool

Package: gnu-which
Provides: which (= 2.21)

Package: mawk
Provides: awk

Package: gawk
Provides: awk

Package: libc6
Source: glibc

Package: libfoo1-dbgsym
Source: foo
"""


@pytest.fixture(scope="module")
def index() -> DebianIndex:
    return DebianIndex.parse(CONTENTS + CONTENTS_UPDATES, PACKAGES)


def found(index: DebianIndex, requirement: str) -> str | None:
    stand_in = index.find(requirement)
    return stand_in.package if stand_in else None


def test_parse(index: DebianIndex) -> None:
    assert index.files["usr/bin/less"] == ("less",)
    # A path in two indexes: the packages of both.
    assert index.files["usr/bin/doxygen"] == ("doxygen", "doxygen-legacy")
    # The path is all before the package column, spaces and all; a section may have two parts.
    assert index.files["usr/bin/My Tool"] == ("mytool",)
    assert index.files["usr/bin/shared-tool"] == ("alpha", "shared-tool", "zeta")
    # Only what a rule reads is kept.
    assert "usr/share/doc/less/README" not in index.files
    assert "usr/lib/x86_64-linux-gnu/libz.so" not in index.files
    # -dbgsym packages are never read.
    assert "usr/lib/x86_64-linux-gnu/libfoo.so.1" not in index.files
    assert "libfoo1-dbgsym" not in index.packages
    # The source package without its version; a package is its own source when none is named.
    assert index.sources["libgirepository1.0-dev"] == "gobject-introspection"
    assert index.sources["less"] == "less"
    assert index.binaries["alsa-lib"] == ("libasound2-dev", "libatopology-dev")
    assert index.provided_by["which"] == ("gnu-which",)
    assert index.provided_by["awk"] == ("gawk", "mawk")
    assert index.versions["libnss3-dev"] == "2:3.87.1-1"
    # Stanzas without a blank line between them are still three packages.
    assert {"zeta", "shared-tool", "alpha"} <= index.packages
    assert index.python_projects["pyyaml"] == ("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info",)
    assert index.python_projects["old-thing"] == ("usr/lib/python3/dist-packages/Old_Thing-1.2.egg-info",)


def test_perl(index: DebianIndex) -> None:
    assert index.find("perl(Test::Exception)") == StandIn(
        "perl(Test::Exception)", "libtest-exception-perl", "ships /usr/share/perl5/Test/Exception.pm"
    )
    assert found(index, "perl-File-Which") == "libfile-which-perl"
    assert found(index, "perl(Getopt::Long)") == "perl-modules-5.36"
    assert found(index, "perl(strict)") == "perl-base"
    assert found(index, "perl(Net::DNS)") == "libnet-dns-perl"
    # Several packages ship the module: the one Debian's naming gives it, else alphabetical.
    assert found(index, "perl(Shared::Module)") == "libshared-module-perl"
    assert found(index, "perl(Other::Module)") == "aaa-bundle"
    # No file, but Debian's name for the module's package exists.
    assert index.find("perl(CGI::PM)").package == "libcgi-pm-perl"
    assert found(index, "perl-libwww-perl") == "libwww-perl"


def test_perl_misses(index: DebianIndex) -> None:
    assert found(index, "perl(No::Such)") is None
    assert found(index, "perl-No-Such") is None
    assert found(index, "perl(:VERSION)") is None
    assert found(index, "perl(:MODULE_COMPAT_5.36.0)") is None
    # A .pm file outside perl's directories is no module.
    assert found(index, "perl(Stray)") is None


def test_pkgconfig(index: DebianIndex) -> None:
    assert found(index, "pkgconfig(gobject-introspection-1.0)") == "libgirepository1.0-dev"
    assert found(index, "pkgconfig(bash-completion)") == "bash-completion"
    # Two packages ship it: the -dev package named after it, not the alphabetically first.
    assert found(index, "pkgconfig(twice)") == "twice-dev"
    assert found(index, "pkgconfig(nosuch)") is None
    assert found(index, "pkgconfig(foo)") is None  # not in a pkgconfig directory


def test_paths(index: DebianIndex) -> None:
    assert index.find("/usr/bin/less") == StandIn("/usr/bin/less", "less", "ships /usr/bin/less")
    # Merged /usr: /bin/x and /usr/bin/x are one file, whichever the package ships.
    assert found(index, "/bin/less") == "less"
    assert found(index, "/usr/bin/bash") == "bash"
    assert found(index, "/bin/bash") == "bash"
    assert found(index, "/usr/sbin/useradd") == "passwd"
    assert found(index, "/sbin/useradd") == "passwd"
    # Several packages ship it: the one named after the file, else alphabetical.
    assert found(index, "/usr/bin/shared-tool") == "shared-tool"
    assert found(index, "/usr/bin/doxygen") == "doxygen"
    assert found(index, "/usr/bin/nosuch") is None
    assert found(index, "/usr/share/doc/less/README") is None  # not kept


def test_python(index: DebianIndex) -> None:
    assert found(index, "python3-tomli") == "python3-tomli"
    assert found(index, "python3dist(tomli)") == "python3-tomli"
    assert found(index, "python3.11dist(tomli)") == "python3-tomli"
    # By the dist-info directory's project name, normalized.
    assert found(index, "python3dist(pyyaml)") == "python3-yaml"
    assert found(index, "python3-PyYAML") == "python3-yaml"
    assert found(index, "python3-flit-core") == "flit"
    assert found(index, "python3dist(flit_core)") == "flit"
    assert found(index, "python3dist(old.thing)") == "python3-oldthing"  # an egg-info file
    assert found(index, "python3dist(nosuch)") is None
    assert found(index, "python3-nosuch") is None
    # Fedora's unversioned python- names are python 3's; its macro packages are not.
    assert found(index, "python-flit-core") == "flit"
    assert found(index, "python-tomli") == "python3-tomli"
    assert found(index, "python-rpm-macros") is None


def test_devel(index: DebianIndex) -> None:
    assert found(index, "lz4-devel") == "liblz4-dev"  # libNAME-dev
    assert found(index, "twice-devel") == "twice-dev"  # NAME-dev
    assert found(index, "libuuid-devel") == "uuid-dev"  # NAME less lib, -dev
    assert found(index, "cairo-devel") == "libcairo2-dev"  # a virtual -dev package
    assert found(index, "nss-devel") == "libnss3-dev"  # the source's only -dev package
    # Several -dev packages of the source: the one shipping NAME.pc (alsa.pc for alsa-lib),
    # then the native ABI's (zlib1g-dev before lib32z1-dev).
    assert found(index, "alsa-lib-devel") == "libasound2-dev"
    assert found(index, "zlib-devel") == "zlib1g-dev"
    assert found(index, "pulseaudio-libs-devel") == "libpulse-dev"  # NAME-libs: NAME's
    # Version suffixes, either way.
    assert found(index, "libgcrypt-devel") == "libgcrypt20-dev"
    assert found(index, "glib2-devel") == "libglib2.0-dev"
    assert found(index, "gtk3-devel") == "libgtk-3-dev"
    assert found(index, "lua-devel") == "liblua5.4-dev"  # unversioned: the newest
    # A part of a project packaged apart.
    assert found(index, "elfutils-libelf-devel") == "libelf-dev"
    # The source of the package of the executable NAME.
    assert index.find("xz-devel") == StandIn(
        "xz-devel", "liblzma-dev", "is the -dev package of xz-utils, the source of /usr/bin/xz"
    )


def test_devel_misses(index: DebianIndex) -> None:
    assert found(index, "nosuch-devel") is None
    assert found(index, "gtk5-devel") is None  # a version no package has
    assert found(index, "nosuch-libfoo-devel") is None
    # A long number is no version suffix: libbase16384-dev is no -dev package of ocaml's base.
    assert found(index, "ocaml-base-devel") is None


def test_soname(index: DebianIndex) -> None:
    assert found(index, "libz.so.1()(64bit)") == "zlib1g"
    assert found(index, "libz.so.1") == "zlib1g"
    assert found(index, "libc.so.6(GLIBC_2.34)(64bit)") == "libc6"
    assert found(index, "libnosuch.so.1()(64bit)") is None
    assert found(index, "libz.so()(64bit)") is None  # the development link is no soname
    assert found(index, "libfoo.so.1()(64bit)") is None  # only a -dbgsym package has it


def test_plain_names(index: DebianIndex) -> None:
    assert index.find("doxygen") == StandIn("doxygen", "doxygen", "is a Debian package of that name")
    assert found(index, "less") == "less"
    assert found(index, "useradd") == "passwd"  # by executable
    assert found(index, "which") == "gnu-which"  # a virtual package one package provides
    assert found(index, "awk") is None  # ... that several provide
    assert found(index, "shadow-utils") is None
    assert found(index, "less-libs") is None
    assert found(index, "") is None


def test_cmake_and_tex(index: DebianIndex) -> None:
    assert found(index, "cmake(Qt5Core)") == "qtbase5-dev"
    assert found(index, "cmake(yaml-cpp)") == "libyaml-cpp-dev"
    assert found(index, "cmake(NoSuch)") is None
    assert found(index, "tex(article.cls)") == "texlive-latex-base"
    assert found(index, "tex(stray.sty)") is None  # not in a TeX tree
    assert found(index, "font(dejavusans)") is None
    assert found(index, "bundled(zlib)") is None


def test_index_output() -> None:
    output = f"{PACKAGES}\n{CONTENTS_SEPARATOR}\n{CONTENTS}"
    index = parse_index_output(output)
    assert index == DebianIndex.parse(CONTENTS, PACKAGES)
    assert found(index, "perl(Test::Exception)") == "libtest-exception-perl"
    # No Packages stanzas at all (every source without them) still parses.
    assert parse_index_output(f"{CONTENTS_SEPARATOR}\n{CONTENTS}").files == index.files
    with pytest.raises(ValueError, match="#contents"):
        parse_index_output(PACKAGES)


def kept_lines(contents: str) -> list[str]:
    """The Contents lines DebianIndex keeps, each parsed alone."""
    return [line for line in contents.splitlines() if DebianIndex.parse(line, "").files]


def test_contents_pattern_keeps_what_the_parser_reads() -> None:
    kept = kept_lines(CONTENTS)
    assert len(kept) > 20
    pattern = re.compile(CONTENTS_PATTERN)
    assert [line for line in kept if not pattern.search(line)] == []


@pytest.mark.skipif(shutil.which("awk") is None, reason="no awk on this host")
def test_contents_pattern_with_awk() -> None:
    # seed_apt.sh filters with awk, which reads the pattern as a POSIX extended expression.
    out = subprocess.run(
        [shutil.which("awk") or "awk", '$0 ~ ENVIRON["P"]'], input=CONTENTS, env={"P": CONTENTS_PATTERN},
        capture_output=True, text=True, check=True,
    ).stdout
    assert set(kept_lines(CONTENTS)) <= set(out.splitlines())
    assert "usr/share/doc/less/README" not in out
