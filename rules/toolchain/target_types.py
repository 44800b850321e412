"""The `toolchain_stage` target: stage 1 of the build, the root every package is built in.

Two kinds, like the Azure Linux toolkit's bootstrap and official toolchains:
- a *bootstrap* stage has a `seed`: a lock file of prebuilt packages that make a root with a C
  toolchain, make and rpmbuild;
- a stage with a `base` builds its `packages` (rpm_package targets) one after the other inside the
  base root, each seeing the RPMs built before it, and installs them all into a new root: the
  *worker root* of the package stage.
"""
from __future__ import annotations

from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    Dependencies,
    DictStringToStringField,
    InvalidTargetException,
    MultipleSourcesField,
    OptionalSingleSourceField,
    SpecialCasedDependencies,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text


class ToolchainSeedField(OptionalSingleSourceField):
    alias = "seed"
    expected_file_extensions = (".json",)
    help = help_text(
        """
        The seed lock file of a bootstrap stage: every prebuilt binary package of the root, with
        name, version and sha256, e.g. `seed.lock.json`.

        Write or refresh it with `./pants toolchain-lock path/to:bootstrap`. It records
        `seed_packages` and everything they depend on, as resolved by the build host's own
        package manager (apt on Debian and Ubuntu); a build fetches exactly those files through
        the same package manager and fails if one is gone or changed.
        """
    )


class ToolchainSeedPackagesField(StringSequenceField):
    alias = "seed_packages"
    help = help_text(
        """
        Packages of the build host's distribution that make up the bootstrap root, by name (their
        dependencies and the distribution's essential packages are added). Used only by
        `./pants toolchain-lock`; builds read the lock file.
        """
    )


class ToolchainProvidesField(StringSequenceField):
    alias = "provides"
    help = help_text(
        """
        RPM capabilities the seed supplies under names that nothing in the root gives them,
        e.g. `["gcc-c++", "perl-interpreter", "glibc-devel"]`, for `BuildRequires` written with
        an RPM distribution's names.

        What the seed holds is also found in the root when it is made, with rpm's own
        dependency generators and RPM distributions' naming conventions: sonames, pkg-config
        files, perl modules, python distributions, executables' paths, every package's name and
        its `-dev` packages as `-devel`. All of it is recorded in the root's rpm database by a
        generated package (`keel-seed-provides`), so rpmbuild checks `BuildRequires` without
        `--nodeps`; `./pants package` on the stage writes the list (`capabilities.txt`).
        """
    )


class ToolchainBaseField(StringField):
    alias = "base"
    help = help_text(
        """
        The address of the `toolchain_stage` this stage builds on, e.g. `":bootstrap"`. Its
        `packages` are built inside that stage's root.
        """
    )


class ToolchainPackagesField(SpecialCasedDependencies):
    alias = "packages"
    help = help_text(
        """
        `rpm_package` targets built by this stage, in order: each is built inside the base root
        plus the RPMs of the packages before it, so a package must come after those it
        `BuildRequires`. All of them are then installed with rpm into the stage's root.
        """
    )


class ToolchainDependenciesField(Dependencies):
    help = help_text(
        """
        Inferred: the stage's `base` and its `packages`, so `./pants dependencies`,
        `dependents` and `--changed-dependents` follow a toolchain change to every package built
        with it (each `rpm_package` depends on the stage whose root it is built in). Add other
        targets here only to make them part of the graph; they do not enter the root.
        """
    )


class ToolchainPrebuiltField(OptionalSingleSourceField):
    alias = "prebuilt"
    expected_file_extensions = (".json",)
    help = help_text(
        """
        Prebuilt RPMs pinned by sha256, for a stage with `packages`, in the format of a spec's
        signatures file: `{"Signatures": {"m4-1.4.19-1.keel1.x86_64.rpm": "<sha256>"}}`.

        A package of `packages` whose binary RPMs (as its spec names them) are all pinned here
        is taken from these files instead of being built: the Azure Linux toolkit's
        `REBUILD_TOOLCHAIN=n`. The files are fetched like sources, from the local source cache
        (`[rpm-sources].cache_dir`) or `[rpm-sources].mirrors`, and checked by sha256.
        """
    )


