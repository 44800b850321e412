"""The `rpm_repository` target: RPMs of rpm_package targets as a (signed) package repository.

Fields and the target only; the rule is goals/repository.py, the signing key `[rpm-sign]`.
Values are checked when the BUILD file is read, so a mistake names the target before anything
is built.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Tuple

from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    Dependencies,
    InvalidFieldException,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text

from rules.core.field_kinds import PackageEntriesField, PackageEntry

# What dnf and tdnf accept as a section name in a .repo file, without surprises in URLs.
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_URL_SCHEMES = ("file://", "http://", "https://")


class RpmRepositoryPackagesField(PackageEntriesField):
    # Strings, not dependencies: package names are allowed, as in an image's `packages`.
    alias = "packages"
    required = True
    help = help_text(
        """
        What the repository holds: addresses of `rpm_package` targets (every binary RPM they
        build), addresses of `package_set` targets (what they name) or package names (the
        rpm_package that builds or provides each), resolved in the package graph of
        `[rpm].toolchain`, as an image's `packages` are.
        """
    )

    @classmethod
    def compute_value(
        cls, raw_value: Optional[Iterable[PackageEntry]], address: Address
    ) -> Optional[Tuple[str, ...]]:
        value = super().compute_value(raw_value, address)
        if not value:
            raise InvalidFieldException(
                f"The `packages` of {address} is empty: list the rpm_package targets or package "
                "names the repository should hold."
            )
        return value


class RpmRepositoryDependenciesField(Dependencies):
    help = help_text(
        """
        Inferred: the `rpm_package` targets whose packages `packages` names, so
        `./pants dependents` and `--changed-dependents` reach the repositories that publish a
        spec's RPMs.
        """
    )


class RpmRepositoryWithRequiresField(BoolField):
    alias = "with_requires"
    default = False
    help = help_text(
        """
        Also hold the RPMs that the listed packages need at install time (their `Requires`,
        transitively), as far as keel's rpm_package targets provide them. Without it the
        repository holds only the listed packages: an update repository for systems that
        already have the rest.
        """
    )


class RpmRepositoryIdField(StringField):
    alias = "repo_id"
    help = help_text(
        """
        The repository's id: the section name of its `.repo` file, the name of that file and
        of the public key (`RPM-GPG-KEY-<repo_id>`), and the default output directory. Letters,
        digits, `.`, `_` and `-`. Default: the target's name. `main` is refused: dnf reads a
        `[main]` section as its own configuration.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        check_repo_id(value, address)
        return value


def check_repo_id(value: str, address) -> None:
    if value == "main":
        raise InvalidFieldException(
            f"The `repo_id` of {address} is `main`, which dnf reads as its own configuration "
            "section, not as a repository. Choose another id, e.g. `main-updates`."
        )
    if not _REPO_ID.match(value):
        raise InvalidFieldException(
            f"The `repo_id` of {address} is {value!r}: use letters, digits, `.`, `_` and `-` "
            "only, starting with a letter or digit."
        )


class RpmRepositoryBaseUrlField(StringField):
    alias = "base_url"
    required = True
    help = help_text(
        """
        Where clients will find the repository (the directory holding `repodata/`), e.g.
        `https://<your server>/core-updates` or `file:///srv/repos/core-updates`. It is written into
        the `.repo` file as `baseurl`, and the public key's URL (`gpgkey`) is
        `<base_url>/RPM-GPG-KEY-<repo_id>`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if not value.startswith(_URL_SCHEMES) or any(c.isspace() for c in value):
            raise InvalidFieldException(
                f"The `base_url` of {address} is {value!r}: give a URL starting with "
                f"{', '.join(_URL_SCHEMES)} and without spaces."
            )
        return value.rstrip("/")


class RpmRepositoryOutputPathField(StringField):
    alias = "output_path"
    help = help_text(
        """
        The directory under `dist/` that receives the repository. Default:
        `repos/<repo_id>`. It holds `Packages/`, `repodata/`, `<repo_id>.repo` and, when
        signed, `RPM-GPG-KEY-<repo_id>` and `repodata/repomd.xml.asc`: serve it as it is.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and (value.startswith("/") or ".." in value.split("/") or not value.strip("/")):
            raise InvalidFieldException(
                f"The `output_path` of {address} is {value!r}: give a relative directory under "
                "dist/, without `..`."
            )
        return value


class RpmRepositoryPublishedField(StringSequenceField):
    alias = "published"
    help = help_text(
        """
        What of this repository is already published, in place of `[rpm-publish].published`
        (see there): directories of published repositories (holding `repodata/`) or `.json`
        files mapping RPM file names or NEVRAs to sha256; absolute, or relative to this BUILD
        file. An RPM whose name-version-release.arch is there with other bytes fails
        `./pants package`, naming the spec whose Release to bump. `[]` checks nothing.
        """
    )


class RpmRepositoryTarget(Target):
    alias = "rpm_repository"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        RpmRepositoryPackagesField,
        RpmRepositoryDependenciesField,
        RpmRepositoryWithRequiresField,
        RpmRepositoryIdField,
        RpmRepositoryBaseUrlField,
        RpmRepositoryOutputPathField,
        RpmRepositoryPublishedField,
    )
    help = help_text(
        """
        A package repository for package-based updates: the RPMs of the named packages, signed
        with the key of `[rpm-sign]` when one is set, `repodata/` made by createrepo_c (and
        `repomd.xml` signed), a `.repo` file for dnf and tdnf, and the public key.

        Reproducible: metadata times and revision are the newest SOURCE_DATE_EPOCH of its RPMs,
        signature times are pinned, so the same RPMs and key give the same bytes.
        `./pants package path:target` writes it under `dist/` (see `output_path`).
        """
    )

    def validate(self) -> None:
        # The default id is the target's name, which must pass the same checks.
        if self[RpmRepositoryIdField].value is None:
            check_repo_id(self.address.target_name, self.address)
