"""A RuleRunner with keel's package-stage rules, for unit tests that run rpmspec for real."""
from __future__ import annotations

from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.rpm import register
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms
from rules.rpm.util_rules.package_graph import RpmPackageGraph
from rules.rpm.util_rules.spec_info import RpmSpecInfo, RpmSpecInfoRequest
from rules.sources.fetch import SpecSources, SpecSourcesRequest


def keel_rule_runner(*options: str) -> RuleRunner:
    rule_runner = RuleRunner(
        rules=[
            *register.rules(),
            QueryRule(RpmSpecInfo, [RpmSpecInfoRequest]),
            QueryRule(RpmPackageGraph, []),
            QueryRule(BuiltRpms, [BuildRpmRequest]),
            QueryRule(SpecSources, [SpecSourcesRequest]),
        ],
        target_types=register.target_types(),
    )
    rule_runner.set_options(list(options), env_inherit={"PATH", "HOME"})
    return rule_runner


def spec(name: str, *, version: str = "1.0", body: str = "", files: str = "%files\n") -> str:
    """A minimal valid spec; `body` goes into the preamble, `files` after %description."""
    return (
        f"Name: {name}\nVersion: {version}\nRelease: 1\nSummary: {name}\nLicense: MIT\n"
        f"{body}\n%description\n{name}\n{files}"
    )
