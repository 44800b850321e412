"""The `rpm_package` target: one SPEC file and its sources, built into RPMs.

This module holds only fields and the target, like Pants' own backends; the rules that read
specs and build them live in util_rules/ and goals/.
"""
from __future__ import annotations

from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    DictStringToStringField,
    MultipleSourcesField,
    StringField,
    Target,
)
from pants.util.strutil import help_text


class RpmSourcesField(MultipleSourcesField):
    alias = "sources"
    default = ("*", "!BUILD", "!BUILD.*")
    help = help_text(
        """
        The SPEC file and the files rpmbuild may use as `SourceN`/`PatchN`, relative to the
        BUILD file: patches, configuration files, local tarballs, and `NAME.signatures.json`.

        Every file but the spec is placed flat in `%{_sourcedir}`, so basenames must be unique.
        Sources the spec names that are not here are fetched by the sha256 that
        `NAME.signatures.json` records for them (see `./pants help rpm-sources`).
        """
    )


class RpmSpecField(StringField):
    alias = "spec"
    help = help_text(
        """
        The file name of the SPEC file among `sources`.

        Defaults to the only `*.spec` file in `sources`; set it (and `sources`) when a directory
        holds several specs, one `rpm_package` per spec.
        """
    )


class RpmDependenciesField(Dependencies):
    help = help_text(
        """
        Other `rpm_package` targets whose binary RPMs are installed for this build, in addition
        to those inferred from the spec's `BuildRequires` (and their `Requires`).

        You rarely need this: keel reads `BuildRequires`, `Requires` and `Provides` with
        `rpmspec` and infers the package graph.
        """
    )


class RpmDefinesField(DictStringToStringField):
    alias = "defines"
    help = help_text(
        """
        RPM macros to define for this spec, as `{"name": "value"}`; passed as
        `--define "name value"` to rpmspec and rpmbuild, after the global `[rpm].defines`.
        """
    )


class RpmOutputPathField(StringField):
    alias = "output_path"
    help = help_text(
        """
        A directory under `dist/` for this package's RPMs and SRPM.

        By default they go where rpmbuild puts them, as the Azure Linux toolkit does:
        `dist/RPMS/<arch>/NAME-VERSION-RELEASE.ARCH.rpm` and `dist/SRPMS/NAME-VERSION-RELEASE.src.rpm`.
        """
    )


class RpmToolchainField(StringField):
    alias = "toolchain"
    help = help_text(
        """
        The toolchain_stage whose root this package is built in, e.g. `//toolchain:official`.
        Default: `[rpm].toolchain`. Packages listed in a toolchain stage's `packages` ignore
        this: they are built in that stage's base root.
        """
    )


class RpmPackageTarget(Target):
    alias = "rpm_package"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        RpmSourcesField,
        RpmSpecField,
        RpmDependenciesField,
        RpmDefinesField,
        RpmOutputPathField,
        RpmToolchainField,
    )
    help = help_text(
        """
        A SPEC file and its sources, built by rpmbuild into binary RPMs (the main package and
        every subpackage) and an SRPM.

        `rpm_package()` with no arguments works in a directory holding one `*.spec`. Its
        `BuildRequires` and `Requires` become dependencies on the targets whose packages provide
        them. rpmbuild runs inside the root of a toolchain stage (see `toolchain`), with the RPMs of
        the `BuildRequires` closure installed into it first.
        Run `./pants package path/to/dir` to build, `./pants rpm-requires path/to/dir` to see
        how every requirement is satisfied.
        """
    )
