"""Azure Linux's spec directories, unchanged, built by keel: import from a checkout (the tests'
own, Azure-Linux-shaped), the build root stage with the checkout's macro packages, BuildRequires
met by what the Debian seed really holds, `.azl3` RPMs with libraries in /usr/lib, and the
compatibility report's categories for specs made to fail.

The tree read as one graph: where several specs build or provide one package, a requirement goes
where Azure Linux's toolkit sends it (the highest version that meets its conditions), a tie is
refused, and importing more spec directories never makes a spec unreadable that read before
(golang beside golang-1.23 in one directory; perl building perl-Test-Harness that a spec of its
own builds newer). Both tests share one cache (one test file): the root is made once."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.azl_checkout import CHANGELOG, LIBGREET_TARBALL, write_checkout
from tests.pants_workspace import Workspace, azl_toolchain_files


def rpm_query(path: Path, *args: str) -> str:
    return subprocess.run(["rpm", "-qp", *args, str(path)], capture_output=True, text=True, check=True).stdout


def rpm_file(path: Path, name: str) -> bytes:
    """One file of an RPM's payload, from rpm2cpio's "newc" cpio stream."""
    stream = subprocess.run(["rpm2cpio", str(path)], capture_output=True, check=True).stdout
    offset = 0
    while stream[offset:offset + 6] == b"070701":
        size, name_size = int(stream[offset + 54:offset + 62], 16), int(stream[offset + 94:offset + 102], 16)
        start = offset + 110
        entry = stream[start:start + name_size - 1].decode()
        data_start = (start + name_size + 3) & ~3
        if entry.lstrip(".") == name:
            return stream[data_start:data_start + size]
        offset = (data_start + size + 3) & ~3
    raise AssertionError(f"{name} is not in {path}")


def test_azure_linux_specs_import_build_and_report(tmp_path: Path) -> None:
    checkout = write_checkout(tmp_path)
    ws = Workspace(tmp_path, azl_toolchain_files())

    # Import by name, from SPECS/ and SPECS-EXTENDED/; the macro package comes along.
    imported = ws.pants(
        "azl-import", f"--checkout={checkout}", "--", "libgreet", "greet", "perl-Greet", "broken", "needs-macro"
    ).stdout
    assert "Imported 6 spec directories" in imported and "(5 from SPECS, 1 from SPECS-EXTENDED)" in imported
    for path in ("SPECS/libgreet/libgreet.spec", "SPECS/libgreet/greet-fix.patch", "SPECS-EXTENDED/needs-macro/needs-macro.spec"):
        assert (ws.root / "azl" / path).read_bytes() == (checkout / path).read_bytes()  # unchanged
    assert (ws.root / "azl/SPECS/libgreet/BUILD").read_text().endswith("rpm_package()\n")
    stage = (ws.root / "azl/BUILD").read_text()
    assert "'azl/SPECS/azurelinux-rpm-macros'," in stage
    assert "'rpm-macros/macros.perl',  # SPECS/perl" in stage  # perl is not imported
    # The helper its %perl_check_module runs (perl-Greet's build runs it: built below).
    assert "'rpm-config/azl/perl_check_module.sh',  # SPECS/perl" in stage
    assert not (ws.root / "azl/SPECS/perl").exists()
    unknown = ws.pants("azl-import", f"--checkout={checkout}", "--", "no-such-dir", check=False)
    assert unknown.returncode != 0 and "No spec directory named no-such-dir" in unknown.stderr

    # The pinned tarball, into a source cache of the test's own, checked by its sha256.
    incoming, cache = tmp_path / "incoming", tmp_path / "sources"
    incoming.mkdir()
    (incoming / "libgreet-1.0.tar.gz").write_bytes(LIBGREET_TARBALL)
    subprocess.run(
        [sys.executable, "build-support/source-cache", "import", str(incoming), "--cache-dir", str(cache),
         "--specs", str(ws.root / "azl")],
        check=True, capture_output=True,
    )
    sources = f"--rpm-sources-cache-dir={cache}"

    # How every requirement is met: by a target, by what the seed holds, or by nothing.
    requires = ws.pants("rpm-requires", sources, "azl/SPECS/libgreet", "azl/SPECS/greet", "azl/SPECS/broken").stdout
    for requirement in (
        "pkgconfig(zlib)", "zlib-devel", "libz.so.1()(64bit)", "perl(File::Spec)", "/usr/bin/pkg-config",
        "python3dist(setuptools)", "gcc",
    ):
        assert f"BuildRequires: {requirement} -> the root of azl:buildroot" in requires
    assert "BuildRequires: libgreet-devel -> libgreet-devel (azl/SPECS/libgreet:libgreet)" in requires
    assert "BuildRequires: nonexistent-devel -> NOTHING provides it" in requires

    # Everything in one run, carrying on past failures.
    compat = ws.pants("rpm-compat", sources, "--report-name=azl-compat", "azl::", check=False)
    assert compat.returncode == 1
    assert "4 of 6 built; 1 missing BuildRequires; 1 undefined macro." in compat.stdout
    report = {t["target"]: t for t in json.loads((ws.root / "dist/azl-compat.json").read_text())["targets"]}
    assert {t: r["category"] for t, r in report.items()} == {
        "azl/SPECS/azurelinux-rpm-macros:azurelinux-rpm-macros": "built",
        "azl/SPECS/libgreet:libgreet": "built",
        "azl/SPECS/greet:greet": "built",
        "azl/SPECS/perl-Greet:perl-Greet": "built",
        "azl/SPECS/broken:broken": "missing BuildRequires",
        "azl/SPECS-EXTENDED/needs-macro:needs-macro": "undefined macro",
    }
    assert report["azl/SPECS/broken:broken"]["detail"] == "nonexistent-devel"
    assert report["azl/SPECS-EXTENDED/needs-macro:needs-macro"]["detail"] == "_httpd_moddir"
    assert report["azl/SPECS-EXTENDED/needs-macro:needs-macro"]["first_error"].startswith(
        'error: File must begin with "/": %{_httpd_moddir}'
    )
    assert (ws.root / report["azl/SPECS/broken:broken"]["log"]).read_text().count("nonexistent-devel is needed by") == 1
    markdown = (ws.root / "dist/azl-compat.md").read_text()
    assert "| missing BuildRequires | 1 |" in markdown and "| azl/SPECS/greet:greet | built |" in markdown

    # The RPMs: Azure Linux's names, its %{_libdir}, its rpmrc's flags, the patch applied.
    ws.pants("package", sources, "azl/SPECS/libgreet", "azl/SPECS/greet", "azl/SPECS/perl-Greet")
    rpms = ws.root / "dist/RPMS"
    libgreet = rpms / "x86_64/libgreet-1.0-1.azl3.x86_64.rpm"
    assert rpm_query(libgreet, "-l").split() == ["/usr/lib/libgreet.so.1", "/usr/share/greetings/hello"]
    assert "-DAZL_TEST_RPMRC" in rpm_query(libgreet, "--qf", "%{OPTFLAGS}")
    assert "libz.so.1()(64bit)" in rpm_query(libgreet, "--requires")
    assert "libgreet.so.1()(64bit)" in rpm_query(rpms / "x86_64/greet-1.0-1.azl3.x86_64.rpm", "--requires")
    assert (rpms / "x86_64/libgreet-devel-1.0-1.azl3.x86_64.rpm").exists()
    assert rpm_query(rpms / "noarch/perl-Greet-1.0-1.azl3.noarch.rpm", "-l").strip() == "/usr/share/perl5/Greet.pm"
    assert b"hello from the patched libgreet" in rpm_file(libgreet, "/usr/lib/libgreet.so.1")

    # A failed build: one error naming the target and the spec, rpm's own error lines, where the
    # whole log is; nothing of it in dist/.
    failed = ws.pants("package", sources, "azl/SPECS/broken", check=False)
    assert failed.returncode != 0
    assert "rpmbuild failed for azl/SPECS/broken/broken.spec (target azl/SPECS/broken:broken)" in failed.stderr
    assert "error: Failed build dependencies:" in failed.stderr
    assert "nonexistent-devel is needed by broken-1.0-1.azl3.noarch" in failed.stderr
    assert "The whole log: " in failed.stderr and "keel/logs/azl.SPECS.broken" in failed.stderr
    assert not list(rpms.rglob("broken*"))


def spec(name: str, version: str, body: str = "", files: str = "%files\n") -> str:
    return (
        f"Summary: {name}\nName: {name}\nVersion: {version}\nRelease: 1%{{?dist}}\nLicense: MIT\n"
        f"BuildArch: noarch\n{body}\n%description\n{name}.\n{files}" + CHANGELOG.format(version=version)
    )


DEVEL = "%package devel\nSummary: d\nRequires: x = %{version}-%{release}\n%description devel\nd.\n"
TREE = {
    # Two specs of one directory build `x` and `x-devel`, at 2.0 and 1.0 (golang, golang-1.23).
    "SPECS/x/x.spec": spec("x", "2.0", DEVEL, "%files\n%files devel\n"),
    "SPECS/x/x-1.spec": spec("x", "1.0", DEVEL, "%files\n%files devel\n"),
    "SPECS/want-new/want-new.spec": spec("want-new", "1", "BuildRequires: x-devel >= 2"),
    "SPECS/want-old/want-old.spec": spec("want-old", "1", "BuildRequires: x-devel < 2"),
    "SPECS/want-any/want-any.spec": spec("want-any", "1", "BuildRequires: x"),
    # A subpackage of a big spec, built newer by a spec of its own (perl-Test-Harness).
    "SPECS/bigperl/bigperl.spec": spec(
        "bigperl", "5.38",
        "%package -n perl-Test-Thing\nVersion: 1.0\nSummary: t\n%description -n perl-Test-Thing\nt.\n",
        "%files\n%files -n perl-Test-Thing\n",
    ),
    "SPECS/perl-Test-Thing/perl-Test-Thing.spec": spec("perl-Test-Thing", "1.5"),
    "SPECS/use-thing/use-thing.spec": spec("use-thing", "1", "BuildRequires: perl-Test-Thing"),
    # Two targets offering one capability at one version.
    "SPECS/tie-a/tie-a.spec": spec("tie-a", "1", "Provides: mta = 1"),
    "SPECS/tie-b/tie-b.spec": spec("tie-b", "1", "Provides: mta = 1"),
    "SPECS/wants-mta/wants-mta.spec": spec("wants-mta", "1", "BuildRequires: mta"),
    # A macro file of a spec directory, which a spec of another directory needs to be read
    # at all (an undefined macro in a condition is a parse error).
    "SPECS/greetmacros/greetmacros.spec": spec("greetmacros", "1"),
    "SPECS/greetmacros/macros.greet": "%greet_major 2\n",
    "SPECS/uses-greet/uses-greet.spec": spec(
        "uses-greet", "1", "%if %{greet_major} >= 2\nProvides: greet-two\n%endif"
    ),
    # A toolchain package: Azure Linux builds other specs against its toolchain's make, which
    # the seed stands in for, not against the make spec.
    # A toolchain package the seed does not hold (Azure Linux's pyproject-rpm-macros) is met
    # by nothing, as a toolchain RPM that is not there, not by its spec.
    "toolkit/resources/manifests/package/toolchain_x86_64.txt": (
        "make-4.4-1.azl3.x86_64.rpm\ntc-only-1-1.azl3.noarch.rpm\n"
    ),
    "SPECS/make/make.spec": spec("make", "4.4"),
    "SPECS/tc-only/tc-only.spec": spec("tc-only", "1"),
    "SPECS/needs-make/needs-make.spec": spec("needs-make", "1", "BuildRequires: make\nBuildRequires: tc-only"),
}


def test_providers_are_chosen_by_version_and_importing_more_keeps_specs_readable(tmp_path: Path) -> None:
    checkout = write_checkout(tmp_path, TREE)
    ws = Workspace(tmp_path, azl_toolchain_files())

    # First a few, then more: the spec that needs another directory's macro file reads both
    # times (its macro file is in the root whether or not that directory is imported).
    ws.pants("azl-import", f"--checkout={checkout}", "--", "uses-greet")
    ws.pants("rpm-requires", "azl/SPECS/uses-greet")  # fails if rpmspec cannot read it
    first = [
        "x", "want-new", "want-old", "want-any", "bigperl", "perl-Test-Thing", "use-thing",
        "greetmacros", "uses-greet", "make", "tc-only", "needs-make",
    ]
    ws.pants("azl-import", f"--checkout={checkout}", "--", *first)
    assert "'rpm-macros/macros.greet',  # SPECS/greetmacros" in (ws.root / "azl/BUILD").read_text()
    assert 'provider_choice="highest-version"' in (ws.root / "azl/BUILD").read_text()
    deps = ws.pants("dependencies", "azl::")
    assert "leaves azl/SPECS" not in deps.stderr  # every spec read, none left out of the graph
    ws.pants("rpm-requires", "azl/SPECS/uses-greet")

    def dependencies(target: str) -> set[str]:
        out = ws.pants("dependencies", target).stdout.split()
        return {a for a in out if a.startswith("azl/SPECS/") and "azurelinux-rpm-macros" not in a}

    assert dependencies("azl/SPECS/want-new") == {"azl/SPECS/x:x"}
    assert dependencies("azl/SPECS/want-old") == {"azl/SPECS/x:x-1"}
    assert dependencies("azl/SPECS/want-any") == {"azl/SPECS/x:x"}
    assert dependencies("azl/SPECS/use-thing") == {"azl/SPECS/perl-Test-Thing:perl-Test-Thing"}

    requires = ws.pants("rpm-requires", "azl/SPECS/want-old", "azl/SPECS/use-thing", "azl/SPECS/needs-make").stdout
    assert "BuildRequires: make -> the root of azl:buildroot" in requires
    assert "BuildRequires: tc-only -> NOTHING provides it" in requires
    assert "toolchain_packages=[\n        'make', 'tc-only',\n    ]" in (ws.root / "azl/BUILD").read_text()
    assert (
        "BuildRequires: x-devel < 2 -> x-devel (azl/SPECS/x:x-1) "
        "(passed over: x-devel 2.0-1.azl3 (azl/SPECS/x:x))"
    ) in requires
    assert (
        "BuildRequires: perl-Test-Thing -> perl-Test-Thing (azl/SPECS/perl-Test-Thing:perl-Test-Thing) "
        "(passed over: perl-Test-Thing 1.0-1.azl3 (azl/SPECS/bigperl:bigperl))"
    ) in requires

    # The package that loses is still a target, read and resolved like the others.
    old = ws.pants("rpm-requires", "azl/SPECS/x:x-1").stdout
    assert "Requires of x-devel: x = 1.0-1.azl3 -> x (azl/SPECS/x:x-1)" in old

    graph = ws.pants("rpm-graph", "azl::")
    assert graph.returncode == 0

    # A tie: one error naming both targets, for the spec that needs the name.
    ws.pants("azl-import", f"--checkout={checkout}", "--", "tie-a", "tie-b", "wants-mta")
    tie = ws.pants("dependencies", "azl/SPECS/wants-mta", check=False)
    assert tie.returncode != 0
    assert "`mta` is provided at the same version by two targets" in tie.stderr
    assert "azl/SPECS/tie-a:tie-a" in tie.stderr and "azl/SPECS/tie-b:tie-b" in tie.stderr
    # ... and only for it: the rest of the tree still reads.
    assert dependencies("azl/SPECS/want-new") == {"azl/SPECS/x:x"}
    assert "leaves azl/SPECS/uses-greet" not in ws.pants("dependencies", "azl/SPECS/uses-greet").stderr


# A macro package whose macros.d file calls a Lua module of its own (Azure Linux's
# `%python_provide` requires `azl.srpm.python`), beside the vendor macros of write_checkout's.
LUA_MACROS_SPEC = """%global rcdir %{_libdir}/rpm/azl
Summary: Test distribution macros
Name: azurelinux-rpm-macros
Version: %{azl}.0
Release: 1%{?dist}
License: MIT
Source0: macros
Source1: rpmrc
Source2: macros.check
Source3: macros.lang
Source4: lang.lua
BuildArch: noarch
%description
The test distribution's rpm macros, one of them in Lua.
%package -n azurelinux-check-macros
Summary: check macros
%description -n azurelinux-check-macros
Check macros.
%prep
%setup -q -c -T
cp -p %{SOURCE0} %{SOURCE1} %{SOURCE2} %{SOURCE3} %{SOURCE4} .
%install
mkdir -p %{buildroot}{%{rcdir},%{_rpmconfigdir}/macros.d,%{_rpmluadir}/azl}
install -p -m 644 macros rpmrc %{buildroot}%{rcdir}/
install -p -m 644 macros.check macros.lang %{buildroot}%{_rpmconfigdir}/macros.d/
install -p -m 644 lang.lua %{buildroot}%{_rpmluadir}/azl/
%files
%{rcdir}/macros
%{rcdir}/rpmrc
%{_rpmconfigdir}/macros.d/macros.lang
%{_rpmluadir}/azl/lang.lua
%files -n azurelinux-check-macros
%{_rpmconfigdir}/macros.d/macros.check
""" + CHANGELOG.format(version="3.0")


def devel(*requires: str) -> str:
    return "%package devel\nSummary: d\n" + "".join(f"Requires: {r}\n" for r in requires) + "%description devel\nd.\n"


CLOSURE_TREE = {
    "SPECS/azurelinux-rpm-macros/azurelinux-rpm-macros.spec": LUA_MACROS_SPEC,
    "SPECS/azurelinux-rpm-macros/macros.lang": '%lang_name() %{lua: print(require("azl.lang").name(rpm.expand("%1")))}\n',
    "SPECS/azurelinux-rpm-macros/lang.lua": 'return { name = function(n) return "lang(" .. n .. ")" end }\n',
    "SPECS/want-new/want-new.spec": spec("want-new", "1", "BuildRequires: x-devel >= 2"),
    # x 2.0's devel Requires a capability of the third directory, named by the Lua macro; x
    # 1.0's (not chosen) one of another directory.
    "SPECS/x/x.spec": spec("x", "2.0", devel("x = %{version}-%{release}", "%{lang_name third}"), "%files\n%files devel\n"),
    "SPECS/x/x-1.spec": spec("x", "1.0", devel("x = %{version}-%{release}", "old-thing"), "%files\n%files devel\n"),
    "SPECS/old-dep/old-dep.spec": spec("old-dep", "1", "Provides: old-thing"),
    # Readable only with another directory's macro file; BuildRequires a fourth directory's
    # package, gcc, which no spec here provides (the seed's), and make, which a spec provides
    # and the seed too.
    "SPECS/third/third.spec": spec(
        "third", "1",
        "BuildRequires: fourth-devel\nBuildRequires: gcc\nBuildRequires: make\n%if %{greet_major} >= 2\n%package lib\nSummary: l\n"
        "Provides: %{lang_name third}\n%description lib\nl.\n%endif",
        "%files\n%files lib\n",
    ),
    "SPECS/greetmacros/greetmacros.spec": spec("greetmacros", "1"),
    "SPECS/greetmacros/macros.greet": "%greet_major 2\n",
    "SPECS/fourth/fourth.spec": spec("fourth", "1", devel(), "%files\n%files devel\n"),
    "SPECS/make/make.spec": spec("make", "4.4"),
    # A newer fourth-devel, looked at only with --extended.
    "SPECS-EXTENDED/fourth-ext/fourth-ext.spec": spec("fourth-ext", "9", "Provides: fourth-devel = 9"),
    "SPECS/unrelated/unrelated.spec": spec("unrelated", "1", "BuildRequires: x"),
}


def test_with_build_requires_imports_what_the_build_needs(tmp_path: Path) -> None:
    checkout = write_checkout(tmp_path, CLOSURE_TREE)
    ws = Workspace(tmp_path, azl_toolchain_files())

    imported = ws.pants("azl-import", f"--checkout={checkout}", "--with-build-requires", "--", "want-new")
    assert "--with-build-requires: 4 more spec directories, for the builds of the 1 named" in imported.stdout
    for reason in (
        "x (SPECS/x, package x-devel 2.0-1.azl3 of x.spec) for BuildRequires: x-devel >= 2 of SPECS/want-new",
        "third (SPECS/third) for Requires: lang(third) of x-devel (SPECS/x/x.spec)",
        "fourth (SPECS/fourth) for BuildRequires: fourth-devel of SPECS/third",
        "make (SPECS/make) for BuildRequires: make of SPECS/third",
    ):
        assert f"\n  {reason}\n" in imported.stdout, imported.stdout
    assert "Imported 6 spec directories" in imported.stdout
    assert sorted(p.name for p in (ws.root / "azl/SPECS").iterdir()) == [
        "azurelinux-rpm-macros", "fourth", "make", "third", "want-new", "x",
    ]
    # A spec rpmspec cannot read is named, and the import goes on.
    assert "rpmspec cannot read 1 spec(s)" in imported.stderr and "SPECS/perl/perl.spec: error:" in imported.stderr

    # The stage the import wrote reads the specs as the import did: the same providers.
    deps = ws.pants("dependencies", "--transitive", "azl/SPECS/want-new")
    assert "leaves azl/SPECS" not in deps.stderr
    assert {a for a in deps.stdout.split() if a.startswith("azl/SPECS/") and "rpm-macros" not in a} == {
        "azl/SPECS/x:x", "azl/SPECS/third:third", "azl/SPECS/fourth:fourth", "azl/SPECS/make:make",
    }

    # With SPECS-EXTENDED, its newer fourth-devel is the one chosen; the rest is read from cache.
    extended = ws.pants(
        "azl-import", f"--checkout={checkout}", "--with-build-requires", "--extended", "--", "want-new"
    ).stdout
    assert "fourth-ext (SPECS-EXTENDED/fourth-ext) for BuildRequires: fourth-devel of SPECS/third" in extended
    assert "fourth (SPECS/fourth)" not in extended

    # --root-first: make is the seed's, so its directory stays out; the rest is what the root
    # lacks.
    shutil.rmtree(ws.root / "azl")
    root_first = ws.pants(
        "azl-import", f"--checkout={checkout}", "--with-build-requires", "--root-first", "--", "want-new"
    ).stdout
    assert "--with-build-requires: 3 more spec directories, for the builds of the 1 named (what the root" in root_first
    assert "fourth (SPECS/fourth) for BuildRequires: fourth-devel of SPECS/third" in root_first
    assert sorted(p.name for p in (ws.root / "azl/SPECS").iterdir()) == [
        "azurelinux-rpm-macros", "fourth", "third", "want-new", "x",
    ]

    # Without the flag, the import is what it always was.
    plain = ws.pants("azl-import", f"--checkout={checkout}", "--", "unrelated").stdout
    assert "--with-build-requires" not in plain and "Imported 2 spec directories" in plain
    alone = ws.pants("azl-import", f"--checkout={checkout}", "--root-first", "--", "unrelated", check=False)
    assert alone.returncode != 0 and "add `--with-build-requires`" in alone.stderr


# A python project the seed holds from Debian (six), built newer from a spec of the tree, and a
# spec that BuildRequires it: the build sees the RPM's version and only its metadata. Its files
# are listed one by one, not its metadata directory, as Azure Linux's python specs list them.
NEWER_SIX_TREE = {
    "SPECS/python-six/python-six.spec": """Summary: six, newer than the seed's
