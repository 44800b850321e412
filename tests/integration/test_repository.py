"""rpm_repository end to end: real Pants builds and signs a repository, real dnf installs from it
into an empty root, upgrades from it, and refuses what was tampered with or signed by another key."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.signing_key import export_key, kill_agent, make_key, signing_env
from tests.pants_workspace import Workspace

FOO_SPEC = """Name: foo
Version: 1.0
Release: {release}%{{?dist}}
Summary: foo
License: MIT
BuildArch: noarch
%description
A file.
%install
mkdir -p %{{buildroot}}%{{_datadir}}/foo
echo {release} > %{{buildroot}}%{{_datadir}}/foo/release
%files
%{{_datadir}}/foo
%changelog
* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-{release}
- test
"""

BAR_SPEC = """Name: bar
Version: 1.0
Release: 1%{?dist}
Summary: bar
License: MIT
BuildArch: noarch
Requires: foo
%description
Needs foo.
%install
mkdir -p %{buildroot}%{_datadir}/bar
%files
%{_datadir}/bar
"""


class Site:
    """A workspace with foo and an rpm_repository, a signing key, and a directory that plays the
    web server's document root (the .repo file's baseurl)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "gnupg"
        self.fingerprint = make_key(self.home, "keel test")
        self.served = tmp / "served" / "updates"
        self.ws = Workspace(tmp, {
            "specs/foo/BUILD": "rpm_package()",
            "specs/foo/foo.spec": FOO_SPEC.format(release=1),
            "specs/bar/BUILD": "rpm_package()",
            "specs/bar/bar.spec": BAR_SPEC,
            "repos/BUILD": (
                f"rpm_repository(name='updates', packages=['//specs/foo'], base_url='file://{self.served}')\n"
                "rpm_repository(name='closure', packages=['bar'], with_requires=True, base_url='file:///srv/closure')\n"
            ),
        })

    def package(
        self, *, signed: bool = True, cache: str | None = None, published: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        """`./pants package repos:updates`, the key (and what is published) handed in as CI does:
        through the environment."""
        argv, env = self.ws.pants_command("package", "repos:updates", cache=cache)
        if signed:
            env = {**env, **signing_env(self.home, self.fingerprint)}
        if published:
            env = {**env, "PANTS_RPM_PUBLISH_PUBLISHED": str(published)}
        shutil.rmtree(self.ws.root / "dist", ignore_errors=True)
        result = subprocess.run(argv, cwd=self.ws.root, env=env, capture_output=True, text=True)
        if check:
            assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        return result

    @property
    def dist(self) -> Path:
        return self.ws.root / "dist" / "repos" / "updates"

    def publish(self) -> None:
        shutil.rmtree(self.served, ignore_errors=True)
        shutil.copytree(self.dist, self.served)


class Client:
    """dnf on an empty root, with only our .repo file and signature checks on."""

    def __init__(self, tmp: Path, repo_file: Path) -> None:
        self.root = tmp / "root"
        self.reposdir = tmp / "repos.d"
        self.conf = tmp / "dnf.conf"
        self.cache = tmp / "dnf-cache"
        for d in (self.root, self.reposdir, self.cache):
            d.mkdir(parents=True)
        shutil.copy(repo_file, self.reposdir)
        # Without skip_if_unavailable=False dnf skips a repository it refuses and only says
        # "Unable to find a match".
        self.conf.write_text("[main]\ngpgcheck=1\nrepo_gpgcheck=1\nskip_if_unavailable=False\n")
        subprocess.run(["rpm", "--root", str(self.root), "--initdb"], check=True)

    def dnf(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                ["dnf", "-y", f"--installroot={self.root}", "-c", str(self.conf), f"--setopt=reposdir={self.reposdir}",
                 f"--setopt=cachedir={self.cache}", "--releasever=1", *args],
                capture_output=True, text=True,
            )
        finally:
            # dnf checks repomd.xml.asc with a keyring of its own in the cache, whose gpg-agent
            # stays behind.
            for keyring in self.cache.glob("*/pubring"):
                kill_agent(keyring)

    def installed(self) -> str:
        return subprocess.run(["rpm", "--root", str(self.root), "-q", "foo"], capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    made = Site(tmp)
    yield made
    kill_agent(made.home)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_signed_repository_installs_and_upgrades(site: Site, tmp_path: Path) -> None:
    result = site.package()
    assert f"signed with {site.fingerprint}" in result.stderr
    assert set(tree(site.dist)) >= {
        "Packages/foo-1.0-1.t1.noarch.rpm", "repodata/repomd.xml", "repodata/repomd.xml.asc",
        "updates.repo", "RPM-GPG-KEY-updates",
    }
    repo_file = (site.dist / "updates.repo").read_text()
    assert f"baseurl=file://{site.served}\n" in repo_file and "gpgcheck=1\nrepo_gpgcheck=1\n" in repo_file
    assert f"gpgkey=file://{site.served}/RPM-GPG-KEY-updates\n" in repo_file
    site.publish()

    client = Client(tmp_path, site.served / "updates.repo")
    installed = client.dnf("install", "foo")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert client.installed() == "foo-1.0-1.t1.noarch"

    # A new release, republished: the client upgrades to it.
    site.ws.write({"specs/foo/foo.spec": FOO_SPEC.format(release=2)})
    site.package()
    site.publish()
    # --refresh: the metadata dnf cached at install time would hide the new release.
    upgraded = client.dnf("upgrade", "--refresh")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert client.installed() == "foo-1.0-2.t1.noarch"
    site.ws.write({"specs/foo/foo.spec": FOO_SPEC.format(release=1)})


def test_a_build_from_empty_caches_gives_the_same_bytes(site: Site) -> None:
    # The same key, two builds from empty caches: this file's shared cache, empty on a fresh CI
    # machine when the first test built into it (on a developer's machine it holds an earlier
    # build of the same inputs), and a cache of its own. rpmbuild, rpmsign, createrepo_c and gpg
    # all ran in each, and every file under dist/ is the same.
    site.package()
    first = site.ws.dist_hashes()
    assert "repos/updates/repodata/repomd.xml.asc" in first
    site.publish()
    # Checked against what the first build published: the same bytes publish again.
    second = site.package(cache="clean", published=site.served)
    assert "checked against 1 published RPMs" in second.stderr
    assert site.ws.dist_hashes() == first


def test_a_published_release_with_other_bytes_is_refused(site: Site) -> None:
    # What clients have: the repository as published.
    site.package()
    site.publish()
    published = (site.served / "Packages" / "foo-1.0-1.t1.noarch.rpm").read_bytes()
    # Another build under the same name-version-release: refused before anything reaches dist/.
    site.ws.write({"specs/foo/foo.spec": FOO_SPEC.format(release=1).replace("A file.", "A changed file.")})
    try:
        refused = site.package(published=site.served, check=False)
    finally:
        site.ws.write({"specs/foo/foo.spec": FOO_SPEC.format(release=1)})
    assert refused.returncode != 0
    assert not (site.ws.root / "dist").exists()
    assert "rpm_repository repos:updates would publish 1 RPM(s)" in refused.stderr
    new = re.search(
        rf"foo-1.0-1.t1.noarch.rpm: published sha256 {hashlib.sha256(published).hexdigest()} \({site.served}\), "
        r"new sha256 ([0-9a-f]{64}): bump the Release in specs/foo/foo.spec \(target specs/foo:foo\)",
        refused.stderr,
    )
    assert new and new.group(1) != hashlib.sha256(published).hexdigest(), refused.stderr


def refused(site: Site, tmp_path: Path, repo_file: Path) -> subprocess.CompletedProcess:
    client = Client(tmp_path, repo_file)
    result = client.dnf("install", "foo")
    assert result.returncode != 0, result.stdout + result.stderr
    assert client.installed() != "foo-1.0-1.t1.noarch"
    return result


def test_tampered_metadata_is_refused(site: Site, tmp_path: Path) -> None:
    site.package()
    site.publish()
    with open(site.served / "repodata" / "repomd.xml", "ab") as f:
        f.write(b"\n")
    result = refused(site, tmp_path, site.served / "updates.repo")
    assert "GPG signature verification error" in result.stderr + result.stdout


def test_unsigned_rpm_is_refused_where_gpgcheck_is_claimed(site: Site, tmp_path: Path) -> None:
    site.package()
    signed = tmp_path / "signed"
    shutil.copytree(site.dist, signed)
    result = site.package(signed=False)
    assert "UNSIGNED" in result.stderr
    assert "gpgcheck=0" in (site.dist / "updates.repo").read_text()
    assert not (site.dist / "repodata" / "repomd.xml.asc").exists()
    # The unsigned RPMs behind the signed repository's .repo and key, the metadata signed with
    # the right key: only the RPM's missing signature is left to refuse.
    site.publish()
    shutil.copy(signed / "updates.repo", site.served)
    shutil.copy(signed / "RPM-GPG-KEY-updates", site.served)
    subprocess.run(
        ["gpg", "--batch", "--local-user", site.fingerprint, "--detach-sign", "--armor",
         str(site.served / "repodata" / "repomd.xml")],
        env={**os.environ, "GNUPGHOME": str(site.home)}, check=True, capture_output=True,
    )
    result = refused(site, tmp_path, site.served / "updates.repo")
    assert "is not signed" in result.stderr + result.stdout


def test_a_key_that_did_not_sign_is_refused(site: Site, tmp_path: Path) -> None:
    other_home = tmp_path / "other-gnupg"
    other = make_key(other_home, "keel other")
    try:
        site.package()
        site.publish()
        (site.served / "RPM-GPG-KEY-updates").write_bytes(export_key(other_home, other))
        result = refused(site, tmp_path, site.served / "updates.repo")
        assert "GPG signature verification error" in result.stderr + result.stdout
    finally:
        kill_agent(other_home)


def test_with_requires_adds_what_the_packages_require(site: Site) -> None:
    # Unsigned (no key given): the closure of bar is bar and the foo it Requires.
    argv, env = site.ws.pants_command("package", "repos:closure")
    result = subprocess.run(argv, cwd=site.ws.root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "UNSIGNED" in result.stderr
    packages = sorted(p.name for p in (site.ws.root / "dist/repos/closure/Packages").iterdir())
    assert packages == ["bar-1.0-1.t1.noarch.rpm", "foo-1.0-1.t1.noarch.rpm"]
    # What each was built from, so the repository can seed a build (tests/integration/test_seed.py).
    seed = json.loads((site.ws.root / "dist/repos/closure/keel-seed.json").read_text())
    assert sorted(seed["BuiltFrom"]) == sorted(seed["Signatures"]) == packages
    # In Pants' graph, the repository depends on the targets its `packages` name: a spec edit
    # selects the repositories that publish it (`--changed-dependents`).
    assert site.ws.pants("dependencies", "repos:closure").stdout.split() == ["specs/bar:bar"]
    assert "repos:updates" in site.ws.pants("dependents", "specs/foo").stdout.split()