class ToolchainDefinesField(DictStringToStringField):
    alias = "defines"
    help = help_text(
        """
        RPM macros defined (`--define "name value"`) for every rpmspec and rpmbuild of the
        packages this stage builds and of the packages built in its root, like the Azure Linux
        toolkit's `--define "dist .azl3"`. A stage built on a `base` adds its own to the base's.
        They win over `[rpm].defines`; an rpm_package's own `defines` win over them.
        """
    )


class ToolchainBuildEnvField(DictStringToStringField):
    alias = "build_env"
    help = help_text(
        """
        Environment variables set for every rpmspec and rpmbuild in this stage's root and in the
        roots built on it, e.g. `{"DEB_PYTHON_INSTALL_LAYOUT": "deb_system"}`: Debian's python
        installs under /usr/local unless told it builds a system package. An upper stage's
        values win.
        """
    )


class ToolchainRunCheckField(BoolField):
    alias = "run_check"
    default = True
    help = help_text(
        """
        Whether rpmbuild runs the `%check` section of the packages this stage builds and of the
        packages built in its root. The Azure Linux toolkit builds without it by default
        (`RUN_CHECK=n`, rpmbuild `--nocheck`, `with_check` 0).
        """
    )


class ToolchainRpmPlatformField(DictStringToStringField):
    alias = "rpm_platform"
    help = help_text(
        """
        For a bootstrap stage: macros of the root's rpm platform file, set as the target
        distribution's rpm was configured, e.g. `{"_vendor": "azl", "_lib": "lib", "_libdir":
        "%{_prefix}/lib"}` for an rpm built `--with-vendor=azl --libdir=/usr/lib`.

        With `_vendor`, rpm also reads that vendor's directory, `/usr/lib/rpm/VENDOR/` (its
        `macros` and `rpmrc`), where a distribution's macro package installs them: the seed's rpm
        was built for another vendor, so its own vendor directory is made to point there.
        """
    )


class ToolchainBinShField(StringField):
    alias = "bin_sh"
    help = help_text(
        """
        For a bootstrap stage: the shell `/bin/sh` is in the root, e.g. `"bash"` as in RPM
        distributions, whose specs and scriptlets use bash syntax (`{a,b}` expansion) under
        `/bin/sh`. Default: what the seed makes it (dash on Debian).
        """
    )


class ToolchainRemoveFilesField(StringSequenceField):
    alias = "remove_files"
    help = help_text(
        """
        For a bootstrap stage: files of the seed removed from the root, e.g.
        `["/etc/debian_version"]`. Build systems look at such files to tell which distribution
        they build for: CMake installs shared libraries without their executable bit when it
        finds `/etc/debian_version`, and rpm's debuginfo extraction then skips them.
        """
    )


class ToolchainRootFilesField(DictStringToStringField):
    alias = "root_files"
    help = help_text(
        """
        For a bootstrap stage: files written into the root after the seed is installed, as
        `{"/absolute/path": "content"}`, to configure the seed's tools as the target
        distribution's are, e.g. `{"/root/.pydistutils.cfg": "[install]\\nprefix=/usr\\n"}`.
        A file whose content starts with `#!` is written executable (a command the target
        distribution has under another name).
        """
    )


class ToolchainMacroFilesField(MultipleSourcesField):
    alias = "macro_files"
    help = help_text(
        """
        RPM macro files copied into the root's macro directory (`/usr/lib/rpm/macros.d/`), for
        a stage with a `base`. For tools the seed supplies without the macro files an RPM
        distribution's package of the same tool carries (`macros.perl`, `macros.cmake`).
        """
    )


RPM_CONFIG_DIR = "rpm-config"


class ToolchainRpmConfigFilesField(MultipleSourcesField):
    alias = "rpm_config_files"
    help = help_text(
        f"""
        Files installed, executable, below rpm's configuration directory (`%{{_rpmconfigdir}}`,
        `/usr/lib/rpm/`) of the root, for a stage with a `base`: each at its path below the
        directory `{RPM_CONFIG_DIR}/` beside this BUILD file (`{RPM_CONFIG_DIR}/azl/ocaml_files.py`
        becomes `/usr/lib/rpm/azl/ocaml_files.py`). For the helper scripts a macro file of
        `macro_files` runs (`%ocaml_files` runs `%{{_rpmconfigdir}}/azl/ocaml_files.py`), which
        the distribution's package owning that macro file installs beside it.
        """
    )


