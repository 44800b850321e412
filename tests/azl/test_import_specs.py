"""What `./pants azl-import` writes for a checkout, without Pants: the pieces it is made of."""
from __future__ import annotations

from pathlib import Path

import pytest

from rules.azl.goals.import_specs import (
    AzlImportError,
    SpecDirectory,
    azl_build_file,
    build_file,
    find_spec_directories,
    KEEL_MACROS,
    helper_text,
    macro_files,
    macro_helpers,
    macro_text,
    spec_placeholders,
    toolchain_packages,
    without_placeholders,
)


def checkout(tmp_path: Path) -> Path:
    files = {
        "SPECS/zlib/zlib.spec": "",
        "SPECS/zlib/zlib.signatures.json": "{}",
        "SPECS/shadow/shadow.spec": "",
        "SPECS/shadow/pam.d/login": "",
        "SPECS/golang/golang.spec": "",
        "SPECS/golang/golang-1.22.spec": "",
        "SPECS/golang/fix.patch": "",
        "SPECS/perl/perl.spec": "",
        "SPECS/perl/macros.perl": "%perl_vendorlib /usr/share/perl5\n",
        "SPECS/cmake/macros.cmake": "%cmake cmake\n",
        "SPECS/cmake/cmake.spec": "",
        "SPECS/systemd/macros.sysusers": "",
        "SPECS/systemd-bootstrap/macros.sysusers": "",
        "SPECS/empty/README": "",
        "SPECS-EXTENDED/extra/extra.spec": "",
    }
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    return tmp_path


