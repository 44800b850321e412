"""Visibility between team directories: the repository's teams/BUILD rules, applied by real Pants
(pants.backend.experimental.visibility) in a throw-away workspace with two teams.

    teams/a/...             team a: uses core, its own package, team b's public targets
    teams/b/specs/b-secret  team b's private package (rpm_package, binary package b-secret)
    teams/b/public/b-tools  team b's public package (under public/)
    teams/b:shared          team b's target tagged "public"
    specs/core-pkg          keel core

A dependency on another team's private target fails `./pants dependencies` (the cheapest goal
that resolves dependencies, and so validates them) with Pants' error naming both targets and the
rule, and `./pants package` of the image or spec too (keel's package goals resolve the target's
dependencies for that: rules/core/dependency_rules.py), before anything is built.
Without the rules in teams/BUILD every one of these dependencies is allowed, and the test fails.
"""
from __future__ import annotations

from pathlib import Path

from tests.pants_workspace import PANTS_TOML, RULES_ROOT, Workspace, pex_cli_config

BACKEND = "pants.backend.experimental.visibility"
TEAMS_BUILD = RULES_ROOT / "teams" / "BUILD"
SECRET = "teams/b/specs/b-secret:b-secret"

CHANGELOG = "%changelog\n* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1\n- test\n"


def spec(name: str, *requires: str) -> str:
    return (
        f"Name: {name}\nVersion: 1.0\nRelease: 1%{{?dist}}\nSummary: {name}\nLicense: MIT\n"
        "BuildArch: noarch\n"
        + "".join(f"BuildRequires: {r}\n" for r in requires)
        + f"%description\n{name}.\n%install\nmkdir -p %{{buildroot}}%{{_datadir}}/{name}\n"
        f"echo {name} > %{{buildroot}}%{{_datadir}}/{name}/x\n%files\n%{{_datadir}}/{name}\n"
        + CHANGELOG
    )


FILES = {
    # The repository's rules, unchanged (teams:visibility-rules).
    "teams/BUILD": TEAMS_BUILD.read_text(),
    "specs/core-pkg/BUILD": "rpm_package()\n",
    "specs/core-pkg/core-pkg.spec": spec("core-pkg"),
    "teams/b/BUILD": (
        'target(name="own", dependencies=["//teams/b/specs/b-secret"])\n'
        'target(name="shared", tags=["public"])\n'
    ),
    "teams/b/specs/b-secret/BUILD": "rpm_package()\n",
    "teams/b/specs/b-secret/b-secret.spec": spec("b-secret"),
    "teams/b/public/b-tools/BUILD": "rpm_package()\n",
    "teams/b/public/b-tools/b-tools.spec": spec("b-tools"),
    "teams/a/specs/a-mine/BUILD": "rpm_package()\n",
    "teams/a/specs/a-mine/a-mine.spec": spec("a-mine"),
    "teams/a/BUILD": (
        'target(name="allowed", dependencies=["//specs/core-pkg", "//teams/a/specs/a-mine", '
        '"//teams/b/public/b-tools", "//teams/b:shared"])\n'
        'target(name="uses-private", dependencies=["//teams/b/specs/b-secret"])\n'
    ),
    # keel core may use a team's public targets, not its private ones.
    "images/core-uses/BUILD": (
        'target(name="public", dependencies=["//teams/b/public/b-tools"])\n'
        'target(name="private", dependencies=["//teams/b/specs/b-secret"])\n'
    ),
}


def pants_toml() -> str:
    """The helpers' options with the visibility backend, as the repository's pants.toml has it."""
    toml = PANTS_TOML.replace("backend_packages = [", f'backend_packages = ["{BACKEND}", ', 1)
    assert toml != PANTS_TOML
    return toml + pex_cli_config()


def workspace(tmp_path: Path, files: dict[str, str]) -> Workspace:
    return Workspace(tmp_path, {"pants.toml": pants_toml(), **FILES, **files})


