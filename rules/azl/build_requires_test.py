"""The walk behind `azl-import --with-build-requires`, on spec infos written by hand (no
rpmspec, no root), and the helpers that make the stand-in for the stage's root."""
from __future__ import annotations

from pathlib import Path

from pants.engine.addresses import Address

from rules.azl.build_requires import RootProvides, build_requires_closure, describe_need
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


WANT, X2, X1, OLD, THIRD, FOURTH, UNRELATED, TIE_A, TIE_B, ANY = (
    target("want-new"), target("x"), target("x", "x-1"), target("old-dep"), target("third"), target("fourth"),
    target("unrelated"), target("tie-a"), target("tie-b"), target("want-any"),
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
        ANY: info(ANY, package("want-any", "1"), build_requires=("x",)),
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


def test_root_provides_meets_a_requirement_by_name_and_version_as_rpmbuild_checks_it() -> None:
    root = RootProvides.parse("perl\t=\t4:5.36.0-7\nperl(Carp)\t=\t1.52\ngcc\t\t\n")
    assert root.meets(dep("perl >= 5.28.0")) and root.meets(dep("perl")) and root.meets(dep("gcc >= 13"))
    assert not root.meets(dep("perl >= 5:5.38")) and not root.meets(dep("perl(Carp) >= 1.54"))
    assert not root.meets(dep("ocaml"))


def test_root_first_imports_only_what_the_root_lacks() -> None:
    graph = RpmPackageGraph.create(infos(), {}, by_version=True)
    # The root has an x-devel too old for `>= 2`, and lang(third): x comes, third does not.
    root = RootProvides.parse("x-devel\t=\t1.5\nlang(third)\t\t\n")
    assert build_requires_closure(graph, [WANT], [WANT], root.meets).targets == (X2,)
    # What the root meets still goes to a target the import brings anyway, as the stage will
    # resolve it: want-any's `x` to x 2.0, imported for want-new (and x-1 beside it).
    want_any = build_requires_closure(graph, [WANT, ANY], [WANT, ANY], RootProvides.parse("x\t\t\n").meets)
    assert want_any.targets == (X2, THIRD, FOURTH)
    assert [n.requirement for n in want_any.needs] == [dep("x-devel >= 2"), dep("lang(third)"), dep("fourth-devel")]
    # x-1 is chosen for `< 2`; it is imported with its directory, and its devel's old-thing,
    # which the root lacks, brings old-dep.
    want_old = target("want-old")
    old = {**infos(), want_old: info(want_old, package("want-old", "1"), build_requires=("x-devel < 2",))}
    graph = RpmPackageGraph.create(old, {}, by_version=True)
    assert build_requires_closure(graph, [want_old], [want_old], RootProvides.parse("").meets).targets == (X1, OLD)


def test_root_first_repeats_the_walk_until_the_import_brings_nothing_new() -> None:
    # `tool` needs `lib >= 2`, newer than the root's: new-lib's directory comes, and with it the
    # spec beside lib's, which builds a `helper` newer than the root's. tool's `helper`, met by
    # the root in the first round, then goes to that spec (as the stage will send it), and its
    # BuildRequires, which the root lacks, come along.
    tool, lib, helper, maker = target("tool"), target("new-lib", "lib"), target("new-lib", "helper"), target("maker")
    graph = RpmPackageGraph.create(
        {
            tool: info(tool, package("tool", "1"), build_requires=("lib >= 2", "helper")),
            lib: info(lib, package("lib", "2")),
            helper: info(helper, package("helper", "2"), build_requires=("maker",)),
            maker: info(maker, package("maker", "1")),
        },
        {},
        by_version=True,
    )
    root = RootProvides.parse("lib\t=\t1\nhelper\t=\t1\n")
    found = build_requires_closure(graph, [tool], [tool], root.meets)
    assert found.targets == (lib, helper, maker)
    # helper's directory was brought by tool's `lib >= 2`: the reason the import gives for it.
    assert [n.requirement for n in found.needs] == [dep("lib >= 2"), dep("lib >= 2"), dep("maker")]


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
