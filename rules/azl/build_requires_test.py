"""The walk behind `azl-import --with-build-requires`, on spec infos written by hand (no
rpmspec, no root), and the helpers that make the stand-in for the stage's root."""
from __future__ import annotations

from pathlib import Path

from pants.engine.addresses import Address

from rules.azl.build_requires import build_requires_closure, describe_need
from rules.azl.checkout_graph import first_error, load_order, lua_modules, spec_targets
from rules.rpm.util_rules.package_graph import RpmPackageGraph, closure
from rules.rpm.util_rules.spec_info import BinaryPackageInfo, RpmDependency, RpmSpecInfo


def dep(text: str) -> RpmDependency:
    """`x >= 2` -> RpmDependency("x", ">=", "2")."""
    return RpmDependency(*text.split())


def package(name: str, version: str, provides: tuple[str, ...] = (), requires: tuple[str, ...] = ()) -> BinaryPackageInfo:
    return BinaryPackageInfo(
        name, None, version, "1.azl3", "noarch", tuple(dep(p) for p in provides), tuple(dep(r) for r in requires)
    )


def info(address: Address, *packages: BinaryPackageInfo, build_requires: tuple[str, ...] = ()) -> RpmSpecInfo:
    return RpmSpecInfo(
        address, f"{address.spec_path}/{address.target_name}.spec", packages[0].name, packages[0].version,
        "1.azl3", None, tuple(dep(r) for r in build_requires), packages, (), (),
    )


def target(directory: str, name: str | None = None) -> Address:
    return Address(f"azl/SPECS/{directory}", target_name=name or directory)


WANT, X2, X1, OLD, THIRD, FOURTH, UNRELATED, TIE_A, TIE_B = (
    target("want-new"), target("x"), target("x", "x-1"), target("old-dep"), target("third"), target("fourth"),
    target("unrelated"), target("tie-a"), target("tie-b"),
)


def infos() -> dict[Address, RpmSpecInfo]:
    return {
        WANT: info(WANT, package("want-new", "1"), build_requires=("x-devel >= 2",)),
        X2: info(X2, package("x", "2.0"), package("x-devel", "2.0", requires=("x = 2.0-1.azl3", "lang(third)"))),
        X1: info(X1, package("x", "1.0"), package("x-devel", "1.0", requires=("x = 1.0-1.azl3", "old-thing"))),
        OLD: info(OLD, package("old-dep", "1", provides=("old-thing",))),
        THIRD: info(
            THIRD, package("third", "1"), package("third-lib", "1", provides=("lang(third)",)),
            build_requires=("fourth-devel", "gcc"),
        ),
        FOURTH: info(FOURTH, package("fourth", "1"), package("fourth-devel", "1")),
        UNRELATED: info(UNRELATED, package("unrelated", "1"), build_requires=("x",)),
        TIE_A: info(TIE_A, package("tie-a", "1", provides=("mta = 1",))),
        TIE_B: info(TIE_B, package("tie-b", "1", provides=("mta = 1",))),
    }


def where(address: Address) -> str:
    directory = address.spec_path[len("azl/"):]
    return f"{directory}/{address.target_name}.spec" if directory == "SPECS/x" else directory


def test_the_closure_follows_build_requires_and_the_requires_they_pull_in() -> None:
    graph = RpmPackageGraph.create(infos(), {}, by_version=True)
    found = build_requires_closure(graph, [WANT])
    # x 2.0 is chosen (>= 2), so x 1.0's old-thing is not needed; gcc is left to the root.
    assert found.targets == (X2, THIRD, FOURTH)
    assert [describe_need(n, graph, where) for n in found.needs] == [
        "x (SPECS/x, package x-devel 2.0-1.azl3 of x.spec) for BuildRequires: x-devel >= 2 of SPECS/want-new",
        "third (SPECS/third) for Requires: lang(third) of x-devel (SPECS/x/x.spec)",
        "fourth (SPECS/fourth) for BuildRequires: fourth-devel of SPECS/third",
    ]
    assert found.ties == () and found.unreadable_roots == ()


def test_the_closure_is_the_graphs_build_order_closure() -> None:
    graph = RpmPackageGraph.create({a: i for a, i in infos().items() if a not in (TIE_A, TIE_B)}, {}, by_version=True)
    for roots in ([WANT], [UNRELATED], [X1], [WANT, X1, THIRD]):
        expected = set(closure(roots, graph.build_order_dependencies)) - set(roots)
        assert set(build_requires_closure(graph, roots).targets) == expected


def test_a_tie_is_reported_not_followed_and_an_unreadable_root_is_named() -> None:
    wants_mta = target("wants-mta")
    graph = RpmPackageGraph.create(
        {**infos(), wants_mta: info(wants_mta, package("wants-mta", "1"), build_requires=("mta", "x-devel"))},
        {},
        {target("broken"): "error: made unreadable"},
        by_version=True,
    )
    found = build_requires_closure(graph, [wants_mta, target("broken")])
    assert found.targets == (X2, THIRD, FOURTH)  # the rest is still followed
    assert len(found.ties) == 1 and found.ties[0].requirement == dep("mta")
    assert "tie-a" in found.ties[0].message and "tie-b" in found.ties[0].message
    assert found.unreadable_roots == (target("broken"),)


def test_the_stand_in_root_loads_what_the_stage_installs_in_rpms_order() -> None:
    assert load_order(["macros", "macros.python", "macros.check"], ["macros.perl", "macros.check"]) == [
        "macros.check", "macros.perl", "macros.python", "macros",
    ]
    files = {
        "macros.python": 'x %{lua: local python = require "azl.srpm.python"}',
        "macros.forge": "%{lua: local azl = require 'azl.common'\nlocal f = require('azl.srpm.forge')}",
        "python.lua": "return {}",
        "forge.lua": 'local azl = require "azl.common"\nlocal rpm = require "rpm.own"\nreturn {}',
        "common.lua": "return {}",
    }
    assert lua_modules(files) == {
        "azl/common.lua": "common.lua", "azl/srpm/forge.lua": "forge.lua", "azl/srpm/python.lua": "python.lua",
    }
    assert first_error("warning: a\nerror: line 3: bad\nerror: more\n") == "error: line 3: bad"
    assert first_error("something odd\n") == "something odd"


def test_spec_targets_are_named_as_the_build_file_names_them(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one/one.spec").write_text("")
    (tmp_path / "two").mkdir()
    for name in ("golang.spec", "golang-1.23.spec", "go.patch"):
        (tmp_path / "two" / name).write_text("")
    assert spec_targets(tmp_path / "one") == {"one.spec": None}
    assert spec_targets(tmp_path / "two") == {"golang-1.23.spec": "golang-1.23", "golang.spec": "golang"}
