"""Capabilities rpm generates from files resolve, before any build, to the package that RPM
distributions' naming conventions give them, when another target builds it."""
from __future__ import annotations

from pants.engine.addresses import Address

from rules.rpm.util_rules.naming import conventional_packages
from rules.rpm.util_rules.package_graph import Provider, RpmPackageGraph
from rules.rpm.util_rules.spec_info import BinaryPackageInfo, RpmDependency, RpmSpecInfo


def test_conventional_package_names() -> None:
    assert conventional_packages("perl(Pod::Coverage::CountParents)") == (
        "perl-Pod-Coverage-CountParents",
        "perl-Pod-Coverage",
        "perl-Pod",
    )
    assert conventional_packages("python3dist(setuptools_scm)") == ("python3-setuptools-scm",)
    assert conventional_packages("python3.12dist(Flit.Core)") == ("python3-flit-core",)
    assert conventional_packages("pkgconfig(zlib)") == ("zlib-devel", "libzlib-devel")
    assert conventional_packages("pkgconfig(libxml-2.0)") == ("libxml-2.0-devel",)
    assert conventional_packages("libz.so.1()(64bit)") == ()
    assert conventional_packages("perl(:VERSION)") == ()


def info(name: str, *build_requires: str) -> RpmSpecInfo:
    package = BinaryPackageInfo(name, None, "1", "1", "noarch", (), ())
    return RpmSpecInfo(
        Address(name), f"{name}/{name}.spec", name, "1", "1", None,
        tuple(RpmDependency(r) for r in build_requires), (package,), (), (),
    )


def test_a_generated_capability_resolves_to_the_conventional_target_but_never_itself() -> None:
    graph = RpmPackageGraph.create(
        {
            Address("perl-Pod-Coverage"): info("perl-Pod-Coverage", "perl(Test::Pod)", "perl(Pod::Coverage::XS)"),
            Address("perl-Test-Pod"): info("perl-Test-Pod"),
        },
        {},
    )
    pod_coverage = Address("perl-Pod-Coverage")
    assert graph.resolve(RpmDependency("perl(Test::Pod)"), pod_coverage) == Provider(
        Address("perl-Test-Pod"), "perl-Test-Pod"
    )
    # perl-Pod-Coverage-XS is no target; perl-Pod-Coverage is the requirer: left to the root.
    assert graph.resolve(RpmDependency("perl(Pod::Coverage::XS)"), pod_coverage) is None
    assert graph.dependencies(pod_coverage) == (Address("perl-Test-Pod"),)