def test_names_are_found_in_specs_then_specs_extended(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    assert find_spec_directories(root, ["zlib", "extra"], False, False) == [
        SpecDirectory("SPECS", "zlib"),
        SpecDirectory("SPECS-EXTENDED", "extra"),
    ]
    everything = find_spec_directories(root, [], True, False)
    assert [d.name for d in everything] == ["cmake", "golang", "perl", "shadow", "zlib"]  # no spec: no target
    assert len(find_spec_directories(root, [], True, True)) == 6
    with pytest.raises(AzlImportError, match="No spec directory named nope, zz in"):
        find_spec_directories(root, ["zz", "zlib", "nope"], False, False)


def test_build_files_have_one_target_per_spec_and_take_nested_sources(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    assert build_file(root / "SPECS/zlib").endswith("\nrpm_package()\n")
    assert build_file(root / "SPECS/shadow").endswith('\nrpm_package(sources=["**/*", "!BUILD"])\n')
    golang = build_file(root / "SPECS/golang")
    assert "rpm_package(name='golang', spec='golang.spec', sources=['golang.spec', 'fix.patch'])" in golang
    assert "rpm_package(name='golang-1.22', spec='golang-1.22.spec', sources=['golang-1.22.spec', 'fix.patch'])" in golang


def test_macro_files_come_from_every_directory_but_the_stage_macro_packages(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    (root / "SPECS/azurelinux-rpm-macros").mkdir()
    (root / "SPECS/azurelinux-rpm-macros/macros.azl").write_text("%azl 3\n")
    # Imported or not, a directory's macro file is in the root specs are read in (an imported
    # cmake's RPM is installed only for builds that BuildRequire it). The stage's own macro
    # package installs its files itself. A name two directories share is taken once.
    # keel's files for toolchain packages whose macros come out of a tarball complete them.
    assert macro_files(root, {"SPECS/azurelinux-rpm-macros"}) == {
        "macros.cmake": "SPECS/cmake",
        "macros.meson": KEEL_MACROS,
        "macros.perl": "SPECS/perl",
        "macros.systemd": KEEL_MACROS,
        "macros.sysusers": "SPECS/systemd",
    }


def test_a_checkout_macro_file_comes_before_keels_of_the_same_name(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    (root / "SPECS/meson/macros.meson").parent.mkdir()
    (root / "SPECS/meson/macros.meson").write_text("%meson meson setup @@BUILDDIR@@\n%meson_build meson compile\n")
    found = macro_files(root, set())
    assert found["macros.meson"] == "SPECS/meson"
    assert macro_text(root, "macros.meson", found["macros.meson"]) == "%meson_build meson compile\n"
    # keel's own: the directories and scriptlets the toolkit's systemd-bootstrap-rpm-macros gives.
    systemd = macro_text(root, "macros.systemd", found["macros.systemd"])
    assert "%_unitdir %{_systemd_util_dir}/system\n" in systemd and "%systemd_post() \\\n" in systemd


def test_the_helper_scripts_a_macro_file_runs_come_from_its_directory(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    (root / "SPECS/ocaml").mkdir()
    (root / "SPECS/ocaml/macros.ocaml-rpm").write_text(
        "%ocaml_files(sn) %{python3} /usr/lib/rpm/azl/ocaml_files.py %{-s} %{buildroot}\n"
        "%ocaml_other %{_rpmconfigdir}/azl/elsewhere.py\n"  # not in the directory: not taken
    )
    (root / "SPECS/ocaml/ocaml_files.py").write_text("print('files')\n")
    (root / "SPECS/systemd/macros.sysusers").write_text(
        "%sysusers_create_compat() %(%{_rpmconfigdir}/sysusers.generate-pre.sh %{?*})\n"
    )
    (root / "SPECS/systemd/sysusers.generate-pre.sh").write_text("#!/bin/sh\n")
    helpers = macro_helpers(root, macro_files(root, set()))
    assert helpers == {"azl/ocaml_files.py": "SPECS/ocaml", "sysusers.generate-pre.sh": "SPECS/systemd"}
    assert helper_text(root, "azl/ocaml_files.py", "SPECS/ocaml") == b"print('files')\n"
    text = azl_build_file("azl", "//toolchain/azl:bootstrap", {}, [], {}, helpers=helpers)
    assert "    rpm_config_files=[\n        'rpm-config/azl/ocaml_files.py',  # SPECS/ocaml\n" in text


def test_the_stage_file_defines_the_build_root(tmp_path: Path) -> None:
    text = azl_build_file(
        "azl",
        "//toolchain/azl:bootstrap",
        {"dist": ".azl3", "azl": "3", "with_check": "0"},
        ["SPECS/azurelinux-rpm-macros"],
        {"macros.perl": "SPECS/perl"},
    )
    assert "name='buildroot'" in text and "base='//toolchain/azl:bootstrap'" in text
    assert "'azl/SPECS/azurelinux-rpm-macros'," in text
    assert "'rpm-macros/macros.perl',  # SPECS/perl" in text
    assert "defines={'azl': '3', 'dist': '.azl3', 'with_check': '0'}" in text
    assert "run_check=False" in text
    assert '__defaults__({rpm_package: dict(toolchain="//azl:buildroot")})' in text
    compile(text.replace("toolchain_stage", "dict").replace("__defaults__", "print").replace("rpm_package", "1"), "BUILD", "exec")


def test_macro_definitions_with_build_time_placeholders_are_left_out() -> None:
    text = (
        "%_cmake_version @@CMAKE_VERSION@@\n"
        "%cmake \\\n  %{set_build_flags} \\\n  cmake -B build\n"
        "%cmake@@CMAKE_MAJOR_VERSION@@_build %cmake_build\n"
        "%ctest@@MAJOR@@(:-:) \\\n  %ctest %{**}\n"
        "%ninja_build ninja\n"
    )
    assert without_placeholders(text) == "%cmake \\\n  %{set_build_flags} \\\n  cmake -B build\n%ninja_build ninja\n"


def test_placeholders_the_spec_fills_from_its_own_definitions_are_filled(tmp_path: Path) -> None:
    cmake = tmp_path / "SPECS/cmake"
    cmake.mkdir(parents=True)
    (cmake / "cmake.spec").write_text(
        "%global major_version 3\n%global full %{version}\nName: cmake\nVersion: 3.30.3\n"
        "Release: 1%{?dist}\n%install\n"
        'sed -i -e "s|@@CMAKE_VERSION@@|%{full}|" -e "s|@@CMAKE_MAJOR_VERSION@@|%{major_version}|" x\n'
        'sed -e "s,@@EVR@@,%{version}-%{release},g" y\n'
        "cat > z.pc <<EOF\nName: Other\nEOF\n"
        'sed -e "s|@@NAME@@|%{name}|g" z\n'
    )
    (cmake / "macros.cmake").write_text(
        "%_cmake_version @@CMAKE_VERSION@@\n%cmake@@CMAKE_MAJOR_VERSION@@ %cmake\n"
        "%cmake_evr @@EVR@@\n%cmake_name @@NAME@@\n%cmake_unknown @@UNKNOWN@@\n"
    )
    # %{release} needs %{dist} and more: not filled; a heredoc's `Name:` is not the spec's.
    assert spec_placeholders(cmake) == {"CMAKE_VERSION": "3.30.3", "CMAKE_MAJOR_VERSION": "3", "NAME": "cmake"}
    assert macro_text(tmp_path, "macros.cmake", "SPECS/cmake") == (
        "%_cmake_version 3.30.3\n%cmake3 %cmake\n%cmake_name cmake\n"
    )


def test_the_toolchain_manifest_names_the_packages_the_root_stands_in_for(tmp_path: Path) -> None:
    manifest = tmp_path / "toolkit/resources/manifests/package/toolchain_x86_64.txt"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        "gcc-13.2.0-7.azl3.x86_64.rpm\ngcc-c++-13.2.0-7.azl3.x86_64.rpm\n"
        "perl-Test-Harness-3.48-1.azl3.noarch.rpm\nglibc-2.38-10.azl3.x86_64.rpm\n\n"
    )
    names = toolchain_packages(tmp_path, "x86_64")
    assert names == ["gcc", "gcc-c++", "glibc", "perl-Test-Harness"]
    assert toolchain_packages(tmp_path, "aarch64") == []  # no manifest: nothing named
    text = azl_build_file(
        "azl", "//toolchain/azl:bootstrap", {"azl": "3"}, [], {}, names,
        "toolkit/resources/manifests/package/toolchain_x86_64.txt",
    )
    assert "        'gcc', 'gcc-c++', 'glibc', 'perl-Test-Harness',\n" in text
    assert "The toolchain packages are those\n# of toolkit/resources/manifests/package/toolchain_x86_64.txt" in text
