"""One broken spec among many: what an import of thousands of specs meets when rpmspec cannot
read one of them in keel's root (Azure Linux's `BuildRequires: %{__perl}`, a macro its build
root defines and keel's does not), or when one signatures file is malformed.

The rest of the workspace must not notice, except for a warning naming the broken spec: targets
that do not need it build, with the same bytes and cache keys as in a workspace without it, and a
requirement that nothing meets says that the broken spec might have provided it.
"""
from __future__ import annotations

import re
from pathlib import Path

from tests.integration.chain_workspace import CHANGELOG, OTHER, PROGRAM, built, report, workspace

BROKEN = "specs/broken:broken"
BAD_SIGNATURES = "specs/badsig:badsig"
NEEDY = "specs/needy:needy"
NEEDY_IMAGE = "images/needy:disk"

# rpmspec's words for the broken spec, and keel's for leaving it out.
PARSE_ERROR = "Dependency tokens must begin with alpha-numeric"
LEFT_OUT = f"leaves {BROKEN} out"
MIGHT_HAVE = f"one of them might have provided it: {BROKEN}"


def spec(name: str, body: str) -> str:
    return (
        f"Name: {name}\nVersion: 1.0\nRelease: 1%{{?dist}}\nSummary: {name}\nLicense: MIT\n"
        f"BuildArch: noarch\n{body}%description\n{name}\n%install\nmkdir -p %{{buildroot}}/usr/share/{name}\n"
        f"%files\n/usr/share/{name}\n" + CHANGELOG
    )


BROKEN_FILES = {
    # Meant to build broken-tools, which the two "needy" targets below want.
    "specs/broken/BUILD": "rpm_package()",
    "specs/broken/broken.spec": spec("broken", "BuildRequires: %{__perl}\n%package -n broken-tools\nSummary: t\n"
                                     "%description -n broken-tools\nt\n%files -n broken-tools\n"),
    # Readable, with a signatures file that is not JSON: only its own build reads that file.
    "specs/badsig/BUILD": "rpm_package()",
    "specs/badsig/badsig.spec": spec("badsig", "Source0: badsig-data.txt\n"),
    "specs/badsig/badsig-data.txt": "data\n",
    "specs/badsig/badsig.signatures.json": '{"Signatures": {"badsig-data.txt": ',
    "specs/needy/BUILD": "rpm_package()",
    "specs/needy/needy.spec": spec("needy", "BuildRequires: broken-tools\n"),
    "images/needy/BUILD": 'disk_image(name="disk", format="raw", size="64M", packages=["broken-tools"])\n',
}


def warnings_naming(stderr: str, address: str) -> list[str]:
    return [line for line in stderr.splitlines() if "[WARN]" in line and address in line]


def test_one_broken_spec_does_not_stop_the_rest(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    ws.write(BROKEN_FILES)

    # Packages that do not need the broken spec build, and the run says once what was left out.
    run = ws.pants("package", PROGRAM, OTHER, cache="shared")
    assert built(ws) >= {PROGRAM, OTHER}, run.stderr
    assert PARSE_ERROR in run.stderr and LEFT_OUT in run.stderr, run.stderr
    assert len(re.findall(re.escape(LEFT_OUT), run.stderr)) == 1, run.stderr
    assert not any(BAD_SIGNATURES in w for w in run.stderr.split("[WARN]")[1:]), (
        "a malformed signatures file is its own target's error, not the workspace's"
    )
    with_broken = ws.dist_hashes()

    # A BuildRequires nothing readable provides: rpmbuild's own error, and the broken spec named.
    needy = ws.pants("package", NEEDY, cache="shared", check=False)
    assert needy.returncode != 0
    assert "Failed build dependencies" in needy.stderr and "broken-tools" in needy.stderr, needy.stderr
    assert MIGHT_HAVE in needy.stderr, needy.stderr
    requires = ws.pants("rpm-requires", NEEDY, cache="shared")
    assert "BuildRequires: broken-tools -> NOTHING provides it" in requires.stdout, requires.stdout
    assert MIGHT_HAVE in requires.stderr, requires.stderr

    # An image package nothing readable provides.
    image = ws.pants("package", NEEDY_IMAGE, cache="shared", check=False)
    assert image.returncode != 0
    assert "lists 'broken-tools', but no rpm_package builds or provides it" in image.stderr, image.stderr
    assert MIGHT_HAVE in image.stderr, image.stderr

    # The broken targets themselves: their own errors, each with its file and its fix.
    broken = ws.pants("package", BROKEN, cache="shared", check=False)
    assert broken.returncode != 0
    assert f"specs/broken/broken.spec (target {BROKEN}): rpmspec cannot parse it" in broken.stderr, broken.stderr
    assert f"`./pants package :: -{BROKEN}`" in broken.stderr, broken.stderr
    badsig = ws.pants("package", BAD_SIGNATURES, cache="shared", check=False)
    assert badsig.returncode != 0
    assert "specs/badsig/badsig.signatures.json is not valid JSON" in badsig.stderr, badsig.stderr

    # What the broken spec's error proposes: the whole tree without the targets that cannot build.
    rest = ws.pants(
        "package", "::", f"-{BROKEN}", f"-{BAD_SIGNATURES}", f"-{NEEDY}", f"-{NEEDY_IMAGE}", cache="shared"
    )
    assert {"images/greeter:disk", PROGRAM, OTHER} <= set(report(ws)), rest.stderr

    # Without the broken inputs, the same packages come from the cache with the same bytes: the
    # broken spec was in no other package's key, and nothing it caused was kept.
    for path in BROKEN_FILES:
        (ws.root / path).unlink()
    (ws.root / "dist").rename(ws.root.parent / "dist-with-broken")
    again = ws.pants("package", PROGRAM, OTHER, cache="shared")
    assert ws.dist_hashes() == with_broken
    assert not built(ws) & {PROGRAM, OTHER}, again.stderr
    assert not warnings_naming(again.stderr, BROKEN), again.stderr