Name: python-six
Version: 99.0
Release: 1%{?dist}
License: MIT
BuildArch: noarch
%description
Newer six.
%package -n python3-six
Summary: six
%description -n python3-six
Newer six.
%install
dir=%{buildroot}/usr/lib/python3/dist-packages
mkdir -p $dir/six-99.0.dist-info
printf 'Metadata-Version: 2.1\\nName: six\\nVersion: 99.0\\n' > $dir/six-99.0.dist-info/METADATA
printf 'six\\n' > $dir/six-99.0.dist-info/top_level.txt
printf 'def newer(): return 99\\n' > $dir/six.py
%files -n python3-six
/usr/lib/python3/dist-packages/six.py
/usr/lib/python3/dist-packages/six-99.0.dist-info/METADATA
/usr/lib/python3/dist-packages/six-99.0.dist-info/top_level.txt
""" + CHANGELOG.format(version="99.0"),
    "SPECS/uses-six/uses-six.spec": """Summary: Builds with the newer six
Name: uses-six
Version: 1.0
Release: 1%{?dist}
License: MIT
BuildArch: noarch
BuildRequires: python3-six >= 99
%description
Checks which six it builds with.
%build
python3 -c 'import importlib.metadata as m, six; assert m.version("six") == "99.0", m.version("six"); assert six.newer() == 99'
test "$(ls -d /usr/lib/python3/dist-packages/six-*-info | wc -l)" = 1
%install
mkdir -p %{buildroot}%{_datadir}/uses-six
echo ok > %{buildroot}%{_datadir}/uses-six/ok
%files
%{_datadir}/uses-six
""" + CHANGELOG.format(version="1.0"),
}


def test_a_python_project_built_newer_than_the_seeds_replaces_its_metadata(tmp_path: Path) -> None:
    checkout = write_checkout(tmp_path, NEWER_SIX_TREE)
    ws = Workspace(tmp_path, azl_toolchain_files())
    ws.pants("azl-import", f"--checkout={checkout}", "--", "python-six", "uses-six")
    built = ws.pants("package", "azl/SPECS/uses-six")
    assert list((ws.root / "dist").rglob("uses-six-1.0-1.azl3.noarch.rpm")), built.stderr
