"""rpm_repository: what is checked when the BUILD file is read, the .repo file, and the check
against what is already published (with real rpmbuild and createrepo_c)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.core import host_tools
from rules.rpm.goals.repository import repo_file
from rules.rpm.repository_target_types import (
    RpmRepositoryBaseUrlField,
    RpmRepositoryPublishedField,
    RpmRepositoryTarget,
)
from rules.rpm.util_rules import published
from rules.rpm.util_rules.published import (
    Conflict,
    Published,
    PublishedError,
    PublishedRequest,
    PublishedRpm,
    conflict_message,
    conflicts,
    decompress,
    nvra,
    parse_manifest,
    parse_primary,
    primary_location,
    published_request,
)
from rules.rpm.util_rules.repository_client import image_repo_file


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


# Publishing safety: what is published, read from createrepo_c's metadata or a JSON manifest.

SPEC = """Name: {name}
Version: 1.0
Release: {release}
Summary: t
License: MIT
BuildArch: noarch
%description
t
%files
"""


def build_rpm(tmp: Path, name: str, release: str = "1") -> Path:
    """A real, empty noarch RPM made by the host's rpmbuild."""
    spec = tmp / f"{name}-{release}.spec"
    spec.write_text(SPEC.format(name=name, release=release))
    top = tmp / f"top-{spec.stem}"
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", "--define", "_buildhost keel",
         "--define", "use_source_date_epoch_as_buildtime 1", str(spec)],
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}, check=True, capture_output=True,
    )
    (rpm,) = top.glob("RPMS/noarch/*.rpm")
    return rpm


def make_published(tmp: Path, rpms: list[Path], *compression: str) -> Path:
    """A published repository as createrepo_c writes it."""
    repo = tmp / "published"
    (repo / "Packages").mkdir(parents=True)
    for rpm in rpms:
        shutil.copy(rpm, repo / "Packages")
    subprocess.run(["createrepo_c", "--quiet", *compression, str(repo)], check=True, capture_output=True)
    return repo


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "key, expected",
    [
        ("foo-1.0-1.t1.noarch.rpm", "foo-1.0-1.t1.noarch"),
        ("Packages/foo-bar-2.3-4.azl3.x86_64.rpm", "foo-bar-2.3-4.azl3.x86_64"),
        ("foo-0:1.0-1.t1.noarch", "foo-1.0-1.t1.noarch"),
        ("foo-7:1.0-1.t1.noarch.rpm", "foo-1.0-1.t1.noarch"),
        ("foo.noarch.rpm", None),
        ("foo-1.0.rpm", None),
    ],
)
def test_nvra_of_file_names_and_nevras(key: str, expected) -> None:
    assert nvra(key) == expected


def test_published_directory_is_read_from_its_primary_metadata(tmp_path: Path) -> None:
    rpm = build_rpm(tmp_path, "foo")
    for compression in ((), ("--general-compress-type", "bz2"), ("--xz",)):
        shutil.rmtree(tmp_path / "published", ignore_errors=True)
        repo = make_published(tmp_path, [rpm], *compression)
        repomd = (repo / "repodata" / "repomd.xml").read_bytes()
        href = primary_location(repomd, str(repo))
        rpms = parse_primary(decompress(href, (repo / href).read_bytes(), str(repo)), str(repo))
        assert rpms == [PublishedRpm("foo-1.0-1.noarch", sha256(rpm), str(repo))]


def test_a_manifest_maps_file_names_or_nevras_to_sha256(tmp_path: Path) -> None:
    text = json.dumps({"foo-1.0-1.t1.noarch.rpm": "A" * 64, "bar-0:2-3.t1.x86_64": "b" * 64}).encode()
    assert parse_manifest(text, "m.json") == [
        PublishedRpm("foo-1.0-1.t1.noarch", "a" * 64, "m.json"),
        PublishedRpm("bar-2-3.t1.x86_64", "b" * 64, "m.json"),
    ]


def test_a_keel_seed_manifest_gives_its_signatures() -> None:
    seed = {"format": "keel-seed/1", "Signatures": {"foo-1.0-1.t1.noarch.rpm": "a" * 64}, "BuiltFrom": {}}
    assert parse_manifest(json.dumps(seed).encode(), "keel-seed.json") == [
        PublishedRpm("foo-1.0-1.t1.noarch", "a" * 64, "keel-seed.json")
    ]


