"""The image stage's workspace: a library, a program with setuid bits, data with private
modes and an EFI file, a real shell for post-install scripts, and one system (users, groups,
files, a post-install script, a repository) in every image kind: raw, VHDX, VHD, qcow2, ISO,
container and update."""
from __future__ import annotations

CHANGELOG = "%changelog\n* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1\n- test\n"

LIB_SPEC = """Name: libgreet
Version: 1.0
Release: 1%{?dist}
Summary: greeting library
License: MIT
Source0: greet.c
%description
A shared library.
%package devel
Summary: headers
Requires: libgreet = %{version}-%{release}
%description devel
Headers.
%prep
%setup -q -c -T
cp %{SOURCE0} .
%build
gcc -fPIC -shared -Wl,-soname,libgreet.so.1 -o libgreet.so.1 greet.c
%install
install -D -m 0755 libgreet.so.1 %{buildroot}%{_libdir}/libgreet.so.1
ln -s libgreet.so.1 %{buildroot}%{_libdir}/libgreet.so
%files
%{_libdir}/libgreet.so.1
%files devel
%{_libdir}/libgreet.so
""" + CHANGELOG

APP_SPEC = """Name: greet
Version: 1.0
Release: 1%{?dist}
Summary: greets
License: Apache-2.0
Source0: main.c
BuildRequires: gcc
BuildRequires: libgreet-devel
Requires: greet-data
%description
Links libgreet.
%prep
%setup -q -c -T
cp %{SOURCE0} .
%build
gcc -o greet main.c -L%{_libdir} -lgreet
%install
install -D -m 4755 greet %{buildroot}%{_bindir}/greet
%files
%{_bindir}/greet
""" + CHANGELOG

DATA_SPEC = """Name: greet-data
Version: 1.0
Release: 1%{?dist}
Summary: data
License: MIT
BuildArch: noarch
%description
Data.
%install
mkdir -p %{buildroot}%{_datadir}/greet %{buildroot}/boot/efi/EFI/BOOT
echo hello > %{buildroot}%{_datadir}/greet/message
echo secret > %{buildroot}%{_datadir}/greet/private
echo efi > %{buildroot}/boot/efi/EFI/BOOT/BOOTX64.EFI
%files
%{_datadir}/greet/message
%attr(0600, root, root) %{_datadir}/greet/private
%dir %attr(0700, root, root) %{_datadir}/greet
/boot/efi/EFI/BOOT/BOOTX64.EFI
""" + CHANGELOG

# A real shell for post_install scripts: the build root's bash and the libraries it loads.
SHELL_SPEC = """Name: testshell
Version: 1.0
Release: 1%{?dist}
Summary: bash as /bin/sh, for post-install scripts
License: GPL-3.0-or-later
%description
The build root's bash with its libraries.
%install
install -D -m 0755 /usr/bin/bash %{buildroot}/bin/sh
for lib in $(ldd /usr/bin/bash | grep -o '/[^ ]*'); do install -D -m 0755 "$lib" "%{buildroot}$lib"; done
%files
/bin/sh
/lib/x86_64-linux-gnu/*
/lib64/*
""" + CHANGELOG

IMAGES = """
SYSTEM = dict(
    packages=["//specs/greet", "testshell"],
    hostname="greeter",
    post_install=["setup.sh"],
    groups=[{"name": "staff", "gid": "50"}],
    users=[{"name": "ada", "uid": "1001", "groups": "staff"}],
    files={"/etc/motd": "motd", "/etc/os-release": "os-release"},
    repos=["//repos:updates"],
)
disk_image(name="raw", format="raw", size="64M", **SYSTEM)
disk_image(name="vhdx", format="vhdx", size="64M", **SYSTEM)
disk_image(name="vhd", format="vhd", size="64M", **SYSTEM)
disk_image(name="qcow2", format="qcow2", size="64M", **SYSTEM)
iso_image(name="iso", volume_id="GREETER", **SYSTEM)
container_image(name="container", **SYSTEM)
update_image(name="update", size="64M", **SYSTEM)
"""

FILES = {
    "specs/libgreet/BUILD": "rpm_package()",
    "specs/libgreet/libgreet.spec": LIB_SPEC,
    "specs/libgreet/greet.c": 'const char *greeting(void) { return "hello"; }\n',
    "specs/greet/BUILD": "rpm_package()",
    "specs/greet/greet.spec": APP_SPEC,
    "specs/greet/main.c": '#include <stdio.h>\nconst char *greeting(void);\nint main(void) { puts(greeting()); return 0; }\n',
    "specs/greet-data/BUILD": "rpm_package()",
    "specs/greet-data/greet-data.spec": DATA_SPEC,
    "images/greeter/BUILD": IMAGES,
    "images/greeter/motd": "hi there\n",
    "images/greeter/os-release": 'NAME="greeter"\nID=greeter\nVERSION_ID="2.1"\n',
    "images/greeter/setup.sh": 'read -r motd < /etc/motd; echo "configured after: $motd" > /etc/configured\n',
    "specs/testshell/BUILD": "rpm_package()",
    "specs/testshell/testshell.spec": SHELL_SPEC,
    # An image's `repos`: the image gets its .repo file and the key, the repository is not built.
    "repos/BUILD": 'rpm_repository(name="updates", packages=["//specs/greet"], base_url="file:///srv/www/greeter")',
}