def violation(origin: str, origin_type: str, dependency: str, dependency_type: str) -> str:
    """Pants' error for one denied dependency (pants/engine/target.py: DependenciesRuleApplication
    and pants/backend/visibility/rule_types.py): the dependent, the dependency and the rule."""
    return (
        f"DependencyRuleActionDeniedError: {origin} has 1 dependency violation:\n\n"
        f"  * {origin.split(':')[0]} -> teams/BUILD[!*] : DENY\n"
        f"    {origin_type} {origin} -> {dependency_type} {dependency}\n"
    )


def test_repository_enables_the_visibility_backend() -> None:
    assert f'"{BACKEND}"' in (RULES_ROOT / "pants.toml").read_text()
    assert "__dependents_rules__" in TEAMS_BUILD.read_text()


def test_team_uses_core_its_own_and_public_targets_not_another_teams_private_ones(
    tmp_path: Path,
) -> None:
    ws = workspace(tmp_path, {})

    allowed = ws.pants("dependencies", "teams/a:allowed", "teams/b:own", "images/core-uses:public")
    assert set(allowed.stdout.split()) == {
        "specs/core-pkg:core-pkg",
        "teams/a/specs/a-mine:a-mine",
        "teams/b/public/b-tools:b-tools",
        "teams/b:shared",
        SECRET,  # team b's own target uses it
    }

    denied = ws.pants("dependencies", "teams/a:uses-private", check=False)
    assert denied.returncode != 0, denied.stdout
    expected = violation("teams/a:uses-private", "target", SECRET, "rpm_package")
    assert expected in denied.stderr, denied.stderr

    from_core = ws.pants("dependencies", "images/core-uses:private", check=False)
    assert from_core.returncode != 0, from_core.stdout
    expected = violation("images/core-uses:private", "target", SECRET, "rpm_package")
    assert expected in from_core.stderr, from_core.stderr


def test_inferred_dependencies_on_another_teams_private_package_fail(tmp_path: Path) -> None:
    """What teams hit: an image's `packages` and a spec's BuildRequires name another team's
    package. Inference reads the specs with rpmspec in the toolchain root (built once per file's
    shared cache)."""
    ws = workspace(
        tmp_path,
        {
            "teams/a/images/BUILD": (
                'disk_image(name="ok", format="raw", size="64M", '
                'packages=["//teams/a/specs/a-mine", "b-tools", "core-pkg"])\n'
                'disk_image(name="bad", format="raw", size="64M", '
                'packages=["a-mine", "b-secret"])\n'
            ),
            "teams/a/specs/a-needs/BUILD": "rpm_package()\n",
            "teams/a/specs/a-needs/a-needs.spec": spec("a-needs", "b-secret"),
        },
    )

    ok = set(ws.pants("dependencies", "teams/a/images:ok").stdout.split())
    assert {
        "teams/a/specs/a-mine:a-mine", "teams/b/public/b-tools:b-tools", "specs/core-pkg:core-pkg",
    } <= ok

    image = ws.pants("dependencies", "teams/a/images:bad", check=False)
    assert image.returncode != 0, image.stdout
    expected = violation("teams/a/images:bad", "disk_image", SECRET, "rpm_package")
    assert expected in image.stderr, image.stderr

    package = ws.pants("dependencies", "teams/a/specs/a-needs", check=False)
    assert package.returncode != 0, package.stdout
    spec_violation = violation("teams/a/specs/a-needs:a-needs", "rpm_package", SECRET, "rpm_package")
    assert spec_violation in package.stderr, package.stderr

    # `package` checks the same rules, and fails before it builds anything.
    for target, expected in (
        ("teams/a/images:bad", violation("teams/a/images:bad", "disk_image", SECRET, "rpm_package")),
        ("teams/a/specs/a-needs", spec_violation),
    ):
        built = ws.pants("package", target, check=False)
        assert built.returncode != 0, built.stdout
        assert expected in built.stderr, built.stderr
        assert "Starting: rpmbuild" not in built.stderr
        assert not (ws.root / "dist").exists() or not any((ws.root / "dist").rglob("*.rpm"))
