"""Provider choice in the package graph, on spec infos written by hand (no rpmspec, no root):
keel's own stages refuse two providers; a stage with `provider_choice = "highest-version"`
sends each requirement where Azure Linux's toolkit sends it."""
from __future__ import annotations

import dataclasses

import pytest
from pants.engine.addresses import Address

from rules.rpm.util_rules.package_graph import (
    AmbiguousProviderError,
    Provider,
    RpmPackageGraph,
)
from rules.rpm.util_rules.spec_info import BinaryPackageInfo, RpmDependency, RpmSpecInfo


def dep(text: str) -> RpmDependency:
    """`x >= 2` -> RpmDependency("x", ">=", "2")."""
    return RpmDependency(*text.split())


def package(name: str, version: str, provides: tuple[str, ...] = (), requires: tuple[str, ...] = ()) -> BinaryPackageInfo:
    return BinaryPackageInfo(
        name, None, version, "1.azl3", "x86_64",
        tuple(dep(p) for p in provides), tuple(dep(r) for r in requires),
    )


def info(address: Address, *packages: BinaryPackageInfo, build_requires: tuple[str, ...] = ()) -> RpmSpecInfo:
    return RpmSpecInfo(
        address, f"{address.spec_path}/{address.target_name}.spec", packages[0].name, packages[0].version,
        "1.azl3", None, tuple(dep(r) for r in build_requires), packages, (), (),
    )


X2, X1 = Address("azl/SPECS/x", target_name="x"), Address("azl/SPECS/x", target_name="x-1")
NEW, OLD, ANY = (Address(f"azl/SPECS/{n}", target_name=n) for n in ("want-new", "want-old", "want-any"))
PERL = Address("azl/SPECS/perl", target_name="perl")
HARNESS = Address("azl/SPECS/perl-Test-Harness", target_name="perl-Test-Harness")
TOOL = Address("azl/SPECS/tool", target_name="tool")


def infos() -> dict[Address, RpmSpecInfo]:
    return {
        X2: info(X2, package("x", "2.0"), package("x-devel", "2.0", requires=("x = 2.0-1.azl3",))),
        X1: info(X1, package("x", "1.0"), package("x-devel", "1.0", requires=("x = 1.0-1.azl3",))),
        NEW: info(NEW, package("want-new", "1"), build_requires=("x-devel >= 2",)),
        OLD: info(OLD, package("want-old", "1"), build_requires=("x-devel < 2",)),
        ANY: info(ANY, package("want-any", "1"), build_requires=("x",)),
        # perl builds perl-Test-Harness 3.44 as a subpackage; its own spec builds 3.48.
        PERL: info(PERL, package("perl", "5.38.2"), package("perl-Test-Harness", "3.44", provides=("perl(Test::Harness) = 3.44",))),
        HARNESS: info(HARNESS, package("perl-Test-Harness", "3.48", provides=("perl(Test::Harness) = 3.48",))),
        TOOL: info(TOOL, package("tool", "1"), build_requires=("perl(Test::Harness) >= 3.40", "perl-Test-Harness < 3.45")),
    }


def test_keel_stages_refuse_two_targets_building_one_package() -> None:
    with pytest.raises(AmbiguousProviderError, match="Two rpm_package targets build the package"):
        RpmPackageGraph.create(infos(), {})


def test_versioned_requirements_go_to_the_highest_version_that_meets_them() -> None:
    graph = RpmPackageGraph.create(infos(), {}, by_version=True)
    assert graph.build_closure(NEW).packages == (Provider(X2, "x"), Provider(X2, "x-devel"))
    assert graph.build_closure(OLD).packages == (Provider(X1, "x"), Provider(X1, "x-devel"))
    assert graph.build_closure(ANY).packages == (Provider(X2, "x"),)
    assert graph.dependencies(NEW) == (X2,) and graph.dependencies(OLD) == (X1,)
    # A subpackage of one spec and a newer standalone spec: the standalone one, unless the
    # requirement's conditions leave only the older.
    assert graph.dependencies(TOOL) == (PERL, HARNESS)
    assert [str(p) for p in graph.build_closure(TOOL).packages] == [
        "perl-Test-Harness (azl/SPECS/perl-Test-Harness:perl-Test-Harness)",
        "perl-Test-Harness (azl/SPECS/perl:perl)",
    ]
    # The loser still builds: its own subpackages' exact Requires stay with it.
    assert graph.required_packages(Provider(X1, "x-devel")) == (Provider(X1, "x"),)
    assert graph.builders["x"] == X2 and graph.builders["perl-Test-Harness"] == HARNESS
    # Images and other name lookups: the highest.
    assert graph.provider_of("x", "an image") == Provider(X2, "x")


