"""Which requirements want a Debian stand-in, and where the graph sends them once the seed has
one, on spec infos written by hand (no rpmspec, no root)."""
from __future__ import annotations

from pants.engine.addresses import Address

from rules.rpm.util_rules.package_graph import Provider, RpmPackageGraph
from rules.rpm.util_rules.package_graph_test import dep, info, package
from rules.rpm.util_rules.stand_in_needs import stand_in_needs

APP, LIB, GIT, TOOLS = (Address(f"azl/SPECS/{n}", target_name=n) for n in ("app", "lib", "git", "tools"))


def graph(stand_ins: dict[str, str] | None = None, by_version: bool = True) -> RpmPackageGraph:
    return RpmPackageGraph.create(
        {
            # app builds with lib-devel (a target with sources), git (a target without), a perl
            # module nothing provides, and make (the root's).
            APP: info(APP, package("app", "1"), build_requires=("lib-devel", "git", "perl(Test::Exception)", "make")),
            # What lib-devel brings into app's build root Requires a target without sources.
            LIB: info(LIB, package("lib", "1"), package("lib-devel", "1", requires=("lib = 1-1.azl3", "tools-libs"))),
            GIT: info(GIT, package("git", "2.45", provides=("git-core = 2.45",))),
            TOOLS: info(TOOLS, package("tools-libs", "3")),
        },
        {},
        by_version=by_version,
        stand_ins=stand_ins,
    )


def test_requirements_of_buildable_targets_met_by_no_buildable_target_want_a_stand_in() -> None:
    root = {"make"}.__contains__
    needs = stand_in_needs(graph(), [APP, LIB], root)
    assert [(n.requirement, n.needed_by, n.unbuildable) for n in needs] == [
        ("git", (APP,), (GIT,)),
        ("perl(Test::Exception)", (APP,), ()),
        # Through lib-devel's Requires: app's build root installs it.
        ("tools-libs", (APP,), (TOOLS,)),
    ]


def test_a_target_that_can_build_needs_no_stand_in_and_its_requires_are_followed() -> None:
    needs = stand_in_needs(graph(), [APP, LIB, GIT, TOOLS], lambda name: name in {"make", "perl(Test::Exception)"})
    assert needs == ()


def test_only_what_a_buildable_target_builds_with_counts() -> None:
    # app cannot build, so nothing installs lib-devel: lib's own Requires want no stand-in.
    assert stand_in_needs(graph(), [LIB], lambda name: False) == ()


def test_needs_are_found_as_if_the_graph_had_no_stand_ins() -> None:
    # An earlier lock's stand-in stays wanted while a buildable target still needs it.
    stood_in = graph({"git": "git", "tools-libs": "libtools3"})
    needs = stand_in_needs(stood_in, [APP, LIB], {"make", "perl(Test::Exception)"}.__contains__)
    assert [n.requirement for n in needs] == ["git", "tools-libs"]


def test_a_stand_in_sends_the_requirement_to_the_root_in_either_kind_of_stage() -> None:
    for by_version in (True, False):
        stood_in = graph({"git": "git"}, by_version=by_version)
        choice = stood_in.choose(dep("git"), "app.spec")
        assert choice.chosen is None and choice.stand_in == "git"
        assert [o.provider for o in choice.passed_over] == [Provider(GIT, "git")]
        assert stood_in.resolve(dep("git"), APP) is None
        # The other names of the target without sources still go to it.
        assert stood_in.resolve(dep("git-core"), APP) == Provider(GIT, "git")
        assert GIT not in stood_in.dependencies(APP)
