"""The seed lock format and toolchain_stage validation, without building anything."""
from __future__ import annotations

import json

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError

from rules.toolchain.util_rules.seed import SeedError, SeedLock
from tests.rule_runner import keel_rule_runner

ADDRESS = Address("toolchain", target_name="bootstrap")
TSV = (
    "#suite\tbookworm\n"
    "bash\t5.2.15-2+b13\tamd64\tbash_5.2.15-2+b13_amd64.deb\t" + "a" * 64 + "\t1500\n"
    "gcc\t4:12.2.0-3\tamd64\tgcc_4%3a12.2.0-3_amd64.deb\t" + "b" * 64 + "\t5200\n"
)


def test_a_lock_round_trips_through_json() -> None:
    lock = SeedLock.from_tsv(TSV, ("gcc",))
    assert lock.suite == "bookworm"
    assert [p.name for p in lock.packages] == ["bash", "gcc"]
    assert lock.packages[1].filename == "gcc_4%3a12.2.0-3_amd64.deb" and lock.packages[1].size == 5200
    text = lock.to_json(ADDRESS)
    assert "./pants toolchain-lock toolchain:bootstrap" in json.loads(text)["comment"]
    assert SeedLock.parse("toolchain/seed.lock.json", text.encode(), ADDRESS) == lock
    assert lock.to_tsv() == TSV.split("\n", 1)[1]


def test_stand_ins_round_trip_and_a_lock_without_them_keeps_its_bytes() -> None:
    lock = SeedLock.from_tsv(TSV, ("gcc",), {"perl(Test::Exception)": "libtest-exception-perl", "git": "git"})
    text = lock.to_json(ADDRESS)
    assert json.loads(text)["stand_ins"] == {"git": "git", "perl(Test::Exception)": "libtest-exception-perl"}
    assert SeedLock.parse("toolchain/seed.lock.json", text.encode(), ADDRESS).stand_ins == lock.stand_ins
    assert "stand_ins" not in json.loads(SeedLock.from_tsv(TSV, ("gcc",)).to_json(ADDRESS))


@pytest.mark.parametrize(
    "content, complaint",
    [
        (b"not json", "is not a valid seed lock"),
        (json.dumps({"kind": "apt", "suite": "x", "requested": []}).encode(), "is not a valid seed lock"),
        (json.dumps({"kind": "nix", "packages": []}).encode(), "has kind 'nix'"),
    ],
)
def test_a_bad_lock_names_the_file_and_the_fix(content: bytes, complaint: str) -> None:
    with pytest.raises(SeedError) as error:
        SeedLock.parse("toolchain/seed.lock.json", content, ADDRESS)
    assert complaint in str(error.value)
    assert "toolchain/seed.lock.json" in str(error.value)


@pytest.mark.parametrize(
    "build, complaint",
    [
        ("toolchain_stage(name='t', seed='s.json', base=':b')", "needs exactly one of `seed`"),
        ("toolchain_stage(name='t')", "needs exactly one of `seed`"),
        ("toolchain_stage(name='t', seed='s.json', packages=['x'])", "has a `seed` and `packages`"),
        ("toolchain_stage(name='t', base=':b', stand_ins=True)", "has a `base` and stand_ins"),
        (
            "toolchain_stage(name='t', seed='s.json', stand_in_packages={'x': 'y'})",
            "has `stand_in_packages` without `stand_ins=True`",
        ),
        (
            "toolchain_stage(name='t', seed='s.json', rpm_config_files=['rpm-config/x.sh'])",
            "has a `seed` and `rpm_config_files`",
        ),
        (
            "toolchain_stage(name='t', base=':b', rpm_config_files=['helpers/x.sh'])",
            "has `rpm_config_files` outside `rpm-config/`: helpers/x.sh",
        ),
    ],
)
def test_a_stage_is_either_seeded_or_built(build: str, complaint: str) -> None:
    rule_runner = keel_rule_runner()
    rule_runner.write_files({"toolchain/BUILD": build, "toolchain/s.json": "{}"})
    with pytest.raises(ExecutionError) as error:
        rule_runner.get_target(Address("toolchain", target_name="t"))
    assert complaint in str(error.value)
