"""The sample packages in specs/, built by `./pants package` as this test's runtime dependency."""
from __future__ import annotations

import subprocess
from pathlib import Path


def query(rpm: str, *args: str) -> list[str]:
    out = subprocess.run(["rpm", "-qp", *args, rpm], capture_output=True, text=True, check=True)
    return out.stdout.split("\n")


def built(name: str) -> str:
    matches = sorted(Path(".").glob(f"RPMS/*/{name}-1.0-1.*.rpm"))
    assert len(matches) == 1, f"expected one built {name} RPM, found {matches}"
    return str(matches[0])


def test_library_has_a_devel_subpackage() -> None:
    assert query(built("libkv"), "--list") == ["/usr/lib64/libkv.so.1", ""]
    assert sorted(query(built("libkv-devel"), "--list")) == ["", "/usr/include/kv.h", "/usr/lib64/libkv.so"]
    assert any(p.startswith("SRPMS/libkv-1.0-1.") for p in map(str, Path(".").glob("SRPMS/*")))


def test_program_links_the_library_and_needs_the_data_package() -> None:
    requires = query(built("kvtool"), "--requires")
    assert "libkv.so.1()(64bit)" in requires
    assert "kv-conf" in requires


def test_data_package_is_noarch() -> None:
    assert query(built("kv-conf"), "--qf", "%{ARCH}") == ["noarch"]
