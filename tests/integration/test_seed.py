"""Seeding the package stage from a published repository (`[rpm].seed`): packages whose RPMs the
repository holds, built from the inputs their build would have now, are taken from it; an edited
spec is built, and so are the packages built against it.

The small distribution of chain_workspace.py, published as a signed rpm_repository: signing
changes every RPM's bytes, so the RPMs a seeded build ends up with can only have come from the
repository, not from the local store that built them (which holds them unsigned). Runs share the
test file's cache, like a user's runs: seeded packages never ask it for anything."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from tests.image.spdx_check import spdx_problems
from tests.integration.chain_workspace import (
    IMAGE,
    LIB_SPEC,
    LIBRARY,
    OTHER,
    PROGRAM,
    report,
    workspace,
)
from tests.integration.signing_key import kill_agent, make_key

REPOSITORY = (
    "rpm_repository(name='seed', packages=['//specs/libgreet', '//specs/greet', '//specs/other'], "
    "base_url='file:///srv/seed')\n"
)
PACKAGES = {LIBRARY, PROGRAM, OTHER}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_published_repository_seeds_the_package_stage(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    fingerprint = make_key(home, "keel seed test")
    ws = workspace(tmp_path)
    ws.write({"repos/BUILD": REPOSITORY})
    published = tmp_path / "published"
    try:
        ws.pants("package", "repos:seed", f"--rpm-sign-key={fingerprint}", f"--rpm-sign-gnupg-home={home}")
    finally:
        kill_agent(home)
    shutil.copytree(ws.root / "dist/repos/seed", published)

    # The repository says what each RPM was built from; signing gave other bytes than rpmbuild's.
    manifest = json.loads((published / "keel-seed.json").read_text())
    assert manifest["format"] == "keel-seed/1"
    rpms = sorted(p.name for p in (published / "Packages").iterdir())
    assert sorted(manifest["Signatures"]) == sorted(manifest["BuiltFrom"]) == rpms and len(rpms) == 4
    for name in rpms:
        assert manifest["Signatures"][name] == sha256(published / "Packages" / name)
        assert manifest["BuiltFrom"][name]["sha256"] != manifest["Signatures"][name]
    other_rpm = next(n for n in rpms if n.startswith("other-"))
    greet_rpm = next(n for n in rpms if n.startswith("greet-"))

    def package(*targets: str, seed: Path = published, check: bool = True):
        shutil.rmtree(ws.root / "dist", ignore_errors=True)
        return ws.pants("package", *targets, f"--rpm-seed={seed}", check=check)

    # An RPM whose bytes the seed does not pin is an error that says what to do (a missing or
    # corrupt seed: tests/rpm/test_seed.py).
    tampered = tmp_path / "tampered"
    shutil.copytree(published, tampered)
    with (tampered / "Packages" / other_rpm).open("ab") as f:
        f.write(b"tampered")
    failed = package("specs/other", seed=tampered, check=False)
    assert failed.returncode != 0
    assert f"cannot get the seeded RPM {other_rpm}, pinned by {tampered}/keel-seed.json" in failed.stderr
    assert "wrong content" in failed.stderr and "package the repository again" in failed.stderr

    # Nothing changed: every published package is seeded, with the repository's bytes, and the
    # image is made of them.
    package(IMAGE, "specs/other")
    obtained = report(ws)
    assert {t for t in PACKAGES if obtained[t] == "seeded"} == PACKAGES
    dist = ws.root / "dist"
    assert sha256(next(dist.glob(f"RPMS/*/{other_rpm}"))) == manifest["Signatures"][other_rpm]
    assert not list(dist.glob("SRPMS/*")), "a seed holds binary RPMs only"
    sbom_path = next(dist.glob("images/greeter/*.spdx.json"))
    assert spdx_problems(sbom_path) == []
    sbom = json.loads(sbom_path.read_text())
    in_image = {p["name"]: p["checksums"][0]["checksumValue"] for p in sbom["packages"]}
    assert in_image["greet"] == manifest["Signatures"][greet_rpm]

    # The library's spec changed: the library and the program built against it go through
    # rpmbuild (built, or found in the cache of an earlier run of this test); the unrelated
    # package stays seeded.
    ws.write({"specs/libgreet/libgreet.spec": LIB_SPEC.format(release=2)})
    package(IMAGE, "specs/other")
    obtained = report(ws)
    assert {t for t in PACKAGES if obtained[t] == "seeded"} == {OTHER}
    assert {obtained[LIBRARY], obtained[PROGRAM]} <= {"built", "local cache"}
    assert obtained[IMAGE] in ("built", "local cache")

    # A comment in the library's spec: the library is built again, its RPMs come out as the seed
    # recorded them built, so the program built against them is still seeded.
    ws.write({"specs/libgreet/libgreet.spec": "# Reviewed.\n" + LIB_SPEC.format(release=1)})
    result = package("specs/greet", "specs/libgreet")
    obtained = report(ws)
    assert obtained[LIBRARY] in ("built", "local cache")
    assert obtained[PROGRAM] == "seeded"
    assert f"{LIBRARY} is built, not seeded: {published} has its RPMs, built from other inputs" in result.stderr
