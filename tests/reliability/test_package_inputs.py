"""Bad inputs of the package stage: specs, their sources and signatures, what they require.
(tests/reliability/catalogue.py says how each case is checked.)"""
from __future__ import annotations

import json
from typing import Iterator

import pytest

from tests.integration.chain_workspace import workspace
from tests.reliability.catalogue import Case, Catalogue, catalogue, replace

GREET = "specs/greet/greet.spec"
OTHER = "specs/other/other.spec"


CASES = [
    Case(
        "no-name",
        "a spec without `Name:`",
        {OTHER: replace("Name: other\n", "")},
        "specs/other",
        "specs/other/other.spec (target specs/other:other): rpmspec cannot parse it",
        names=("Fix the spec",),
        also=("Name field must be present",),
    ),
    Case(
        "unparsable",
        "a spec rpmspec cannot parse (`%if` without `%endif`)",
        {OTHER: replace("%install\n", "%if 0%{?keel}\n%install\n")},
        "specs/other",
        "specs/other/other.spec (target specs/other:other): rpmspec cannot parse it",
        names=("Fix the spec",),
        also=("Unclosed %if",),
    ),
    Case(
        "macro-error",
        "a macro that fails (`%{error:...}`)",
        {OTHER: replace("%description\n", "%{error:other needs the frobnicate macro}\n%description\n")},
        "specs/other",
        "specs/other/other.spec (target specs/other:other): rpmspec cannot parse it",
        names=("Fix the spec",),
        also=("other needs the frobnicate macro",),
    ),
    Case(
        "no-files",
        "a spec with no `%files`",
        {OTHER: lambda text: text[: text.index("%files")] + text[text.index("%changelog"):]},
        "specs/other",
        "rpmbuild failed for specs/other/other.spec (target specs/other:other)",
        also=("Installed (but unpackaged) file(s) found",),
    ),
    Case(
        "missing-source",
        "a local source that is not there",
        {GREET: replace("Source0: greet-1.0.tar.gz\n", "Source0: greet-1.0.tar.gz\nSource1: missing-1.0.tar.gz\n")},
        "specs/greet",
        "specs/greet/greet.spec (target specs/greet:greet): source missing-1.0.tar.gz is neither next to the spec "
        "nor pinned in specs/greet/greet.signatures.json",
        names=("Add the file to the spec's directory, or add",),
    ),
    Case(
        "wrong-sha256",
        "a source whose sha256 is not the pinned one",
        {"specs/greet/greet.signatures.json": json.dumps({"signatures": {"greet-1.0.tar.gz": "0" * 64}})},
        "specs/greet",
        "specs/greet/greet.spec (target specs/greet:greet): specs/greet/greet-1.0.tar.gz does not match "
        "specs/greet/greet.signatures.json",
        names=("Restore the file, or record the new sha256",),
    ),
    Case(
        "malformed-signatures",
        "a signatures file that is not JSON",
        {"specs/greet/greet.signatures.json": '{"signatures": {"greet-1.0.tar.gz": '},
        "specs/greet",
        "specs/greet/greet.spec (target specs/greet:greet): specs/greet/greet.signatures.json is not valid JSON",
        names=("It must look like",),
    ),
    Case(
        "unpinned-source",
        "a remote source pinned nowhere",
        {OTHER: replace("BuildArch: noarch\n", "BuildArch: noarch\nSource9: https://upstream.invalid/other-1.0.tar.gz\n")},
        "specs/other",
        "specs/other/other.spec (target specs/other:other): source other-1.0.tar.gz is neither next to the spec "
        "nor pinned in specs/other/other.signatures.json",
        names=("Add the file to the spec's directory, or add",),
    ),
    Case(
        "unprovided-buildrequires",
        "`BuildRequires:` that nothing provides",
        {OTHER: replace("BuildArch: noarch\n", "BuildArch: noarch\nBuildRequires: unicorn-devel\n")},
        "specs/other",
        "rpmbuild failed for specs/other/other.spec (target specs/other:other)",
        names=("A BuildRequires is met by no rpm_package and not by the root of toolchain:official: add a spec",),
        also=("unicorn-devel is needed by other-1.0-1.t1.noarch",),
    ),
    Case(
        "two-providers",
        "two specs that provide one `BuildRequires:`",
        {
            "specs/other/other.spec": replace("BuildArch: noarch\n", "BuildArch: noarch\nProvides: libgreet-devel\n"),
        },
        "specs/greet",
        "specs/greet/greet.spec (target specs/greet:greet): `libgreet-devel` is provided by two targets",
        names=("Keep one Provides",),
    ),
    Case(
        "cycle",
        "specs that BuildRequire each other",
        {"specs/libgreet/libgreet.spec": replace("Source0: greet.c\n", "Source0: greet.c\nBuildRequires: greet\n")},
        "specs/greet",
        "BuildRequires cycle: specs/greet:greet (specs/greet/greet.spec) -> specs/libgreet:libgreet",
        names=("drop one BuildRequires",),
    ),
    Case(
        "rpmbuild-fails",
        "a `%build` that fails",
        {OTHER: replace("%install\n", "%build\necho 'other: cannot build here' >&2; exit 1\n%install\n")},
        "specs/other",
        "rpmbuild failed for specs/other/other.spec (target specs/other:other)",
        names=("The whole log: ",),
        also=("other: cannot build here",),
    ),
    Case(
        "check-fails",
        "a `%check` that fails",
        {OTHER: replace("%files\n", "%check\ntest -s %{buildroot}%{_datadir}/other/missing\n%files\n")},
        "specs/other",
        "rpmbuild failed for specs/other/other.spec (target specs/other:other)",
        names=("The whole log: ",),
        also=("%check",),
    ),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[Catalogue]:
    ws = workspace(tmp_path_factory.mktemp("package"))
    yield from catalogue(ws, ("specs::",))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_package_input_is_one_clear_error_and_nothing_wrong_is_kept(built: Catalogue, case: Case) -> None:
    built.check(case)

