"""A RuleRunner with keel's package-stage rules, for unit tests that run rpmspec for real.

Specs are read in the root they are built in, so the workspace gets a toolchain: the bootstrap
stage of the repository's seed lock, which rpm_package targets are built in. RuleRunner uses the
machine's Pants store, so that root is made once per machine, not once per test.
"""
from __future__ import annotations

import json
from pathlib import Path

from pants.engine.addresses import Address
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.rpm import register
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms
from rules.rpm.util_rules.package_graph import RpmPackageGraph, RpmPackageGraphRequest
from rules.rpm.util_rules.spec_info import RpmSpecInfo, RpmSpecInfoRequest
from rules.sources.fetch import SourcesAvailability, SpecSources, SpecSourcesRequest
from tests.pants_workspace import PYTHON_SEARCH_PATH, pex_cli_pin

SEED_LOCK = Path.cwd() / "toolchain" / "seed.lock.json"
BOOTSTRAP = Address("toolchain", target_name="bootstrap")


def keel_rule_runner(*options: str) -> RuleRunner:
    rule_runner = RuleRunner(
        rules=[
            *register.rules(),
            QueryRule(RpmSpecInfo, [RpmSpecInfoRequest]),
            QueryRule(RpmPackageGraph, [RpmPackageGraphRequest]),
            QueryRule(BuiltRpms, [BuildRpmRequest]),
            QueryRule(SpecSources, [SpecSourcesRequest]),
            QueryRule(SourcesAvailability, [SpecSourcesRequest]),
        ],
        target_types=register.target_types(),
    )
    requested = json.loads(SEED_LOCK.read_text())["requested"]
    rule_runner.write_files(
        {
            "toolchain/seed.lock.json": SEED_LOCK.read_text(),
            "toolchain/BUILD": (
                f"toolchain_stage(name='bootstrap', seed='seed.lock.json', seed_packages={requested!r})\n"
            ),
        }
    )
    rule_runner.set_options(
        [f"--rpm-toolchain=//{BOOTSTRAP}", *pex_cli_options(), *options],
        env_inherit={"PATH", "HOME", "PYENV_ROOT"},
    )
    return rule_runner


def pex_cli_options() -> list[str]:
    """Images are compressed by a small PEX (the pinned zstd library): [pex-cli] and the
    interpreter search path as test workspaces have them (tests/pants_workspace.py)."""
    version, path, entry = pex_cli_pin()
    return [
        f"--pex-cli-version={version}",
        f"--pex-cli-url-template=file://{path}",
        f"--pex-cli-known-versions=['{version}|linux_x86_64|{entry}', '{version}|linux_arm64|{entry}']",
        f"--python-bootstrap-search-path={PYTHON_SEARCH_PATH!r}",
    ]


def package_graph(rule_runner: RuleRunner) -> RpmPackageGraph:
    """The graph of every rpm_package built in the bootstrap root."""
    return rule_runner.request(RpmPackageGraph, [RpmPackageGraphRequest(BOOTSTRAP)])


def spec(name: str, *, version: str = "1.0", body: str = "", files: str = "%files\n") -> str:
    """A minimal valid spec; `body` goes into the preamble, `files` after %description."""
    return (
        f"Name: {name}\nVersion: {version}\nRelease: 1\nSummary: {name}\nLicense: MIT\n"
        f"{body}\n%description\n{name}\n{files}"
    )
