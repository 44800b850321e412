"""The one list of host tools, and the option that says where they are."""
from __future__ import annotations

import ast
import inspect
import subprocess

import pytest
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.core import host_tools
from rules.core.host_tools import (
    BUILD_TOOLS,
    HOST_TOOL_LIST,
    RULE_TOOLS,
    HOST_TOOLS,
    HostToolsRequest,
    missing_tools_message,
    parse_host_tools,
)
from rules.core.subsystems import DEFAULT_SEARCH_PATH, HostSettings
from rules.image.goals import graph
from rules.image.util_rules import container, disk, image_root
from rules.rpm.goals import repository
from rules.sandbox import root
from rules.sources import fetch
from rules.toolchain.goals import lock
from rules.toolchain.util_rules import roots, seed

RULE_MODULES = (root, container, disk, image_root, lock, seed, roots, fetch, graph, repository)


def requested_tools() -> dict[str, set[str]]:
    """Every tool name a rule module passes to HostToolsRequest, by module."""
    found: dict[str, set[str]] = {}
    for module in RULE_MODULES:
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "HostToolsRequest":
                names = node.args[0]
                value = getattr(module, names.id) if isinstance(names, ast.Name) else ast.literal_eval(names)
                found.setdefault(module.__name__, set()).update(value)
    return found


def test_every_tool_a_rule_asks_for_is_listed_for_build_or_graph() -> None:
    requested = requested_tools()
    assert len(requested) == len(RULE_MODULES)
    for module, names in requested.items():
        assert names <= RULE_TOOLS, f"{module}: {sorted(names - RULE_TOOLS)} not in host-tools.txt"
    # Graphviz only for the goal that draws: ./pants does not install it on every start.
    assert requested["rules.image.goals.graph"] == {"dot"} and "dot" not in BUILD_TOOLS
    # Likewise createrepo_c and the signing tools, only for `package` of an rpm_repository.
    assert {"createrepo_c", "rpmsign", "gpg"} <= requested["rules.rpm.goals.repository"]
    assert not {"createrepo_c", "rpmsign", "gpg"} & BUILD_TOOLS
    # find_host_tools runs sh itself.
    assert "sh" in BUILD_TOOLS


def test_a_tool_that_is_not_listed_cannot_be_asked_for() -> None:
    with pytest.raises(ValueError, match="does not list for `build`, `graph` or `repository`: qemu-img, nope"):
        HostToolsRequest(("bash", "qemu-img", "nope"), DEFAULT_SEARCH_PATH)


def test_the_list_is_parsed_and_checked() -> None:
    assert HOST_TOOLS["bwrap"].debian_package == "bubblewrap" and HOST_TOOLS["bwrap"].use == "build"
    assert HOST_TOOLS["rpmbuild"].rpm_package == "rpm-build"
    assert {tool.use for tool in HOST_TOOL_LIST} == {"build", "graph", "repository", "image-test", "ci"}
    assert "ovmf" in {tool.debian_package for tool in HOST_TOOL_LIST} and "-" not in HOST_TOOLS
    with pytest.raises(ValueError, match="host-tools.txt:2: expected COMMAND DEBIAN RPM USE"):
        parse_host_tools("# comment\nrpm rpm build\n")


def test_a_missing_tool_names_its_packages_and_the_option() -> None:
    message = missing_tools_message(["bwrap", "rpmspec"], ("/usr/bin",))
    assert "keel needs bwrap, rpmspec on the host (searched /usr/bin)" in message
    assert "bubblewrap rpm (Debian)" in message and "bubblewrap rpm-build (RPM-based hosts)" in message
    assert "`[keel-host].search_path`" in message


@pytest.mark.parametrize("use", ["build", "image-test", "ci"])
def test_the_launcher_script_reads_the_same_list(use: str) -> None:
    for column, attribute in (("debian", "debian_package"), ("rpm", "rpm_package")):
        printed = subprocess.run(
            ["bash", "build-support/host-tools", "packages", column, use],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        assert printed == sorted({getattr(t, attribute) for t in HOST_TOOL_LIST if t.use == use})


@pytest.mark.parametrize(
    "options, search_path",
    [
        ([], DEFAULT_SEARCH_PATH),
        (["--keel-host-search-path=['/opt/keel/bin']"], ("/opt/keel/bin",)),
        # The deprecated name still counts when it is the one set ...
        (["--rpm-search-path=['/opt/old/bin']"], ("/opt/old/bin",)),
        # ... and the new one wins when both are.
        (["--rpm-search-path=['/opt/old/bin']", "--keel-host-search-path=['/opt/keel/bin']"], ("/opt/keel/bin",)),
    ],
)
def test_keel_host_search_path_and_its_deprecated_alias(options: list[str], search_path: tuple[str, ...]) -> None:
    rule_runner = RuleRunner(rules=[*host_tools.rules(), QueryRule(HostSettings, [])])
    rule_runner.set_options(options)
    settings = rule_runner.request(HostSettings, [])
    assert settings.search_path == tuple(search_path)
    assert settings.path_env == ":".join(search_path)
