"""An image's `repos`: which targets it may name, and the files they put into its root (the key
exported by real gpg), without building an image."""
from __future__ import annotations

from pathlib import Path

import pytest
from pants.core.target_types import GenericTarget
from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.core import host_tools
from rules.image.util_rules import repos
from rules.image.util_rules.repos import ImageRepoFiles, ImageRepos, ImageReposRequest
from rules.rpm.repository_target_types import RpmRepositoryTarget
from rules.rpm.util_rules import signing
from tests.integration.signing_key import export_key, kill_agent, make_key

IMAGE = Address("images/core", target_name="vhdx")
BUILD = """
rpm_repository(name="updates", packages=["foo"], base_url="file:///srv/www/updates")
rpm_repository(name="extras", repo_id="core-extras", packages=["foo"], base_url="file:///srv/www/extras")
rpm_repository(name="again", repo_id="updates", packages=["foo"], base_url="file:///srv/www/again")
target(name="other")
"""


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = RuleRunner(
        rules=[
            *repos.rules(),
            *signing.rules(),
            *host_tools.rules(),
            QueryRule(ImageRepos, [ImageReposRequest]),
            QueryRule(ImageRepoFiles, [ImageReposRequest]),
            QueryRule(DigestContents, [Digest]),
        ],
        target_types=[RpmRepositoryTarget, GenericTarget],
    )
    rule_runner.write_files({"repos/BUILD": BUILD})
    return rule_runner


def files(rule_runner: RuleRunner, *entries: str) -> dict[str, bytes]:
    made = rule_runner.request(ImageRepoFiles, [ImageReposRequest(IMAGE, entries)])
    return {f.path: f.content for f in rule_runner.request(DigestContents, [made.digest])}


def test_repos_resolve_to_repository_targets(rule_runner: RuleRunner) -> None:
    resolved = rule_runner.request(ImageRepos, [ImageReposRequest(IMAGE, ("//repos:updates", "//repos:extras"))])
    assert resolved.addresses == (Address("repos", target_name="updates"), Address("repos", target_name="extras"))
    assert resolved.settings == (("updates", "file:///srv/www/updates"), ("core-extras", "file:///srv/www/extras"))


@pytest.mark.parametrize(
    "entries, complaint",
    [
        (("//repos:other",), "lists //repos:other, a `target` target: list `rpm_repository` targets"),
        (("//repos:updates", "//repos:again"), "both have the repo_id `updates`"),
        (("//repos:nope",), "nope"),
    ],
    ids=["not-a-repository", "same-repo-id", "unknown"],
)
def test_bad_repos_name_the_image_and_the_fix(rule_runner: RuleRunner, entries, complaint: str) -> None:
    with pytest.raises(ExecutionError) as error:
        rule_runner.request(ImageRepos, [ImageReposRequest(IMAGE, entries)])
    assert complaint in str(error.value) and "images/core:vhdx" in str(error.value)


def test_without_a_key_the_image_gets_an_unsigned_repo_file(rule_runner: RuleRunner) -> None:
    assert files(rule_runner, "//repos:updates") == {
        "etc/yum.repos.d/updates.repo": (
            b"[updates]\nname=updates\nbaseurl=file:///srv/www/updates\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\n"
        ),
    }
    assert files(rule_runner) == {}


def test_with_a_key_the_image_trusts_the_key_it_holds(rule_runner: RuleRunner, tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    fingerprint = make_key(home, "keel test")
    try:
        exported = export_key(home, fingerprint)
        rule_runner.set_options([f"--rpm-sign-key={fingerprint}", f"--rpm-sign-gnupg-home={home}"])
        made = files(rule_runner, "//repos:updates", "//repos:extras")
        assert made["etc/pki/rpm-gpg/RPM-GPG-KEY-updates"] == exported
        assert made["etc/pki/rpm-gpg/RPM-GPG-KEY-core-extras"] == exported
        assert made["etc/yum.repos.d/core-extras.repo"] == (
            b"[core-extras]\nname=core-extras\nbaseurl=file:///srv/www/extras\nenabled=1\ngpgcheck=1\n"
            b"repo_gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-core-extras\n"
        )
        assert len(made) == 4
    finally:
        kill_agent(home)
