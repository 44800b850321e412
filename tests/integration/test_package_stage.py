"""The package stage end to end: real Pants, real rpmspec and rpmbuild, temporary workspaces."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from tests.pants_workspace import Workspace

CHANGELOG = "%changelog\n* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1\n- test\n"

LIB_SPEC = """Name: libhi
Version: 1.0
Release: 1%{?dist}
Summary: greeting library
License: MIT
Source0: hi.c
Source1: hi.h
%description
A shared library.
%package devel
Summary: libhi headers
Requires: libhi = %{version}-%{release}
%description devel
Headers.
%prep
%setup -q -c -T
cp %{SOURCE0} %{SOURCE1} .
%build
gcc %{optflags} -fPIC -shared -Wl,-soname,libhi.so.1 -o libhi.so.1 hi.c
%install
install -D -m 0755 libhi.so.1 %{buildroot}%{_libdir}/libhi.so.1
ln -s libhi.so.1 %{buildroot}%{_libdir}/libhi.so
install -D -m 0644 hi.h %{buildroot}%{_includedir}/hi.h
%files
%{_libdir}/libhi.so.1
%files devel
%{_libdir}/libhi.so
%{_includedir}/hi.h
""" + CHANGELOG

APP_SPEC = """Name: hello
Version: 1.0
Release: 1%{?dist}
Summary: says hi
License: MIT
Source0: hello.c
BuildRequires: gcc
BuildRequires: libhi-devel >= 1.0
Requires: hello-data
%description
Links libhi.
%prep
%setup -q -c -T
cp %{SOURCE0} .
%build
gcc %{optflags} -o hello hello.c -lhi
%install
install -D -m 0755 hello %{buildroot}%{_bindir}/hello
%check
test "$(./hello)" = "hi from libhi"
%files
%{_bindir}/hello
""" + CHANGELOG

DATA_SPEC = """Name: hello-data
Version: 1.0
Release: 1%{?dist}
Summary: data
License: MIT
BuildArch: noarch
%description
Data.
%install
mkdir -p %{buildroot}%{_datadir}/hello
echo data > %{buildroot}%{_datadir}/hello/data.txt
%files
%{_datadir}/hello
""" + CHANGELOG

FILES = {
    "specs/libhi/BUILD": "rpm_package()",
    "specs/libhi/libhi.spec": LIB_SPEC,
    "specs/libhi/hi.c": '#include "hi.h"\nconst char *hi(void) { return "hi from libhi"; }\n',
    "specs/libhi/hi.h": "const char *hi(void);\n",
    "specs/hello/BUILD": "rpm_package()",
    "specs/hello/hello.spec": APP_SPEC,
    "specs/hello/hello.c": '#include <stdio.h>\n#include <hi.h>\nint main(void) { puts(hi()); return 0; }\n',
    "specs/hello-data/BUILD": "rpm_package()",
    "specs/hello-data/hello-data.spec": DATA_SPEC,
}

EXPECTED_DIST = {
    "RPMS/x86_64/libhi-1.0-1.t1.x86_64.rpm",
    "RPMS/x86_64/libhi-devel-1.0-1.t1.x86_64.rpm",
    "RPMS/x86_64/hello-1.0-1.t1.x86_64.rpm",
    "RPMS/noarch/hello-data-1.0-1.t1.noarch.rpm",
    "SRPMS/libhi-1.0-1.t1.src.rpm",
    "SRPMS/hello-1.0-1.t1.src.rpm",
    "SRPMS/hello-data-1.0-1.t1.src.rpm",
}


def rpm_query(path: Path, *args: str) -> str:
    return subprocess.run(["rpm", "-qp", *args, str(path)], capture_output=True, text=True, check=True).stdout


def test_builds_link_against_built_libraries_and_are_reproducible(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, FILES)
    ws.pants("package", "specs::")
    first = ws.dist_hashes()
    assert set(first) == EXPECTED_DIST
    hello = ws.root / "dist/RPMS/x86_64/hello-1.0-1.t1.x86_64.rpm"
    # Linked against the libhi that keel built (rpm found its soname), and %check ran it.
    assert "libhi.so.1()(64bit)" in rpm_query(hello, "--requires")
    assert rpm_query(hello, "--qf", "%{BUILDHOST} %{BUILDTIME}") == "keel 1795521600"

    # Empty caches, same inputs: the same bytes.
    shutil.rmtree(ws.root / "dist")
    result = ws.pants("package", "specs::", cache="other-cache")
    report_file = ws.root / "dist/keel-report.json"
    report = json.loads(report_file.read_text())
    assert ws.dist_hashes() == first
    # The build report: every package was built, with its time, in the console and in the JSON.
    assert [(o["target"], o["obtained"]) for o in report["outputs"]] == [
        ("specs/hello-data:hello-data", "built"),
        ("specs/hello:hello", "built"),
        ("specs/libhi:libhi", "built"),
    ]
    assert all(o["seconds"] > 0 for o in report["outputs"])
    assert "RPMS/x86_64/hello-1.0-1.t1.x86_64.rpm" in report["outputs"][1]["outputs"]
    assert re.search(r"Wrote dist/RPMS/x86_64/hello-1.0-1.t1.x86_64.rpm\nbuilt in \d+\.\d s", result.stderr)
    # Again with the same caches: everything comes from the local cache.
    ws.pants("package", "specs::", cache="other-cache")
    report = json.loads(report_file.read_text())
    assert {o["obtained"] for o in report["outputs"]} == {"local cache"}


def test_package_graph_goals(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, FILES)
    # Its BuildRequires and Requires, and the toolchain stage whose root it is built in.
    assert ws.pants("dependencies", "specs/hello").stdout.split() == [
        "specs/hello-data:hello-data",
        "specs/libhi:libhi",
        "toolchain:official",
    ]
    assert ws.pants("dependents", "specs/libhi").stdout.split() == ["specs/hello:hello"]
    requires = ws.pants("rpm-requires", "specs/hello").stdout
    assert "BuildRequires: gcc -> the root of toolchain:official" in requires
    assert "BuildRequires: libhi-devel >= 1.0 -> libhi-devel (specs/libhi:libhi)" in requires
    assert "Requires of hello: hello-data -> hello-data (specs/hello-data:hello-data)" in requires

    # A new spec directory without a BUILD file: tailor notices, then adds rpm_package().
    ws.write({"specs/extra/extra.spec": DATA_SPEC.replace("hello-data", "extra")})
    check = ws.pants("tailor", "--check", "::", check=False)
    assert check.returncode != 0 and "specs/extra/BUILD" in check.stdout + check.stderr
    ws.pants("tailor", "::")
    assert (ws.root / "specs/extra/BUILD").read_text().strip() == "rpm_package()"
    ws.pants("tailor", "--check", "::")
