"""What an edit rebuilds: exactly the RPMs and images it affects, everything else from cache.

One workspace (tests/integration/chain_workspace.py), built once, then edited step by step; after
each edit the build report says which outputs were built. Real Pants runs sharing one cache that
starts empty: a cache kept from an earlier run of this test would already hold every step."""
from __future__ import annotations

from pathlib import Path

from tests.integration.chain_workspace import (
    IMAGE,
    LIB_SPEC,
    LIBRARY,
    MARKER_SPEC,
    OTHER,
    PROGRAM,
    TARGETS,
    TOOLCHAIN,
    image_build,
    loud_patch,
    rpmbuilds,
    built,
    report,
    workspace,
    write_tarball,
)


def test_each_edit_rebuilds_exactly_what_it_affects(tmp_path: Path) -> None:
    ws = workspace(tmp_path)

    def package() -> tuple[set[str], set[str]]:
        """(outputs built, rpmbuild processes run) of one `./pants package` of everything."""
        result = ws.pants("package", *TARGETS, cache="matrix")
        return built(ws), rpmbuilds(result)

    # A first build: everything. The toolchain package is in the report as well: the program
    # depends on it (BuildRequires), so it is one of the RPMs the image's closure is taken from.
    everything = {TOOLCHAIN, LIBRARY, PROGRAM, OTHER, IMAGE}
    assert package() == (everything, {TOOLCHAIN, LIBRARY, PROGRAM, OTHER})

    # Nothing changed: nothing runs.
    assert package() == (set(), set())

    # The library's Release: the library, the program built against it, the image.
    ws.write({"specs/libgreet/libgreet.spec": LIB_SPEC.format(release=2)})
    assert package() == ({LIBRARY, PROGRAM, IMAGE}, {LIBRARY, PROGRAM})

    # The program's source tarball replaced (a new sha256): the program and the image.
    write_tarball(ws, "!")
    assert package() == ({PROGRAM, IMAGE}, {PROGRAM})

    # The library's patch edited.
    ws.write({"specs/libgreet/greet-loud.patch": loud_patch("HELLO THERE")})
    assert package() == ({LIBRARY, PROGRAM, IMAGE}, {LIBRARY, PROGRAM})

    # A toolchain package changed: the worker root changes, so every RPM is built again; the
    # program records the toolchain, so the image changes too.
    ws.write({"specs/tc-marker/tc-marker.spec": MARKER_SPEC.format(release=2)})
    assert package() == (everything, {TOOLCHAIN, LIBRARY, PROGRAM, OTHER})

    # An image field: only the image.
    ws.write({"images/greeter/BUILD": image_build(hostname="greeter2")})
    assert package() == ({IMAGE}, set())

    # A comment in the library's spec: its rpmbuild runs again (the spec is an input), but the
    # RPMs come out byte-identical, so neither the program nor the image is built again.
    spec = ws.root / "specs/libgreet/libgreet.spec"
    spec.write_text("# Reviewed: nothing to change.\n" + spec.read_text())
    assert package() == ({LIBRARY}, {LIBRARY})
    assert report(ws)[IMAGE] == "local cache"