@pytest.mark.parametrize(
    "text, complaint",
    [
        (b"{", "m.json is not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"foo.rpm": "' + b"a" * 64 + b'"}', "'foo.rpm' is neither an RPM file name"),
        (b'{"foo-1-1.noarch.rpm": "abc"}', "not 64 hex digits"),
    ],
)
def test_a_bad_manifest_is_one_clear_error(text: bytes, complaint: str) -> None:
    with pytest.raises(PublishedError, match=re.escape(complaint)):
        parse_manifest(text, "m.json")


def test_only_other_bytes_under_a_published_name_conflict() -> None:
    published = [
        PublishedRpm("foo-1.0-1.t1.noarch", "a" * 64, "/srv/updates"),
        PublishedRpm("bar-1.0-1.t1.noarch", "b" * 64, "/srv/updates"),
    ]
    new = {
        "Packages/foo-1.0-1.t1.noarch.rpm": "c" * 64,  # republished with other bytes
        "Packages/bar-1.0-1.t1.noarch.rpm": "b" * 64,  # the same bytes again: fine
        "Packages/foo-1.0-2.t1.noarch.rpm": "d" * 64,  # a new release: fine
        "Packages/foo-1.0-1.t1.x86_64.rpm": "e" * 64,  # another arch: another file
    }
    found = conflicts(published, new)
    assert found == [Conflict("foo-1.0-1.t1.noarch.rpm", "c" * 64, published[0])]
    message = conflict_message("repos:updates", found, {"foo-1.0-1.t1.noarch.rpm": "specs/foo/foo.spec (target specs/foo:foo)"})
    assert message.startswith("rpm_repository repos:updates would publish 1 RPM(s)")
    assert (
        f"foo-1.0-1.t1.noarch.rpm: published sha256 {'a' * 64} (/srv/updates), new sha256 {'c' * 64}: "
        "bump the Release in specs/foo/foo.spec (target specs/foo:foo)"
    ) in message


def test_the_published_field_replaces_the_option() -> None:
    from_option = published_request(None, "repos", ["/srv/a", "pub.json", "~/b"], "repos:u", "/ws")
    assert from_option.locations == ("/srv/a", "/ws/pub.json", os.path.expanduser("~/b"))
    assert from_option.origin == "`[rpm-publish].published`"
    from_field = published_request(["pub.json", "../x"], "repos", ["/srv/a"], "repos:u", "/ws")
    assert from_field.locations == ("/ws/repos/pub.json", "/ws/x")
    assert from_field.origin == "The `published` field of repos:u"
    assert published_request([], "repos", ["/srv/a"], "repos:u", "/ws").locations == ()


def test_the_published_field_is_read() -> None:
    read = target("name='updates', base_url='file:///srv/u', published=['/srv/mirror/u', 'pub.json']")
    assert read[RpmRepositoryPublishedField].value == ("/srv/mirror/u", "pub.json")


@pytest.fixture(scope="module")
def published_rule_runner() -> RuleRunner:
    return RuleRunner(
        rules=[*published.rules(), *host_tools.rules(), QueryRule(Published, [PublishedRequest])],
    )


def test_the_rule_reads_directories_zstd_metadata_and_manifests(published_rule_runner: RuleRunner, tmp_path: Path) -> None:
    foo, bar = build_rpm(tmp_path, "foo"), build_rpm(tmp_path, "bar", "2")
    repo = make_published(tmp_path, [foo])
    # createrepo_c 0.17 writes no zstd; newer ones do: the same metadata, compressed with zstd.
    zst = tmp_path / "zst"
    shutil.copytree(repo, zst)
    (gz,) = (zst / "repodata").glob("*-primary.xml.gz")
    subprocess.run(f"zcat {gz} | zstd -q -o {gz.with_suffix('.zst')}", shell=True, check=True)
    repomd = zst / "repodata" / "repomd.xml"
    repomd.write_text(repomd.read_text().replace(gz.name, gz.with_suffix(".zst").name))
    gz.unlink()
    manifest = tmp_path / "published.json"
    manifest.write_text(json.dumps({bar.name: sha256(bar)}))

    result = published_rule_runner.request(Published, [PublishedRequest((str(repo), str(zst), str(manifest)), "test")])
    assert result.rpms == (
        PublishedRpm("foo-1.0-1.noarch", sha256(foo), str(repo)),
        PublishedRpm("foo-1.0-1.noarch", sha256(foo), str(zst)),
        PublishedRpm("bar-1.0-2.noarch", sha256(bar), str(manifest)),
    )


def test_an_unreadable_location_names_the_option_and_the_path(published_rule_runner: RuleRunner, tmp_path: Path) -> None:
    with pytest.raises(ExecutionError) as error:
        published_rule_runner.request(Published, [PublishedRequest((str(tmp_path / "nothing"),), "`[rpm-publish].published`")])
    message = str(error.value)
    assert f"`[rpm-publish].published` names {tmp_path / 'nothing'} (a repository directory" in message
    assert "Give a directory holding the published repository's repodata/, or a .json file" in message


def test_image_repo_file_trusts_the_key_in_the_image() -> None:
    path, text = image_repo_file("u", "file:///srv/www/u", True)
    assert path == "/etc/yum.repos.d/u.repo"
    assert "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-u\n" in text and "baseurl=file:///srv/www/u\n" in text
    assert image_repo_file("u", "file:///srv/u", False)[1] == repo_file("u", "file:///srv/u", False)