class ToolchainProviderChoiceField(StringField):
    alias = "provider_choice"
    valid_choices = ("unique", "highest-version")
    default = "unique"
    help = help_text(
        """
        What a requirement (`BuildRequires`, `Requires`, an image's package name) of the
        packages built by or in this stage resolves to when several rpm_package targets provide
        its name.

        `unique` (keel's own stages): that is an error naming both targets; a workspace says
        what it means. `highest-version` (the Azure Linux stage `azl-import` writes), as Azure
        Linux's toolkit chooses: the target whose Provides has the highest version that meets
        the requirement's version conditions (`golang >= 1.24`, `perl-Test-Harness < 3.50`),
        for an unversioned requirement the highest of all; two targets at the same version are
        still an error. The other targets still build when asked. `./pants rpm-requires` shows
        each choice and the providers passed over.
        """
    )


class ToolchainToolchainPackagesField(StringSequenceField):
    alias = "toolchain_packages"
    help = help_text(
        """
        Binary packages the distribution's own toolchain supplies to its package stage, which
        this stage's root stands in for, e.g. the names in Azure Linux's toolchain manifest
        (`toolkit/resources/manifests/package/toolchain_x86_64.txt`), which `azl-import`
        writes here. Azure Linux's toolkit builds every other spec against those prebuilt
        toolchain RPMs, never against the toolchain's specs; likewise, among the packages built
        in this stage's root, a target building one of these names is not a provider: a
        `BuildRequires: gcc` is met by the root (its seed), not by an imported `gcc` spec whose
        sources this machine may not have; a name the seed lacks is met by nothing, as a
        toolchain RPM that is not there. Those targets still build when asked.
        """
    )


class ToolchainStandInsField(BoolField):
    alias = "stand_ins"
    default = False
    help = help_text(
        """
        Let `./pants toolchain-lock` add Debian stand-ins to this bootstrap stage's seed: for
        every requirement of the packages built on it (in the stages whose `base` chain reaches
        it) that only a target without sources here, or nothing at all, would meet, the Debian
        package that meets it (a perl module's `.pm` file, a `.pc` file, an executable, a
        python distribution, the `-dev` package of a `-devel` name, found in the host's Debian
        Contents and Packages indexes), locked like the rest of the seed. The lock records each
        requirement and its stand-in; the package graph then leaves those requirements to the
        root, and `./pants rpm-requires` says which stand-in meets them. For the Azure Linux
        stage, whose specs' sources this machine mostly lacks; keel's own stages keep every
        requirement explicit.
        """
    )


class ToolchainStandInPackagesField(DictStringToStringField):
    alias = "stand_in_packages"
    help = help_text(
        """
        With `stand_ins`: Debian stand-ins named by hand, for requirements the lookup rules
        find no package for or the wrong one. Maps a requirement as the specs write it to the
        Debian package that meets it (`{"gnutls-utils": "gnutls-bin"}`); an empty package
        means no stand-in (the requirement stays unmet). Only requirements that want a
        stand-in are looked up here: naming one does not take a name away from a target
        that can build it.
        """
    )


class ToolchainOutputPathField(StringField):
    alias = "output_path"
    help = help_text(
        """
        A directory under `dist/` for the stage's root archive, manifest and capabilities.
        Default: the target's directory and name, e.g. `dist/toolchain/official/root.tar.zst`
        for `toolchain:official`, `dist/toolchain/azl/bootstrap/` for `toolchain/azl:bootstrap`.
        """
    )


