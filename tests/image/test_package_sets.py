"""package_set: the ordered union of what images and repositories name, sets expanded where they
are listed; a set that includes itself is an error naming the chain."""
from __future__ import annotations

import pytest
from pants.core.target_types import GenericTarget
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.image.target_types import PackageSetTarget
from rules.image.util_rules.image_root import (
    ExpandedPackages,
    ExpandPackagesRequest,
    PackageSetError,
    expand_packages,
)

IMAGE = Address("images/x", target_name="disk")
SETS = """
package_set(name="a", packages=["p1", ":b", "p2", "//specs/q"])
package_set(name="b", packages=["p2", "p3", ":c"])
package_set(name="c", packages=["p1", "p4", "//specs/q"])
"""


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = RuleRunner(
        rules=[expand_packages, QueryRule(ExpandedPackages, [ExpandPackagesRequest])],
        target_types=[PackageSetTarget, GenericTarget],
    )
    rule_runner.write_files({"images/x/BUILD": SETS, "specs/q/BUILD": "target()"})
    return rule_runner


def expand(rule_runner: RuleRunner, *packages: str) -> ExpandedPackages:
    return rule_runner.request(ExpandedPackages, [ExpandPackagesRequest(IMAGE, packages)])


def test_sets_expand_where_listed_and_each_package_stays_where_it_first_appears(rule_runner: RuleRunner) -> None:
    expanded = expand(rule_runner, "zero", "images/x:a", "p3", "p5")
    listed = [(e.name or str(e.address), str(e.listed_by)) for e in expanded.entries]
    assert listed == [
        ("zero", "images/x:disk"),
        ("p1", "images/x:a"),
        ("p2", "images/x:b"),
        ("p3", "images/x:b"),
        ("p4", "images/x:c"),
        ("specs/q:q", "images/x:c"),
        ("p5", "images/x:disk"),
    ]
    assert [str(a) for a in expanded.sets] == ["images/x:a", "images/x:b", "images/x:c"]


def test_a_set_that_includes_itself_names_the_chain(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"images/x/BUILD": SETS.replace('"p4", "//specs/q"', '"p4", ":a"')})
    with pytest.raises(ExecutionError) as error:
        expand(rule_runner, ":a")
    assert isinstance(error.value.wrapped_exceptions[0], PackageSetError)
    assert (
        "The `packages` field of images/x:c lists images/x:a, which includes it: "
        "images/x:a -> images/x:b -> images/x:c -> images/x:a. Remove one of these entries."
    ) in str(error.value)
