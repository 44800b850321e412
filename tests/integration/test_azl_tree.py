"""Azure Linux's tree read as one graph: where several specs build or provide one package, a
requirement goes where Azure Linux's toolkit sends it (the highest version that meets its
conditions), a tie is refused, and importing more spec directories never makes a spec unreadable
that read before. On a checkout of the test's own, shaped like Azure Linux's (golang beside
golang-1.23 in one directory; perl building perl-Test-Harness that a spec of its own builds
newer)."""
from __future__ import annotations

from pathlib import Path

from tests.integration.azl_checkout import CHANGELOG, write_checkout
from tests.pants_workspace import Workspace, azl_toolchain_files


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
}


def test_providers_are_chosen_by_version_and_importing_more_keeps_specs_readable(tmp_path: Path) -> None:
    checkout = write_checkout(tmp_path)
    for path, content in TREE.items():
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        (checkout / path).write_text(content)
    ws = Workspace(tmp_path, azl_toolchain_files())

    # First a few, then more: the spec that needs another directory's macro file reads both
    # times (its macro file is in the root whether or not that directory is imported).
    ws.pants("azl-import", f"--checkout={checkout}", "--", "uses-greet")
    ws.pants("rpm-requires", "azl/SPECS/uses-greet")  # fails if rpmspec cannot read it
    first = [
        "x", "want-new", "want-old", "want-any", "bigperl", "perl-Test-Thing", "use-thing",
        "greetmacros", "uses-greet",
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

    requires = ws.pants("rpm-requires", "azl/SPECS/want-old", "azl/SPECS/use-thing").stdout
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
