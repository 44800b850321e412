"""Specs, toolchain stages and images are one Pants graph: `dependencies`, `dependents` and
`--changed-since`/`--changed-dependents` follow spec -> RPM -> image and toolchain -> everything
built in it, in a git workspace as a team's CI has one.

The workspace is chain_workspace's small distribution plus a second image family with its own
motd, so an image file edit can be told apart from a package edit.
"""
from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

from tests.pants_workspace import RULES_ROOT
from tests.integration.chain_workspace import (
    IMAGE,
    LIBRARY,
    OTHER,
    PROGRAM,
    TOOLCHAIN,
    image_build,
    workspace,
)

OTHER_IMAGE = "images/other:disk"
PACKAGE_SET = "sets:extra"
STAGES = {"toolchain:bootstrap", "toolchain:official", "toolchain:imager"}


def git(ws, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=keel tests", "-c", "user.email=t@localhost", *args],
        cwd=ws.root, check=True, capture_output=True,
    )


def test_changed_since_selects_what_a_change_reaches(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    ws.write(
        {
            "images/greeter/BUILD": image_build().replace(")\n", ', files={"/etc/motd": "motd"})\n'),
            "images/greeter/motd": "welcome to greeter\n",
            # Its packages through a package_set defined elsewhere.
            "sets/BUILD": 'package_set(name="extra", packages=["other"])\n',
            "images/other/BUILD": (
                'disk_image(name="disk", format="raw", size="64M", packages=["//sets:extra"], '
                'files={"/etc/motd": "motd"})\n'
            ),
            "images/other/motd": "welcome to other\n",
        }
    )
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "a small distribution")

    def lines(*args: str) -> set[str]:
        return set(ws.pants(*args).stdout.split())

    # The whole chain, from an image down to the stages.
    assert lines("dependencies", "--transitive", IMAGE) == {
        LIBRARY, PROGRAM, TOOLCHAIN, *STAGES,
    }
    assert lines("dependencies", OTHER_IMAGE) == {PACKAGE_SET, OTHER, "toolchain:imager"}
    assert lines("dependencies", PACKAGE_SET) == {OTHER}
    assert lines("dependencies", "specs/greet") == {LIBRARY, TOOLCHAIN, "toolchain:official"}
    assert lines("dependents", "specs/libgreet") == {PROGRAM}
    assert lines("dependents", "--transitive", "specs/libgreet") == {PROGRAM, IMAGE}
    # A toolchain package: its stage, and through it everything built in that root.
    assert lines("dependents", "--transitive", "specs/tc-marker") >= {
        "toolchain:official", LIBRARY, PROGRAM, OTHER, PACKAGE_SET, IMAGE, OTHER_IMAGE,
    }

    def changed() -> set[str]:
        selected = lines("--changed-since=HEAD", "--changed-dependents=transitive", "list")
        git(ws, "checkout", "-q", "--", ".")
        return selected

    # A spec: that spec, the specs that BuildRequire it, the images that hold any of them.
    spec = ws.root / "specs/libgreet/libgreet.spec"
    spec.write_text(spec.read_text().replace("A shared library.", "A shared library, edited."))
    assert changed() == {LIBRARY, PROGRAM, IMAGE}

    # An image's own file: that image only.
    (ws.root / "images/other/motd").write_text("edited\n")
    assert changed() == {OTHER_IMAGE}

    # A package set: the set and the images that use it.
    sets = ws.root / "sets/BUILD"
    sets.write_text(sets.read_text().replace('["other"]', '["other", "greet"]'))
    assert changed() == {PACKAGE_SET, OTHER_IMAGE}

    # A package of the toolchain stage: the stage and everything built in it, images included.
    marker = ws.root / "specs/tc-marker/tc-marker.spec"
    marker.write_text(marker.read_text().replace("Stands in", "Still stands in"))
    assert changed() == {
        TOOLCHAIN, "toolchain:official", LIBRARY, PROGRAM, OTHER, PACKAGE_SET, IMAGE, OTHER_IMAGE,
    }


def test_rpm_graph_draws_specs_packages_stages_and_images(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    # Two specs that Require each other (a cycle, normal in a distribution) and a BuildRequires
    # nothing meets.
    loop = "Name: {name}\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n{extra}\n%description\nd\n%files\n"
    ws.write(
        {
            "specs/loop-a/BUILD": "rpm_package()",
            "specs/loop-a/loop-a.spec": loop.format(name="loop-a", extra="Requires: loop-b\nBuildRequires: no-such-devel"),
            "specs/loop-b/BUILD": "rpm_package()",
            "specs/loop-b/loop-b.spec": loop.format(name="loop-b", extra="Requires: loop-a"),
            # A package name nothing provides: the build fails on it; the picture marks it.
            "images/loops/BUILD": 'disk_image(name="disk", format="raw", size="64M", packages=["loop-a", "no-such-package"])\n',
        }
    )
    out = ws.pants("rpm-graph", IMAGE, "images/loops:disk").stdout
    assert "Wrote dist/rpm-graph/graph.{dot,svg,json}" in out and "1 cycles, 2 unresolved" in out
    graph = json.loads((ws.root / "dist/rpm-graph/graph.json").read_text())
    kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
    assert kinds[IMAGE] == "disk_image" and kinds[PROGRAM] == "rpm_package"
    assert kinds["package:libgreet-devel"] == "binary_package"
    assert {k for k, v in kinds.items() if v == "toolchain_stage"} == STAGES
    edges = {(e["from"], e["to"], e["kind"]) for e in graph["edges"]}
    assert {
        (IMAGE, "package:greet", "installs"),
        ("package:greet", PROGRAM, "built_by"),
        (PROGRAM, LIBRARY, "BuildRequires"),
        (PROGRAM, "toolchain:official", "built_in"),
        ("toolchain:official", TOOLCHAIN, "stage_package"),
        ("toolchain:official", "toolchain:bootstrap", "base"),
        (IMAGE, "toolchain:imager", "assembled_in"),
    } <= edges
    assert graph["cycles"] == [["specs/loop-a:loop-a", "specs/loop-b:loop-b", "specs/loop-a:loop-a"]]
    assert graph["unresolved"] == [
        {"target": "images/loops:disk", "requirement": "no-such-package", "kind": "packages"},
        {"target": "specs/loop-a:loop-a", "requirement": "no-such-devel", "kind": "BuildRequires"},
    ]
    assert ("images/loops:disk", "package:loop-a", "installs") in edges
    # Graphviz writes some characters as entities (`-` as `&#45;`).
    svg = html.unescape((ws.root / "dist/rpm-graph/graph.svg").read_text())
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for shown in (IMAGE, "specs/greet/greet.spec", "toolchain:official", "NOTHING provides no-such-devel"):
        assert shown in svg

    # The language server (build-support/build-lsp) reads this file: its loader takes the real
    # goal's output as it is.
    load = (
        "import sys; from pathlib import Path; from keel_lsp import graph; "
        "g = graph.read(Path(sys.argv[1])); "
        "print(g.packages['greet'], g.targets[g.packages['greet']].spec, "
        "sorted(d for d, _ in g.dependents[g.packages['libgreet']]))"
    )
    read = subprocess.run(
        [sys.executable, "-c", load, str(ws.root / "dist/rpm-graph/graph.json")],
        env={"PYTHONPATH": str(RULES_ROOT / "build-support" / "lsp")},
        capture_output=True, text=True, check=True,
    )
    assert read.stdout.split() == [PROGRAM, "specs/greet/greet.spec", f"['{PROGRAM}']"]
