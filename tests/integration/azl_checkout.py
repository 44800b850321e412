"""An Azure-Linux-shaped checkout of the tests' own: SPECS/ and SPECS-EXTENDED/ spec directories
with signatures files, a macro package, and a macro file of a package that is not imported.

The specs lean on what Azure Linux's build root gives them: their distribution's macros
(`%{_libdir}` is /usr/lib, `%{azl}`, `%{dist}`, an rpmrc's optflags), bash as /bin/sh (brace
expansion in %install), and BuildRequires under RPM names that the Debian seed meets only
through what keel derives from the root's contents: `pkgconfig(zlib)`, `perl(File::Spec)`, a
soname, a `-devel` name and a file path.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

CHANGELOG = "%changelog\n* Tue Nov 24 2026 keel tests <t@localhost> - {version}-1\n- test\n"

MACROS_SPEC = """%global rcdir %{_libdir}/rpm/azl
Summary: Test distribution macros
Name: azurelinux-rpm-macros
Version: %{azl}.0
Release: 1%{?dist}
License: MIT
Source0: macros
Source1: rpmrc
Source2: macros.check
BuildArch: noarch
%description
The test distribution's rpm macros.
%package -n azurelinux-check-macros
Summary: check macros
%description -n azurelinux-check-macros
Check macros.
%prep
%setup -q -c -T
cp -p %{SOURCE0} %{SOURCE1} %{SOURCE2} .
%install
mkdir -p %{buildroot}{%{rcdir},%{_rpmconfigdir}/macros.d}
install -p -m 644 macros rpmrc %{buildroot}%{rcdir}/
install -p -m 644 macros.check %{buildroot}%{_rpmconfigdir}/macros.d/
%files
%{rcdir}/macros
%{rcdir}/rpmrc
%files -n azurelinux-check-macros
%{_rpmconfigdir}/macros.d/macros.check
""" + CHANGELOG.format(version="3.0")

# The distribution's vendor macros: libraries in /usr/lib, and a macro of its own.
VENDOR_MACROS = "%_lib lib\n%_libdir /usr/%{_lib}\n%greetings_dir %{_datadir}/greetings\n"
# rpm reads the vendor's rpmrc too: its optflags mark every build.
VENDOR_RPMRC = "include: /usr/lib/rpm/rpmrc\noptflags: x86_64 -O2 -g -DAZL_TEST_RPMRC\n"
CHECK_MACROS = "%azl_check_macros_installed 1\n"

LIBGREET_C = '#include <zlib.h>\n#include "greet.h"\nconst char *greet(void) { return zlibVersion()[0] ? GREETING : ""; }\n'
LIBGREET_H = '#define GREETING "hello from libgreet"\nconst char *greet(void);\n'
LIBGREET_MAKEFILE = (
    "libgreet.so.1: greet.c\n"
    "\t$(CC) $(CFLAGS) -fPIC -shared -Wl,-soname,libgreet.so.1 -o $@ greet.c -lz\n"
)
LIBGREET_PATCH = """--- a/greet.h
+++ b/greet.h
@@ -1,2 +1,2 @@
-#define GREETING "hello from libgreet"
+#define GREETING "hello from the patched libgreet"
 const char *greet(void);
