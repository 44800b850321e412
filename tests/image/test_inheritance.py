"""An image's `base`: packages appended, users, groups and files merged (a conflict names both
targets), post_install and repos appended, scalars overridden; loops and non-images refused."""
from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.image.target_types import (
    DEFAULT_PARTITIONS,
    ContainerImageTarget,
    DiskImageTarget,
    IsoImageTarget,
    PackageSetTarget,
    UpdateImageTarget,
)
from rules.image.util_rules import settings
from rules.image.util_rules.image_root import ExpandedPackages, ExpandPackagesRequest, expand_packages
from rules.image.util_rules.settings import ImageBaseError, ImageSettings, ImageSettingsRequest
from rules.rpm.repository_target_types import RpmRepositoryTarget

CORE = """
package_set(name="base", packages=["filesystem", "busybox"])
rpm_repository(name="updates", packages=[":base"], base_url="file:///srv/updates")
disk_image(
    name="vhdx",
    packages=[":base", "kernel"],
    hostname="core",
    size="256M",
    ab_slots=True,
    groups=[{"name": "wheel", "gid": "10"}],
    users=[{"name": "root", "uid": "0"}, {"name": "keel", "uid": "1000", "groups": "wheel"}],
    files={"/etc/motd": "motd"},
    post_install=["core.sh"],
    repos=[":updates"],
)
container_image(name="container", packages=[":base"], hostname="core")
"""

TEAM = """
disk_image(
    name="vhdx",
    base="//images/core:vhdx",
    packages=["hello-team", "busybox"],
    hostname="team",
    format="raw",
    users=[{"name": "keel", "uid": "1000", "groups": "wheel"}, {"name": "app", "uid": "2000"}],
    files={"/etc/team": "team.conf"},
    post_install=["team.sh"],
)
container_image(name="container", base="//images/core:container", packages=["hello-team"])
iso_image(name="iso", base=":vhdx", volume_id="TEAM")
update_image(name="update", base="//images/core:vhdx")
"""


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = RuleRunner(
        rules=[
            *settings.rules(),
            expand_packages,
            QueryRule(ImageSettings, [ImageSettingsRequest]),
            QueryRule(ExpandedPackages, [ExpandPackagesRequest]),
        ],
        target_types=[
            DiskImageTarget, ContainerImageTarget, IsoImageTarget, UpdateImageTarget, PackageSetTarget,
            RpmRepositoryTarget,
        ],
    )
    rule_runner.write_files({"images/core/BUILD": CORE, "teams/example/BUILD": TEAM})
    return rule_runner


def settings_of(rule_runner: RuleRunner, spec: str, name: str) -> ImageSettings:
    return rule_runner.request(ImageSettings, [ImageSettingsRequest(Address(spec, target_name=name))])


def failure(rule_runner: RuleRunner, spec: str, name: str) -> str:
    with pytest.raises(ExecutionError) as error:
        settings_of(rule_runner, spec, name)
    return str(error.value)


def test_a_team_image_merges_its_base(rule_runner: RuleRunner) -> None:
    team = settings_of(rule_runner, "teams/example", "vhdx")
    assert team.bases == (Address("images/core", target_name="vhdx"),)
    assert team.packages == ("//images/core:vhdx", "hello-team", "busybox")
    # Scalars: its own where it sets them, else the base's, else the default.
    assert (team.hostname, team.format, team.size, team.ab_slots) == ("team", "raw", "256M", True)
    assert team.partitions == DEFAULT_PARTITIONS and team.rpm_db is True
    # Merged by name, the base's first; the same entry in both is one entry.
    assert [u["name"] for u in team.users] == ["root", "keel", "app"]
    assert [g["name"] for g in team.groups] == ["wheel"]
    # Paths stay relative to the BUILD file that names them.
    assert [(p, f.workspace_path) for p, f in team.files] == [
        ("/etc/motd", "images/core/motd"), ("/etc/team", "teams/example/team.conf"),
    ]
    assert [f.workspace_path for f in team.post_install] == ["images/core/core.sh", "teams/example/team.sh"]
    assert team.repos == ("//images/core:updates",)


