"""The package seed: its manifest (keel-seed.json), where `[rpm].seed` points, reading it, and
the build inputs key a seeded RPM must match. Building with a seed: tests/integration/test_seed.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, FileContent
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.process import Process
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.rpm import register
from rules.rpm.util_rules.seed import (
    SEED_FORMAT,
    PackageSeed,
    SeededRpm,
    SeedError,
    build_inputs_key,
    parse_seed_manifest,
    seed_locations,
    write_seed_manifest,
)

A, B, C = "a" * 64, "b" * 64, "c" * 64
RPMS = {
    "foo-1.0-1.x86_64.rpm": SeededRpm(sha256=A, built_sha256=B, inputs=C, target="specs/foo:foo"),
    "foo-devel-1.0-1.x86_64.rpm": SeededRpm(sha256=B, built_sha256=B, inputs=C, target="specs/foo:foo"),
}


def test_a_manifest_reads_back_as_written_and_is_a_pins_file() -> None:
    content = write_seed_manifest(RPMS)
    assert parse_seed_manifest("keel-seed.json", content) == RPMS
    assert write_seed_manifest(dict(reversed(RPMS.items()))) == content
    data = json.loads(content)
    # The pins, as toolchain_stage(prebuilt=...) and source-cache read them.
    assert data["Signatures"] == {"foo-1.0-1.x86_64.rpm": A, "foo-devel-1.0-1.x86_64.rpm": B}


def manifest(**changes) -> bytes:
    data = json.loads(write_seed_manifest(RPMS))
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "content, complaint",
    [
        (b"{not json", "is not valid JSON"),
        (manifest(format="keel-seed/0"), f"its \"format\" is 'keel-seed/0', keel reads '{SEED_FORMAT}'"),
        (json.dumps({"Signatures": {"x.rpm": A}}).encode(), "its \"format\" is None"),
        (manifest(Signatures={"foo-1.0-1.x86_64.rpm": "nope"}), "is not a sha256"),
        (manifest(BuiltFrom=None), 'has no "BuiltFrom" object'),
        (
            manifest(BuiltFrom={"foo-1.0-1.x86_64.rpm": {"inputs": C, "sha256": B}}),
            "pins foo-devel-1.0-1.x86_64.rpm but does not say what it was built from",
        ),
        (
            manifest(Signatures={"foo-1.0-1.x86_64.rpm": A}),
            "says what foo-devel-1.0-1.x86_64.rpm was built from, but pins no sha256",
        ),
    ],
    ids=["json", "format", "plain-pins", "sha256", "no-built-from", "unknown-inputs", "unpinned"],
)
def test_a_bad_manifest_names_the_file_and_the_fix(content: bytes, complaint: str) -> None:
    with pytest.raises(SeedError) as error:
        parse_seed_manifest("/srv/seed/keel-seed.json", content)
    message = str(error.value)
    assert complaint in message and "/srv/seed/keel-seed.json" in message
    assert "`--rpm-seed=`" in message


def test_the_seed_is_a_repository_or_its_manifest() -> None:
    assert seed_locations("/srv/seed") == ("/srv/seed/keel-seed.json", "/srv/seed/Packages")
    assert seed_locations("/pins/seed.json") == ("/pins/seed.json", "/pins/Packages")
    assert seed_locations("https://repo.invalid/seed/") == (
        "https://repo.invalid/seed/keel-seed.json",
        "https://repo.invalid/seed/Packages",
    )
    assert seed_locations("file:///srv/seed/keel-seed.json") == (
        "file:///srv/seed/keel-seed.json",
        "file:///srv/seed/Packages",
    )


def test_the_build_inputs_key_is_what_the_cache_keys_a_process_by() -> None:
    def process(**changes) -> Process:
        fields = dict(argv=("rpmbuild", "x.spec"), description="rpmbuild x", env={"A": "1"})
        return Process(**{**fields, **changes})

    key = build_inputs_key(process())
    assert key == build_inputs_key(process(description="another description"))
    assert key != build_inputs_key(process(argv=("rpmbuild", "--nocheck", "x.spec")))
    assert key != build_inputs_key(process(env={"A": "2"}))
    assert key != build_inputs_key(process(output_directories=("top",)))
    rule_runner = RuleRunner(rules=[QueryRule(Digest, [CreateDigest])])
    digest = rule_runner.request(Digest, [CreateDigest([FileContent("x.spec", b"Name: x\n")])])
    assert key != build_inputs_key(process(input_digest=digest))
    assert key != build_inputs_key(process(immutable_input_digests={"root": digest}))
    assert build_inputs_key(process(input_digest=EMPTY_DIGEST)) == key


def read_seed(tmp_path: Path, seed: str) -> PackageSeed:
    rule_runner = RuleRunner(
        rules=[*register.rules(), QueryRule(PackageSeed, [])], target_types=register.target_types()
    )
    rule_runner.set_options([f"--rpm-seed={seed}"], env_inherit={"PATH"})
    return rule_runner.request(PackageSeed, [])


def test_a_repository_directory_is_read_as_a_seed(tmp_path: Path) -> None:
    (tmp_path / "keel-seed.json").write_bytes(write_seed_manifest(RPMS))
    seed = read_seed(tmp_path, str(tmp_path))
    assert dict(seed.rpms) == RPMS
    assert seed.manifest == f"{tmp_path}/keel-seed.json"
    assert seed.packages_dir == f"{tmp_path}/Packages"


def test_a_missing_or_corrupt_seed_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ExecutionError) as error:
        read_seed(tmp_path, str(tmp_path / "gone"))
    message = str(error.value)
    assert f"`[rpm].seed` is '{tmp_path}/gone', but there is no {tmp_path}/gone/keel-seed.json" in message
    assert "rpm_repository" in message and "`--rpm-seed=`" in message

    (tmp_path / "seed.json").write_text('{"format": "keel-seed/1", "Signatures": {}')
    with pytest.raises(ExecutionError) as error:
        read_seed(tmp_path, str(tmp_path / "seed.json"))
    assert f"The package seed {tmp_path}/seed.json is not valid JSON" in str(error.value)