"""

LIBGREET_SPEC = """Summary: A greeting library
Name: libgreet
Version: 1.0
Release: 1%{?dist}
License: MIT
Source0: https://example.invalid/libgreet-%{version}.tar.gz
Patch0: greet-fix.patch
BuildRequires: gcc
BuildRequires: make
BuildRequires: pkgconfig(zlib)
BuildRequires: zlib-devel
BuildRequires: libz.so.1()(64bit)
BuildRequires: perl(File::Spec)
BuildRequires: /usr/bin/pkg-config
BuildRequires: python3dist(setuptools)
%description
Says hello, through zlib.
%package devel
Summary: libgreet headers
Requires: libgreet = %{version}-%{release}
%description devel
Headers.
%prep
%autosetup -p1
%build
make CFLAGS="%{optflags}"
%install
mkdir -p %{buildroot}{%{_libdir},%{_includedir},%{greetings_dir}}
install -m 0755 libgreet.so.1 %{buildroot}%{_libdir}/
ln -s libgreet.so.1 %{buildroot}%{_libdir}/libgreet.so
install -m 0644 greet.h %{buildroot}%{_includedir}/
echo hello > %{buildroot}%{greetings_dir}/hello
%files
%{_libdir}/libgreet.so.1
%{greetings_dir}/hello
%files devel
%{_libdir}/libgreet.so
%{_includedir}/greet.h
""" + CHANGELOG.format(version="1.0")

GREET_SPEC = """Summary: Prints a greeting
Name: greet
Version: 1.0
Release: 1%{?dist}
License: MIT
Source0: greet-main.c
BuildRequires: gcc
BuildRequires: libgreet-devel
%description
Links libgreet.
%prep
%setup -q -c -T
cp %{SOURCE0} .
%build
# The names Azure Linux's gpg verification macro runs gnupg by.
gpg2 --version >/dev/null
gpgv2 --version >/dev/null
gcc %{optflags} -o greet greet-main.c -lgreet
%install
install -D -m 0755 greet %{buildroot}%{_bindir}/greet
%files
%{_bindir}/greet
""" + CHANGELOG.format(version="1.0")

GREET_MAIN = '#include <stdio.h>\n#include <greet.h>\nint main(void) { puts(greet()); return 0; }\n'

PERL_GREET_SPEC = """Summary: A perl module
Name: perl-Greet
Version: 1.0
Release: 1%{?dist}
License: MIT
Source0: Greet.pm
BuildArch: noarch
BuildRequires: perl-interpreter
BuildRequires: perl-generators
%description
Uses the perl macros of a package that is not imported.
%prep
%setup -q -c -T
%install
install -D -m 0644 %{SOURCE0} %{buildroot}%{perl_vendorlib}/Greet.pm
%perl_check_module Greet.pm
%files
%{perl_vendorlib}/Greet.pm
""" + CHANGELOG.format(version="1.0")

# The macro file of a package the checkout has but the test does not import (its perl), with a
# macro running a helper script that perl's directory holds (as `%ocaml_files` runs ocaml's).
PERL_MACROS = (
    '%perl_vendorlib %(eval "$(perl -V:installvendorlib)"; echo $installvendorlib)\n'
    "%perl_check_module() %{_rpmconfigdir}/azl/perl_check_module.sh %{buildroot}%{perl_vendorlib}/%1\n"
)
PERL_CHECK_MODULE = '#!/bin/sh\n# A module file that is there and not empty.\ntest -s "$1"\n'

BROKEN_SPEC = """Summary: Needs what nothing has
Name: broken
Version: 1.0
Release: 1%{?dist}
License: MIT
BuildArch: noarch
BuildRequires: nonexistent-devel
%description
Made to fail.
%files
""" + CHANGELOG.format(version="1.0")

# httpd-devel's macros: neither the checkout's macro files nor keel's (systemd's, meson's) have it.
NEEDS_MACRO_SPEC = """Summary: Uses a macro no package defines here
Name: needs-macro
Version: 1.0
Release: 1%{?dist}
License: MIT
BuildArch: noarch
%description
Made to fail.
%install
mkdir -p %{buildroot}/etc
touch %{buildroot}/etc/needs-macro.conf
%files
/etc/needs-macro.conf
%{_httpd_moddir}/mod_needs.so
""" + CHANGELOG.format(version="1.0")


def tarball(files: dict[str, str], top: str) -> bytes:
    """A deterministic .tar.gz of `files` under `top/`."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


LIBGREET_TARBALL = tarball(
    {"greet.c": LIBGREET_C, "greet.h": LIBGREET_H, "Makefile": LIBGREET_MAKEFILE}, "libgreet-1.0"
)


def write_checkout(root: Path, extra: dict[str, str] | None = None) -> Path:
    """The checkout under `root/azurelinux`, with `extra` files added or replaced; returns its
    path. Release tarballs are not in it: they are pinned by signatures files, as in Azure
    Linux."""
    checkout = root / "azurelinux"
    sha = hashlib.sha256(LIBGREET_TARBALL).hexdigest()
    files = {
        "SPECS/azurelinux-rpm-macros/azurelinux-rpm-macros.spec": MACROS_SPEC,
        "SPECS/azurelinux-rpm-macros/macros": VENDOR_MACROS,
        "SPECS/azurelinux-rpm-macros/rpmrc": VENDOR_RPMRC,
        "SPECS/azurelinux-rpm-macros/macros.check": CHECK_MACROS,
        "SPECS/libgreet/libgreet.spec": LIBGREET_SPEC,
        "SPECS/libgreet/greet-fix.patch": LIBGREET_PATCH,
        # The key in lower case, as some of Azure Linux's files have it.
        "SPECS/libgreet/libgreet.signatures.json": json.dumps({"signatures": {"libgreet-1.0.tar.gz": sha}}),
        "SPECS/greet/greet.spec": GREET_SPEC,
        "SPECS/greet/greet-main.c": GREET_MAIN,
        "SPECS/perl-Greet/perl-Greet.spec": PERL_GREET_SPEC,
        "SPECS/perl-Greet/Greet.pm": "package Greet;\nsub hello { 'hello' }\n1;\n",
        "SPECS/perl/perl.spec": "Name: perl\n",  # never imported: only its macro file is used
        "SPECS/perl/macros.perl": PERL_MACROS,
        "SPECS/perl/perl_check_module.sh": PERL_CHECK_MODULE,
        "SPECS/broken/broken.spec": BROKEN_SPEC,
        "SPECS-EXTENDED/needs-macro/needs-macro.spec": NEEDS_MACRO_SPEC,
    }
    for path, content in {**files, **(extra or {})}.items():
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        (checkout / path).write_text(content)
    return checkout