def test_bases_chain_and_kinds_keep_their_own_fields(rule_runner: RuleRunner) -> None:
    iso = settings_of(rule_runner, "teams/example", "iso")
    assert iso.bases == (Address("teams/example", target_name="vhdx"), Address("images/core", target_name="vhdx"))
    assert (iso.hostname, iso.volume_id) == ("team", "TEAM")
    update = settings_of(rule_runner, "teams/example", "update")
    assert (update.size, update.hostname) == ("256M", "core")
    # A container has no kernel: the default command line, whatever its base says.
    container = settings_of(rule_runner, "teams/example", "container")
    assert container.packages == ("//images/core:container", "hello-team")
    assert container.kernel_cmdline == "console=ttyS0 root=PARTLABEL=root rw"


def test_the_base_packages_come_first_in_the_expansion(rule_runner: RuleRunner) -> None:
    team = settings_of(rule_runner, "teams/example", "vhdx")
    expanded = rule_runner.request(ExpandedPackages, [ExpandPackagesRequest(team.address, team.packages)])
    assert [(e.name, str(e.listed_by)) for e in expanded.entries] == [
        ("filesystem", "images/core:base"),
        ("busybox", "images/core:base"),
        ("kernel", "images/core:vhdx"),
        ("hello-team", "teams/example:vhdx"),
    ]
    assert [str(a) for a in expanded.sets] == ["images/core:vhdx", "images/core:base"]


def test_a_user_both_define_differently_names_both_targets(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"teams/example/BUILD": TEAM.replace('"uid": "1000", "groups"', '"uid": "1001", "groups"')})
    message = failure(rule_runner, "teams/example", "vhdx")
    assert "The `users` field of teams/example:vhdx has user keel as" in message
    assert "and its base images/core:vhdx has it as" in message
    assert ImageBaseError.__name__ in message


def test_a_file_both_write_from_different_files_names_both(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"teams/example/BUILD": TEAM.replace('"/etc/team": "team.conf"', '"/etc/motd": "motd"')})
    message = failure(rule_runner, "teams/example", "vhdx")
    assert (
        "The `files` field of teams/example:vhdx writes /etc/motd from teams/example/motd, and its "
        "base images/core:vhdx writes it from images/core/motd"
    ) in message


def test_a_base_loop_names_the_chain(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"teams/loop/BUILD": 'container_image(name="a", base=":b")\ncontainer_image(name="b", base=":a")'}
    )
    message = failure(rule_runner, "teams/loop", "a")
    assert "The `base` of teams/loop:b leads back to it: teams/loop:a -> teams/loop:b -> teams/loop:a" in message


def test_a_base_must_be_an_image(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"teams/x/BUILD": 'container_image(name="c", base="//images/core:base")'})
    message = failure(rule_runner, "teams/x", "c")
    assert "The `base` field of teams/x:c names images/core:base, a `package_set` target" in message


def test_an_image_needs_packages_or_a_base(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"teams/x/BUILD": 'container_image(name="c", hostname="x")'})
    with pytest.raises(ExecutionError, match="teams/x:c has neither `packages` nor a `base`"):
        rule_runner.get_target(Address("teams/x", target_name="c"))


def test_the_layout_is_checked_with_the_merged_values(rule_runner: RuleRunner) -> None:
    # Alone, 35M holds the default partitions; with the base's A/B slots it does not.
    rule_runner.write_files({"teams/x/BUILD": 'disk_image(name="d", base="//images/core:vhdx", size="35M")'})
    message = failure(rule_runner, "teams/x", "d")
    assert "With its base images/core:vhdx: The `size` field of teams/x:d: 35M leaves 1 MiB for two root slots" in message