def test_the_choice_names_what_it_passed_over() -> None:
    graph = RpmPackageGraph.create(infos(), {}, by_version=True)
    choice = graph.choose(dep("x-devel < 2"), "test")
    assert choice.chosen == Provider(X1, "x-devel")
    assert [o.describe(graph) for o in choice.passed_over] == ["x-devel 2.0-1.azl3 (azl/SPECS/x:x)"]
    nothing = graph.choose(dep("x >= 3"), "test")
    assert nothing.chosen is None and len(nothing.passed_over) == 2


def test_a_tie_is_refused_naming_both_targets() -> None:
    a, b, c = (Address(f"azl/SPECS/{n}", target_name=n) for n in ("a", "b", "c"))
    graph = RpmPackageGraph.create(
        {
            a: info(a, package("a", "1", provides=("mta = 1",))),
            b: info(b, package("b", "1", provides=("mta = 1",))),
            c: info(c, package("c", "1"), build_requires=("mta",)),
        },
        {},
        by_version=True,
    )
    with pytest.raises(AmbiguousProviderError) as e:
        graph.dependencies(c)
    assert "`mta` is provided at the same version by two targets: azl/SPECS/a:a" in str(e.value)
    assert "azl/SPECS/b:b (azl/SPECS/b/b.spec, package b: mta = 1)" in str(e.value)


def test_a_spec_for_another_architecture_provides_nothing() -> None:
    # Azure Linux's kernel and kernel-64k (ExclusiveArch: aarch64) both build bpftool at one
    # version; on x86_64 only kernel's counts.
    kernel, k64, bcc = (Address(f"azl/SPECS/{n}", target_name=n) for n in ("kernel", "kernel-64k", "bcc"))
    infos = {
        kernel: info(kernel, package("kernel", "6.6"), package("bpftool", "6.6")),
        k64: dataclasses.replace(
            info(k64, package("kernel-64k", "6.6"), package("bpftool", "6.6")),
            exclusive_arch=("aarch64",), target_arch="x86_64",
        ),
        bcc: info(bcc, package("bcc", "1"), build_requires=("bpftool",)),
    }
    graph = RpmPackageGraph.create(infos, {}, by_version=True)
    assert graph.dependencies(bcc) == (kernel,)
    assert dataclasses.replace(infos[k64], target_arch="aarch64").for_target_arch
    assert not dataclasses.replace(infos[kernel], exclude_arch=("x86_64",), target_arch="x86_64").for_target_arch


def test_the_stage_toolchain_packages_are_left_to_the_root() -> None:
    # gcc is in Azure Linux's toolchain manifest: a spec's BuildRequires goes to the root (the
    # seed stands in for the toolchain), not to an imported gcc spec; other names as before.
    gcc, app = Address("azl/SPECS/gcc", target_name="gcc"), Address("azl/SPECS/app", target_name="app")
    infos = {
        gcc: info(gcc, package("gcc", "13.2"), package("libgomp-devel", "13.2")),
        app: info(app, package("app", "1"), build_requires=("gcc", "libgomp-devel")),
    }
    graph = RpmPackageGraph.create(infos, {}, by_version=True, toolchain_packages=frozenset({"gcc"}))
    assert graph.build_closure(app).packages == (Provider(gcc, "libgomp-devel"),)
    assert graph.choose(dep("gcc"), "test").chosen is None
    assert "gcc" not in graph.builders and graph.info(gcc).packages[0].name == "gcc"  # still a target