class ToolchainStageTarget(Target):
    alias = "toolchain_stage"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        ToolchainSeedField,
        ToolchainSeedPackagesField,
        ToolchainProvidesField,
        ToolchainBaseField,
        ToolchainPackagesField,
        ToolchainDependenciesField,
        ToolchainPrebuiltField,
        ToolchainDefinesField,
        ToolchainBuildEnvField,
        ToolchainRunCheckField,
        ToolchainRpmPlatformField,
        ToolchainBinShField,
        ToolchainRemoveFilesField,
        ToolchainRootFilesField,
        ToolchainMacroFilesField,
        ToolchainRpmConfigFilesField,
        ToolchainProviderChoiceField,
        ToolchainToolchainPackagesField,
        ToolchainStandInsField,
        ToolchainStandInPackagesField,
        ToolchainOutputPathField,
    )
    help = help_text(
        """
        A toolchain stage: a root filesystem that packages are built in.

        A bootstrap stage is made from a `seed` lock file of prebuilt packages. A stage with a
        `base` builds its `packages` serially inside the base root and installs them into a new
        root, the worker root. Every `rpm_package` is built inside a worker root (its `toolchain`
        field, default `[rpm].toolchain`). `./pants package` on a stage writes its root as a
        deterministic `root.tar.zst` and a `manifest.json` of every package in it.
        """
    )

    def validate(self) -> None:
        has_seed = self[ToolchainSeedField].value is not None
        has_base = self[ToolchainBaseField].value is not None
        if has_seed == has_base:
            raise InvalidTargetException(
                f"The toolchain_stage {self.address} needs exactly one of `seed` (a bootstrap "
                "stage, made from a lock file of prebuilt packages) or `base` (a stage that builds "
                "`packages` in the root of another stage)."
            )
        if has_seed and self[ToolchainPrebuiltField].value:
            raise InvalidTargetException(
                f"The toolchain_stage {self.address} has a `seed` and `prebuilt`: prebuilt RPMs "
                "replace builds of `packages`, so they belong on the stage with `base`."
            )
        seed_only = [
            f.alias
            for f in (
                ToolchainRpmPlatformField,
                ToolchainBinShField,
                ToolchainRemoveFilesField,
                ToolchainRootFilesField,
                ToolchainStandInsField,
                ToolchainStandInPackagesField,
            )
            if self[f].value
        ]
        if has_base and seed_only:
            raise InvalidTargetException(
                f"The toolchain_stage {self.address} has a `base` and {', '.join(seed_only)}: "
                "they configure a root as it is made from its seed; set them on the bootstrap "
                "stage."
            )
        if self[ToolchainStandInPackagesField].value and not self[ToolchainStandInsField].value:
            raise InvalidTargetException(
                f"The toolchain_stage {self.address} has `stand_in_packages` without "
                "`stand_ins=True`: set both, or drop stand_in_packages."
            )
        paths = [*(self[ToolchainRemoveFilesField].value or ()), *(self[ToolchainRootFilesField].value or {})]
        relative = [p for p in paths if not p.startswith("/") or ".." in p.split("/")]
        if relative:
            raise InvalidTargetException(
                f"The toolchain_stage {self.address} names files of its root by paths that are "
                f"not absolute: {', '.join(relative)}. Write them as in the root, e.g. /etc/x."
            )
        for field in (ToolchainMacroFilesField, ToolchainRpmConfigFilesField):
            if has_seed and self[field].value:
                raise InvalidTargetException(
                    f"The toolchain_stage {self.address} has a `seed` and `{field.alias}`: they "
                    "are installed with the packages of a stage with a `base`."
                )
        outside = [
            f for f in self[ToolchainRpmConfigFilesField].value or ()
            if f.split("/", 1)[0] != RPM_CONFIG_DIR or "/" not in f
        ]
        if outside:
            raise InvalidTargetException(
                f"The toolchain_stage {self.address} has `rpm_config_files` outside "
                f"`{RPM_CONFIG_DIR}/`: {', '.join(outside)}. Put each under "
                f"`{RPM_CONFIG_DIR}/` beside its BUILD file, at its path below /usr/lib/rpm/."
            )
        if has_seed and self[ToolchainPackagesField].value:
            raise InvalidTargetException(
                f"The toolchain_stage {self.address} has a `seed` and `packages`: packages are "
                "built by a stage with a `base`; add a second stage with `base` pointing here."
            )
