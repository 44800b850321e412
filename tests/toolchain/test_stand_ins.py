"""Debian stand-ins, end to end on a keel-shaped workspace: `toolchain-lock` on a bootstrap stage
with `stand_ins` finds what the packages built on it require and only a target without sources
(or nothing) provides, looks each up in the host's Debian indexes, and locks the package into
the seed; rpm-requires names the stand-in, and the package that needed it builds."""
from __future__ import annotations

import json
from pathlib import Path

from tests.pants_workspace import Workspace, toolchain_files

CHANGELOG = "%changelog\n* Mon Dec 07 2026 keel tests <t@localhost> - 1.0-1\n- test\n"


def spec(name: str, requires: tuple[str, ...], build: str, preamble: str = "") -> str:
    return (
        f"Name: {name}\nVersion: 1.0\nRelease: 1%{{?dist}}\nSummary: {name}\nLicense: MIT\n"
        "BuildArch: noarch\n" + preamble
        + "".join(f"BuildRequires: {r}\n" for r in requires)
        + f"%description\n{name}.\n%build\n{build}\n"
        f"%install\nmkdir -p %{{buildroot}}%{{_datadir}}/{name}\n"
        f"echo {name} > %{{buildroot}}%{{_datadir}}/{name}/{name}\n"
        f"%files\n%{{_datadir}}/{name}\n" + CHANGELOG
    )


def files() -> dict[str, str]:
    stages = toolchain_files()
    stages["toolchain/BUILD"] = stages["toolchain/BUILD"].replace(
        "toolchain_stage(name='bootstrap', ",
        # A name no rule finds, named by hand.
        "toolchain_stage(name='bootstrap', stand_ins=True, "
        "stand_in_packages={'keel-test-tree-cmd': 'tree'}, ",
        1,
    )
    return {
        **stages,
        # app builds with a perl module the seed lacks, `less`, which only `less` (a target
        # whose tarball nobody has) would build, and `tree` by a name only the stage's
        # stand_in_packages knows; it checks all three are there.
        "specs/app/app.spec": spec(
            "app", ("perl(Test::Exception)", "less", "keel-test-tree-cmd"),
            "perl -MTest::Exception -e 1\nless --version | head -n 1\ntree --version",
        ),
        "specs/app/BUILD": "rpm_package()",
        "specs/less/less.spec": spec(
            "less", (), "true", preamble="Source0: https://example.invalid/less-%{version}.tar.gz\n"
        ),
        "specs/less/less.signatures.json": json.dumps({"Signatures": {"less-1.0.tar.gz": "0" * 64}}),
        "specs/less/BUILD": "rpm_package()",
        # odd needs a name no Debian package has: the lock says so and leaves it out.
        "specs/odd/odd.spec": spec("odd", ("keel-test-no-such-thing-devel",), "true"),
        "specs/odd/BUILD": "rpm_package()",
    }


def test_toolchain_lock_adds_debian_stand_ins_and_the_package_builds_with_them(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, files())
    locked = ws.pants("toolchain-lock", "toolchain:bootstrap")
    lock = json.loads((ws.root / "toolchain/seed.lock.json").read_text())
    assert lock["stand_ins"] == {
        "keel-test-tree-cmd": "tree",
        "less": "less",
        "perl(Test::Exception)": "libtest-exception-perl",
    }
    assert {"less", "libtest-exception-perl", "tree"} <= {p["name"] for p in lock["packages"]}
    assert "keel-test-no-such-thing-devel: needed by 1 buildable target" in locked.stdout
    # `requested` is still the stage's seed_packages: the lock stays valid for the stage.
    assert "libtest-exception-perl" not in lock["requested"]

    requires = ws.pants("rpm-requires", "specs/app").stdout
    lines = {line.split(" -> ")[0].strip(): line.split(" -> ", 1)[1] for line in requires.splitlines() if " -> " in line}
    assert lines["BuildRequires: less"].endswith(
        ": Debian stand-in less (passed over: less 1.0-1.t1 (specs/less:less))"
    ), requires
    assert lines["BuildRequires: perl(Test::Exception)"].endswith(": Debian stand-in libtest-exception-perl"), requires
    assert lines["BuildRequires: keel-test-tree-cmd"].endswith(": Debian stand-in tree"), requires
    deps = ws.pants("dependencies", "specs/app").stdout.split()
    assert "specs/less:less" not in deps

    ws.pants("package", "specs/app")
    assert list((ws.root / "dist").rglob("app-1.0-1.t1.noarch.rpm"))

    # Locking again finds the same needs (the root now provides them only through the stand-ins).
    ws.pants("toolchain-lock", "toolchain:bootstrap")
    assert json.loads((ws.root / "toolchain/seed.lock.json").read_text())["stand_ins"] == lock["stand_ins"]
