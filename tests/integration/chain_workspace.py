"""A small distribution for cache tests: a library, a program that BuildRequires it, an image
holding the program, an unrelated package, and a toolchain package the program records.

    toolchain:official ── tc-marker ──┐ (built with)
    specs/libgreet ── libgreet-devel ─┴─> specs/greet ──> images/greeter:disk
    specs/other (unrelated)
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

from tests.pants_workspace import Workspace, toolchain_files

CHANGELOG = "%changelog\n* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1\n- test\n"

MARKER_SPEC = """Name: tc-marker
Version: 1.0
Release: {release}%{{?dist}}
Summary: a toolchain package whose content every later build can see
License: MIT
BuildArch: noarch
%description
Stands in for a compiler: what it installs ends up in the programs built with it.
%install
mkdir -p %{{buildroot}}%{{_datadir}}/tc-marker
echo 'marker %{{release}}' > %{{buildroot}}%{{_datadir}}/tc-marker/version
%files
%{{_datadir}}/tc-marker
""" + CHANGELOG

LIB_SPEC = """Name: libgreet
Version: 1.0
Release: {release}%{{?dist}}
Summary: greeting library
License: MIT
Source0: greet.c
Patch0: greet-loud.patch
%description
A shared library.
%package devel
Summary: link library
Requires: libgreet = %{{version}}-%{{release}}
%description devel
The link library.
%prep
%setup -q -c -T
cp %{{SOURCE0}} .
%patch -P 0 -p1
%build
gcc -fPIC -shared -Wl,-soname,libgreet.so.1 -o libgreet.so.1 greet.c
%install
install -D -m 0755 libgreet.so.1 %{{buildroot}}%{{_libdir}}/libgreet.so.1
ln -s libgreet.so.1 %{{buildroot}}%{{_libdir}}/libgreet.so
%files
%{{_libdir}}/libgreet.so.1
%files devel
%{{_libdir}}/libgreet.so
""" + CHANGELOG

GREET_C = 'const char *greeting(void) { return "hello"; }\n'


def loud_patch(word: str) -> str:
    return (
        "--- a/greet.c\n+++ b/greet.c\n@@ -1 +1 @@\n"
        '-const char *greeting(void) { return "hello"; }\n'
        f'+const char *greeting(void) {{ return "{word}"; }}\n'
    )


PROGRAM_SPEC = """Name: greet
Version: 1.0
Release: 1%{?dist}
Summary: greets
License: MIT
Source0: greet-1.0.tar.gz
BuildRequires: gcc
BuildRequires: libgreet-devel
BuildRequires: tc-marker
%description
Links libgreet and records the toolchain it was built with.
%prep
%setup -q
%build
gcc -o greet main.c -DBUILT_WITH="\\"$(cat /usr/share/tc-marker/version)\\"" -L%{_libdir} -lgreet
%install
install -D -m 0755 greet %{buildroot}%{_bindir}/greet
%files
%{_bindir}/greet
""" + CHANGELOG


def program_tarball(greeting_suffix: str) -> bytes:
    """greet-1.0.tar.gz with greet-1.0/main.c, byte-for-byte the same for the same argument."""
    main_c = (
        "#include <stdio.h>\nconst char *greeting(void);\n"
        f'int main(void) {{ printf("%s{greeting_suffix} (%s)\\n", greeting(), BUILT_WITH); return 0; }}\n'
    ).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("greet-1.0/main.c")
        info.size, info.mtime, info.mode = len(main_c), 0, 0o644
        tar.addfile(info, io.BytesIO(main_c))
    return subprocess.run(["gzip", "-9n"], input=raw.getvalue(), capture_output=True, check=True).stdout


OTHER_SPEC = """Name: other
Version: 1.0
Release: 1%{?dist}
Summary: unrelated to the image
License: MIT
BuildArch: noarch
Source0: other-data.txt
Source1: other-hook.sh
%description
Nothing depends on it.
%install
mkdir -p %{buildroot}%{_datadir}/other
echo other > %{buildroot}%{_datadir}/other/x
%files
%{_datadir}/other
""" + CHANGELOG
# other's sources, as a checkout holds them: a text file larger than the size from which Pants
# hard-links a file into a local sandbox read-only and executable (512 KiB), and an executable
# script. Its SRPM must record 0644 and 0755 wherever it is built.
OTHER_DATA = "".join(hashlib.sha256(str(i).encode()).hexdigest() + "\n" for i in range(10000))
OTHER_HOOK = "#!/bin/sh\necho hook\n"


def image_build(hostname: str = "greeter") -> str:
    return (
        f'disk_image(name="disk", format="raw", size="64M", packages=["//specs/greet"], '
        f'hostname="{hostname}")\n'
    )


FILES = {
    **toolchain_files(official_packages=("specs/tc-marker",)),
    "specs/tc-marker/BUILD": "rpm_package()",
    "specs/tc-marker/tc-marker.spec": MARKER_SPEC.format(release=1),
    "specs/libgreet/BUILD": "rpm_package()",
    "specs/libgreet/libgreet.spec": LIB_SPEC.format(release=1),
    "specs/libgreet/greet.c": GREET_C,
    "specs/libgreet/greet-loud.patch": loud_patch("HELLO"),
    "specs/greet/BUILD": "rpm_package()",
    "specs/greet/greet.spec": PROGRAM_SPEC,
    "specs/other/BUILD": "rpm_package()",
    "specs/other/other.spec": OTHER_SPEC,
    "specs/other/other-data.txt": OTHER_DATA,
    "specs/other/other-hook.sh": OTHER_HOOK,
    "images/greeter/BUILD": image_build(),
}
# Every output of the package stage and the image stage (the toolchain stage is built on the way).
TARGETS = ("images/greeter:disk", "specs/other")
TOOLCHAIN, LIBRARY, PROGRAM, OTHER, IMAGE = (
    "specs/tc-marker:tc-marker", "specs/libgreet:libgreet", "specs/greet:greet", "specs/other:other",
    "images/greeter:disk",
)


def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path, FILES)
    write_tarball(ws, "")
    (ws.root / "specs/other/other-hook.sh").chmod(0o755)
    return ws


def write_tarball(ws: Workspace, greeting_suffix: str) -> None:
    (ws.root / "specs/greet/greet-1.0.tar.gz").write_bytes(program_tarball(greeting_suffix))


def report(ws: Workspace) -> dict[str, str]:
    """{target: how it was obtained} from the build report of the last run."""
    outputs = json.loads((ws.root / "dist/keel-report.json").read_text())["outputs"]
    return {o["target"]: o["obtained"] for o in outputs}


def built(ws: Workspace) -> set[str]:
    return {target for target, obtained in report(ws).items() if obtained == "built"}


def rpmbuilds(result: subprocess.CompletedProcess) -> set[str]:
    """Targets whose rpmbuild process started: ran, or looked up in a remote cache (a local cache
    hit starts no process)."""
    return set(re.findall(r"Starting: rpmbuild \S+ \((\S+)\)", result.stderr))
