from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError

from rules.rpm.util_rules.spec_info import RpmDependency, RpmSpecInfo, RpmSpecInfoRequest, query_bucket
from tests.rule_runner import keel_rule_runner, spec


def spec_info(rule_runner, directory: str) -> RpmSpecInfo:
    return rule_runner.request(RpmSpecInfo, [RpmSpecInfoRequest(Address(directory))])


def test_macros_conditionals_and_subpackages_come_from_rpmspec() -> None:
    rule_runner = keel_rule_runner("--rpm-defines={'dist': '.t1'}")
    rule_runner.write_files(
        {
            "specs/lib/BUILD": "rpm_package(defines={'with_docs': '1'})",
            "specs/lib/lib.spec": (
                "Name: lib\nVersion: 1.0\nRelease: 3%{?dist}\nSummary: s\nLicense: MIT\n"
                "Source0: https://example.invalid/lib-%{version}.tar.gz\n"
                "Patch0: fix.patch\n"
                "BuildRequires: make >= 4\n"
                "%if 0%{?with_docs}\nBuildRequires: docs-tool\n%endif\n"
                "%if 0%{?with_tests}\nBuildRequires: never-there\n%endif\n"
                "%description\nlib\n"
                "%package devel\nSummary: devel\nRequires: %{name} = %{version}-%{release}\n"
                "Provides: lib-headers\n%description devel\ndevel\n"
                "%files\n%files devel\n"
                "%changelog\n* Tue Nov 24 2026 A <a@b> - 1.0-1\n- x\n"
            ),
            "specs/lib/fix.patch": "",
        }
    )
    info = spec_info(rule_runner, "specs/lib")
    assert (info.name, info.version, info.release) == ("lib", "1.0", "3.t1")
    assert set(info.build_requires) == {RpmDependency("make", ">=", "4"), RpmDependency("docs-tool")}
    assert [p.name for p in info.packages] == ["lib", "lib-devel"]
    devel = info.package("lib-devel")
    assert "lib-headers" in {p.name for p in devel.provides}
    assert devel.requires == (RpmDependency("lib", "=", "1.0-3.t1"),)
    assert devel.filename == "x86_64/lib-devel-1.0-3.t1.x86_64.rpm"
    assert info.changelog_time == 1795521600
    assert {(s.filename, s.url) for s in info.sources} == {
        ("lib-1.0.tar.gz", "https://example.invalid/lib-1.0.tar.gz"),
        ("fix.patch", None),
    }


def test_malformed_spec_is_one_clear_error() -> None:
    rule_runner = keel_rule_runner()
    rule_runner.write_files(
        {"specs/bad/BUILD": "rpm_package()", "specs/bad/bad.spec": "Name: bad\n%if 1\n"}
    )
    with pytest.raises(ExecutionError) as e:
        spec_info(rule_runner, "specs/bad")
    message = str(e.value)
    assert "specs/bad/bad.spec (target specs/bad:bad): rpmspec cannot parse it" in message
    assert "Fix the spec" in message


def test_two_specs_in_one_directory_need_the_spec_field() -> None:
    rule_runner = keel_rule_runner()
    rule_runner.write_files(
        {
            "specs/two/BUILD": "rpm_package()",
            "specs/two/a.spec": spec("a"),
            "specs/two/b.spec": spec("b"),
        }
    )
    with pytest.raises(ExecutionError) as e:
        spec_info(rule_runner, "specs/two")
    assert "needs exactly one spec file among its sources (found: a.spec, b.spec)" in str(e.value)
    assert 'set `spec="NAME.spec"`' in str(e.value)

    rule_runner.write_files(
        {
            "specs/two/BUILD": (
                "rpm_package(name='a', spec='a.spec', sources=['a.spec'])\n"
                "rpm_package(name='b', spec='b.spec', sources=['b.spec'])\n"
            )
        }
    )
    assert rule_runner.request(RpmSpecInfo, [RpmSpecInfoRequest(Address("specs/two", target_name="b"))]).name == "b"


def same_batch_directories(count: int) -> list[str]:
    """`count` spec directories whose targets fall into one rpmspec batch (query_bucket)."""
    by_bucket: dict[int, list[str]] = {}
    for i in range(10_000):
        directory = f"specs/p{i}"
        members = by_bucket.setdefault(query_bucket(Address(directory)), [])
        members.append(directory)
        if len(members) == count:
            return members
    raise AssertionError("no bucket filled")


def test_specs_read_in_one_batch_keep_their_own_answers_and_errors() -> None:
    rule_runner = keel_rule_runner("--rpm-defines={'dist': '.t1'}")
    good, other, bad, empty = same_batch_directories(4)
    rule_runner.write_files(
        {
            f"{good}/BUILD": "rpm_package(defines={'flavour': 'sweet'})",
            f"{good}/good.spec": spec("good", body="Provides: good-%{flavour}"),
            f"{other}/BUILD": "rpm_package()",
            f"{other}/other.spec": spec("other", version="2.0", body="BuildRequires: good"),
            f"{bad}/BUILD": "rpm_package()",
            f"{bad}/bad.spec": "Name: bad\n%if 1\n",
            f"{empty}/BUILD": "rpm_package()",  # no spec file at all
        }
    )
    info = spec_info(rule_runner, good)
    assert (info.name, info.release) == ("good", "1")
    assert "good-sweet" in {p.name for p in info.package("good").provides}
    info = spec_info(rule_runner, other)
    assert (info.name, info.version, info.build_requires) == ("other", "2.0", (RpmDependency("good"),))
    with pytest.raises(ExecutionError) as e:
        spec_info(rule_runner, bad)
    assert f"{bad}/bad.spec (target {bad}:{bad.split('/')[1]}): rpmspec cannot parse it" in str(e.value)
    assert "good.spec" not in str(e.value) and "other.spec" not in str(e.value)
    with pytest.raises(ExecutionError) as e:
        spec_info(rule_runner, empty)
    assert "needs exactly one spec file among its sources (found: none)" in str(e.value)
