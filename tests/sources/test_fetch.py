"""Sources not in the repo are fetched by sha256: local cache, then mirrors, then the spec URL."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pants.engine.fs import DigestContents, PathGlobs, Snapshot
from pants.engine.internals.scheduler import ExecutionError

from pants.engine.addresses import Address

from rules.sources.fetch import SourceError, SourceFile, SourcesAvailability, SpecSources, SpecSourcesRequest
from tests.rule_runner import keel_rule_runner

TARBALL = b"pretend this is a release tarball\n"
TARBALL_SHA = hashlib.sha256(TARBALL).hexdigest()


X = Address("specs/x", target_name="x")


def sources_request(rule_runner, wanted: tuple[SourceFile, ...]) -> SpecSourcesRequest:
    local = rule_runner.request(Snapshot, [PathGlobs(["specs/x/*", "!specs/x/BUILD"])])
    return SpecSourcesRequest(
        owner="specs/x/x.spec (target specs/x:x)",
        signatures_path="specs/x/x.signatures.json",
        local_digest=local.digest,
        wanted=wanted,
        address=X,
    )


def gather(rule_runner, wanted: tuple[SourceFile, ...]) -> dict[str, bytes]:
    sources = rule_runner.request(SpecSources, [sources_request(rule_runner, wanted)])
    contents = rule_runner.request(DigestContents, [sources.digest])
    return {c.path: c.content for c in contents}


def workspace(rule_runner, signatures: dict[str, str], extra: dict[str, str] | None = None) -> None:
    rule_runner.write_files(
        {
            "specs/x/BUILD": "",
            "specs/x/fix.patch": "--- a\n+++ b\n",
            "specs/x/x.signatures.json": json.dumps({"Signatures": signatures}),
            **(extra or {}),
        }
    )


def test_a_source_comes_from_the_local_source_cache(tmp_path: Path) -> None:
    (tmp_path / "x-1.0.tar.gz").write_bytes(TARBALL)
    rule_runner = keel_rule_runner(f"--rpm-sources-cache-dir={tmp_path}")
    workspace(rule_runner, {"x-1.0.tar.gz": TARBALL_SHA})
    files = gather(
        rule_runner,
        (SourceFile("x-1.0.tar.gz", "https://upstream.invalid/x-1.0.tar.gz"), SourceFile("fix.patch", None)),
    )
    assert files["x-1.0.tar.gz"] == TARBALL
    assert files["fix.patch"] == b"--- a\n+++ b\n"
    assert "x.signatures.json" in files


def test_a_source_comes_from_a_mirror_template(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / TARBALL_SHA).mkdir(parents=True)
    (mirror / TARBALL_SHA / "x-1.0.tar.gz").write_bytes(TARBALL)
    rule_runner = keel_rule_runner(
        f"--rpm-sources-cache-dir={tmp_path / 'empty-cache'}",
        f"--rpm-sources-mirrors=['file://{mirror}/{{sha256}}/{{filename}}']",
        "--no-rpm-sources-use-spec-urls",
    )
    workspace(rule_runner, {"x-1.0.tar.gz": TARBALL_SHA})
    assert gather(rule_runner, (SourceFile("x-1.0.tar.gz", None),))["x-1.0.tar.gz"] == TARBALL


def test_wrong_bytes_name_the_spec_the_file_and_both_sha256s(tmp_path: Path) -> None:
    # A digest no other test stores: Pants' named cache keeps fetched files by sha256 across runs.
    expected = hashlib.sha256(b"bytes that were never published\n").hexdigest()
    (tmp_path / "x-1.0.tar.gz").write_bytes(b"tampered\n")
    rule_runner = keel_rule_runner(f"--rpm-sources-cache-dir={tmp_path}", "--no-rpm-sources-use-spec-urls")
    workspace(rule_runner, {"x-1.0.tar.gz": expected})
    with pytest.raises(ExecutionError) as e:
        gather(rule_runner, (SourceFile("x-1.0.tar.gz", None),))
    message = str(e.value)
    actual = hashlib.sha256(b"tampered\n").hexdigest()
    assert "specs/x/x.spec (target specs/x:x): cannot get source x-1.0.tar.gz" in message
    assert f"expected sha256 {expected}, got {actual}" in message


def test_a_local_file_that_does_not_match_its_signature_is_an_error(tmp_path: Path) -> None:
    rule_runner = keel_rule_runner(f"--rpm-sources-cache-dir={tmp_path}")
    workspace(
        rule_runner,
        {"fix.patch": TARBALL_SHA},
    )
    with pytest.raises(ExecutionError) as e:
        gather(rule_runner, (SourceFile("fix.patch", None),))
    assert "specs/x/fix.patch does not match specs/x/x.signatures.json: expected sha256" in str(e.value)


def test_a_source_neither_present_nor_pinned_is_an_error(tmp_path: Path) -> None:
    rule_runner = keel_rule_runner(f"--rpm-sources-cache-dir={tmp_path}")
    workspace(rule_runner, {})
    with pytest.raises(ExecutionError) as e:
        gather(rule_runner, (SourceFile("y-2.0.tar.gz", "https://upstream.invalid/y-2.0.tar.gz"),))
    assert (
        "source y-2.0.tar.gz is neither next to the spec nor pinned in specs/x/x.signatures.json"
        in str(e.value)
    )


def test_a_missing_source_is_an_error_of_its_target_and_an_answer_of_the_check(tmp_path: Path) -> None:
    # The target's address travels with the error: a dependent's build passes it on, and
    # rpm-compat says "blocked by specs/x:x", not that the dependent lacks a source.
    never = hashlib.sha256(b"a release nobody kept\n").hexdigest()
    rule_runner = keel_rule_runner(f"--rpm-sources-cache-dir={tmp_path}")
    workspace(rule_runner, {"x-1.0.tar.gz": never})
    wanted = (SourceFile("x-1.0.tar.gz", "https://upstream.invalid/x-1.0.tar.gz"), SourceFile("fix.patch", None))
    with pytest.raises(ExecutionError) as e:
        gather(rule_runner, wanted)
    (error,) = [w for w in e.value.wrapped_exceptions if isinstance(w, SourceError)]
    assert error.address == X

    # The check answers with data: which pin is missing, where keel looked, what each gave.
    found = rule_runner.request(SourcesAvailability, [sources_request(rule_runner, wanted)])
    assert not found.available and found.error is None
    (missing,) = found.missing
    assert (missing.filename, missing.signatures_path) == ("x-1.0.tar.gz", "specs/x/x.signatures.json")
    assert missing.reason.startswith("not in the source cache; https://upstream.invalid/x-1.0.tar.gz: ")
    assert missing.looked_in == (
        str(tmp_path / "x-1.0.tar.gz"), str(tmp_path / "by-sha256" / never), "https://upstream.invalid/x-1.0.tar.gz",
    )
    assert [a.split(": ", 1)[0] for a in missing.attempts] == list(missing.looked_in)

    # A source neither local nor pinned: the check says so instead of raising.
    unpinned = rule_runner.request(
        SourcesAvailability, [sources_request(rule_runner, (SourceFile("y-2.0.tar.gz", None),))]
    )
    assert "neither next to the spec nor pinned" in (unpinned.error or "")
