"""rpm_repository: what is checked when the BUILD file is read, and the .repo file."""
from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import RuleRunner

from rules.rpm.goals.repository import repo_file
from rules.rpm.repository_target_types import RpmRepositoryBaseUrlField, RpmRepositoryTarget


def target(fields: str):
    rule_runner = RuleRunner(target_types=[RpmRepositoryTarget])
    rule_runner.write_files({"repos/BUILD": f"rpm_repository(packages=['foo'], {fields})"})
    return rule_runner.get_target(Address("repos", target_name="updates"))


def test_a_valid_target_is_read() -> None:
    read = target("name='updates', base_url='file:///srv/updates/'")
    assert read[RpmRepositoryBaseUrlField].value == "file:///srv/updates"


@pytest.mark.parametrize(
    "fields, complaint",
    [
        ("name='updates', repo_id='main', base_url='file:///srv'", "dnf reads as its own configuration"),
        ("name='updates', repo_id='a b', base_url='file:///srv'", "use letters, digits"),
        ("name='updates', base_url='/srv/repo'", "give a URL starting with file://"),
        ("name='updates', base_url='file:///srv', output_path='../out'", "without `..`"),
        ("name='updates'", "base_url"),
    ],
    ids=["main", "space", "no-scheme", "dotdot", "missing-url"],
)
def test_bad_fields_name_the_target_and_the_fix(fields: str, complaint: str) -> None:
    with pytest.raises(ExecutionError) as error:
        target(fields)
    assert complaint in str(error.value) and "repos:updates" in str(error.value)


def test_an_empty_package_list_is_refused() -> None:
    rule_runner = RuleRunner(target_types=[RpmRepositoryTarget])
    rule_runner.write_files({"repos/BUILD": "rpm_repository(name='updates', packages=[], base_url='file:///srv')"})
    with pytest.raises(ExecutionError, match="The `packages` of repos:updates is empty"):
        rule_runner.get_target(Address("repos", target_name="updates"))


def test_a_target_named_main_needs_another_repo_id() -> None:
    rule_runner = RuleRunner(target_types=[RpmRepositoryTarget])
    rule_runner.write_files({"repos/BUILD": "rpm_repository(name='main', packages=['foo'], base_url='file:///srv')"})
    with pytest.raises(ExecutionError, match="dnf reads as its own configuration"):
        rule_runner.get_target(Address("repos", target_name="main"))


def test_repo_file_signed_and_unsigned() -> None:
    assert repo_file("u", "file:///srv/u", True) == (
        "[u]\nname=u\nbaseurl=file:///srv/u\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\n"
        "gpgkey=file:///srv/u/RPM-GPG-KEY-u\n"
    )
    assert "gpgcheck=0\nrepo_gpgcheck=0\n" in repo_file("u", "file:///srv/u", False)
