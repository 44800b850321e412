from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError

from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms
from rules.rpm.util_rules.package_graph import AmbiguousProviderError, Provider, RpmPackageGraph
from tests.rule_runner import keel_rule_runner, package_graph, spec

LIB = spec(
    "lib",
    body="%package devel\nSummary: d\nRequires: lib = %{version}\n%description devel\nd\n",
    files="%files\n%files devel\n",
)


def graph_for(files: dict[str, str]) -> RpmPackageGraph:
    rule_runner = keel_rule_runner()
    rule_runner.write_files(files)
    return package_graph(rule_runner)


def test_requirements_resolve_to_the_targets_that_provide_them() -> None:
    graph = graph_for(
        {
            "lib/BUILD": "rpm_package()",
            "lib/lib.spec": LIB,
            "data/BUILD": "rpm_package()",
            "data/data.spec": spec("data", body="BuildArch: noarch\nProvides: lib-data"),
            "app/BUILD": "rpm_package()",
            "app/app.spec": spec(
                "app", body="BuildRequires: lib-devel >= 1\nBuildRequires: gcc\nRequires: lib-data"
            ),
        }
    )
    app, lib, data = Address("app"), Address("lib"), Address("data")
    assert graph.dependencies(app) == (data, lib)
    assert graph.dependencies(lib) == ()
    closure = graph.build_closure(app)
    # lib-devel pulls in lib through its Requires; the runtime-only lib-data is not needed.
    assert closure.packages == (Provider(lib, "lib"), Provider(lib, "lib-devel"))


def test_two_targets_providing_one_capability_is_an_error_naming_both() -> None:
    graph = graph_for(
        {
            "a/BUILD": "rpm_package()",
            "a/a.spec": spec("a", body="Provides: mta"),
            "b/BUILD": "rpm_package()",
            "b/b.spec": spec("b", body="Provides: mta"),
            "app/BUILD": "rpm_package()",
            "app/app.spec": spec("app", body="BuildRequires: mta"),
        }
    )
    with pytest.raises(AmbiguousProviderError) as e:
        graph.build_closure(Address("app"))
    message = str(e.value)
    assert "app/app.spec (target app:app): `mta` is provided by two targets" in message
    assert "a:a (a/a.spec, package a)" in message and "b:b (b/b.spec, package b)" in message


def test_a_buildrequires_cycle_is_an_error_listing_the_cycle() -> None:
    rule_runner = keel_rule_runner()
    rule_runner.write_files(
        {
            "a/BUILD": "rpm_package()",
            "a/a.spec": spec("a", body="BuildRequires: b"),
            "b/BUILD": "rpm_package()",
            "b/b.spec": spec("b", body="Requires: c"),
            "c/BUILD": "rpm_package()",
            "c/c.spec": spec("c", body="BuildRequires: a"),
        }
    )
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(BuiltRpms, [BuildRpmRequest(Address("a"))])
    # a needs b and, through b's Requires, c installed; c needs a.
    assert "BuildRequires cycle: a:a (a/a.spec) -> c:c (c/c.spec) -> a:a (a/a.spec)" in str(e.value)


def test_the_same_package_name_in_two_targets_is_an_error() -> None:
    rule_runner = keel_rule_runner()
    rule_runner.write_files(
        {
            "a/BUILD": "rpm_package()",
            "a/x.spec": spec("x"),
            "b/BUILD": "rpm_package()",
            "b/x.spec": spec("x"),
        }
    )
    with pytest.raises(ExecutionError) as e:
        package_graph(rule_runner)
    assert "Two rpm_package targets build the package x: a:a (a/x.spec) and b:b (b/x.spec)" in str(
        e.value
    )
