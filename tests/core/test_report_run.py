"""What a run did, from workunits shaped as Pants 2.17 hands them to a workunits callback: the
targets asked for, the actions' wait and run times, and a failed run's failed, blocked and stopped
targets."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rules.core.report_run import RunFacts, RunLog, needs, package_rows, run_error

GOAL = "goal-span"


def unit(name: str, span: str, start: float, end: float | None = None, *, parent: str | None = None, **extra) -> dict:
    w = {
        "name": name,
        "span_id": span,
        "parent_id": parent,
        "parent_ids": [parent] if parent else [],
        "level": extra.pop("level", "DEBUG"),
        "start_secs": int(start),
        "start_nanos": int(round((start % 1) * 1e9)),
        "description": extra.pop("description", ""),
        "metadata": extra.pop("metadata", {}),
        "artifacts": extra.pop("artifacts", {}),
    }
    if end is not None:
        w["duration_secs"] = int(end - start)
        w["duration_nanos"] = int(round(((end - start) % 1) * 1e9))
    return w


def process(
    span: str, description: str, start: float, end: float, *, exit_code: int = 0, source: str = "Ran",
    level: str = "INFO",
) -> dict:
    return unit(
        "process", span, start, end,
        description=f"Scheduling: {description}",
        metadata={
            "definition": json.dumps({"level": level, "execution_environment": {"strategy": "Local"}}),
            "source": source,
            "exit_code": exit_code,
            "environment_type": "local",
        },
        artifacts={"stdout_digest": f"out-{span}"},
    )


def package(address: str, span: str, start: float, end: float | None = None) -> dict:
    return unit(
        "rules.rpm.goals.package.package_rpm", span, start, end, parent=GOAL,
        description=f"Package RPMs - {address}", metadata={"address": address},
    )


LOGGED_ERROR = (
    "1 Exception encountered:\n\nEngine traceback:\n  in `package` goal\n\n"
    "RpmBuildError: rpmbuild failed for specs/broken/broken.spec (target specs/broken:broken) in the "
    "root of toolchain:official (exit 1):\n+ exit 1\nerror: Bad exit status from /var/tmp/rpm-tmp.1 (%build)\n"
    "The whole log: /ws/.pants.d/keel/logs/specs.broken.rpmbuild.log (or run with "
    "`--keep-sandboxes=on_failure` to keep the build's sandbox)."
)
ENTRY = {
    "kind": "rpm", "target": "specs/other:other", "obtained": "built", "seconds": 1.1,
    "outputs": ["RPMS/noarch/other-1.0-1.noarch.rpm"], "remote_execution": False, "worker": None,
}


def failed_run() -> RunLog:
    log = RunLog()
    # Started in one poll: the goal, its three package rules, two processes.
    log.add(
        [
            unit("pants.core.goals.package.package_asset", GOAL, 10.0),
            package("specs/other:other", "p-other", 10.1),
            package("specs/broken:broken", "p-broken", 10.1),
            package("specs/needy:needy", "p-needy", 10.1),
            package("toolchain:official", "p-stage", 10.1),
            process("rb-other", "rpmbuild other-1.0-1 (specs/other:other)", 11.0, 13.0),
            unit("run_local_process", "r-other", 11.0, parent="rb-other", level="INFO"),
        ],
        completed=False,
    )
    log.add(
        [
            unit("run_local_process", "r-other", 11.0, 13.0, parent="rb-other", level="INFO"),
            process("rb-other", "rpmbuild other-1.0-1 (specs/other:other)", 11.0, 13.0),
            unit("acquire_command_runner_slot", "slot", 13.1, 14.0, parent="rb-broken"),
            unit("run_local_process", "r-broken", 14.0, 14.5, parent="rb-broken", level="INFO"),
            process("rb-broken", "rpmbuild broken-1.0-1 (specs/broken:broken)", 13.1, 14.5, exit_code=1),
            process("q", "rpmspec specs/broken/broken.spec", 10.5, 10.6, level="DEBUG"),
            process("root", "Make the bootstrap root of toolchain:bootstrap", 10.2, 10.3, source="HitLocally"),
            # needy's package rule ended with broken's error; the stage's finished too.
            package("specs/needy:needy", "p-needy", 10.1, 14.6),
            package("toolchain:official", "p-stage", 10.1, 12.0),
        ],
        completed=True,
    )
    log.errors.append(LOGGED_ERROR)
    return log


FACTS = RunFacts(succeeded=False, root="/ws", dist="/ws/dist", page_dir="/ws/.pants.d/keel")


def test_a_failed_run_names_the_failed_target_its_error_and_log() -> None:
    rows = {r.target: r for r in package_rows([ENTRY], failed_run(), FACTS)}
    assert {t: r.state for t, r in rows.items()} == {
        "specs/broken:broken": "failed",
        "specs/needy:needy": "stopped",
        "toolchain:official": "stopped",
        "specs/other:other": "built",
    }
    broken = rows["specs/broken:broken"]
    assert broken.error.startswith("RpmBuildError: rpmbuild failed for specs/broken/broken.spec")
    assert "1 Exception encountered" not in broken.error
    assert broken.log == ".pants.d/keel/logs/specs.broken.rpmbuild.log"
    assert broken.log_href == "logs/specs.broken.rpmbuild.log"  # from the page in .pants.d/keel/
    assert rows["specs/needy:needy"].note == "no output: the run stopped at the first failure, of specs/broken:broken"
    # Built, but a failed run writes nothing to dist/: no sha256.
    other = rows["specs/other:other"]
    assert other.outputs[0].sha256 is None and other.note == "not written to dist/: the run failed"


def test_blocked_by_what_rpm_graphs_edges_say_its_build_needs() -> None:
    graph = {
        "edges": [
            {"from": "specs/needy:needy", "to": "specs/broken:broken", "kind": "BuildRequires"},
            {"from": "specs/broken:broken", "to": "specs/other:other", "kind": "BuildRequires"},
            {"from": "toolchain:official", "to": "toolchain:bootstrap", "kind": "base"},
        ]
    }
    rows = {r.target: r for r in package_rows([ENTRY], failed_run(), RunFacts(**{**FACTS.__dict__, "graph": graph}))}
    assert (rows["specs/needy:needy"].state, rows["specs/needy:needy"].blocked_by) == ("blocked", "specs/broken:broken")
    assert rows["toolchain:official"].state == "stopped"
    # A target's own Requires are not what its build needs; its BuildRequires' Requires are.
    requires = {
        "edges": [
            {"from": "a", "to": "b", "kind": "Requires"},
            {"from": "c", "to": "d", "kind": "BuildRequires"},
            {"from": "d", "to": "b", "kind": "Requires"},
        ]
    }
    assert needs(requires, "a", {"b"}) is None
    assert needs(requires, "c", {"b"}) == "b"


def test_a_failed_process_beside_the_logged_error_shows_its_own_output() -> None:
    log = failed_run()
    log.add([process("rb-other", "rpmbuild other-1.0-1 (specs/other:other)", 11.0, 13.0, exit_code=2)], completed=True)
    outputs = {"out-rb-other": "".join(f"line {i}\n" for i in range(100)) + "error: other failed too\n"}
    rows = {r.target: r for r in package_rows([], log, FACTS, lambda artifacts: outputs[artifacts["stdout_digest"]])}
    assert rows["specs/other:other"].state == "failed"
    assert rows["specs/other:other"].error.splitlines()[-1] == "error: other failed too"
    assert len(rows["specs/other:other"].error.splitlines()) == 30
    assert rows["specs/other:other"].note == "rpmbuild other-1.0-1 (specs/other:other) exited 2"


def test_actions_wait_run_and_come_from_caches() -> None:
    actions = {a.description: a for a in failed_run().actions(now=20.0, targets=["specs/broken:broken"])}
    # Only the processes Pants shows (INFO), not the queries under them.
    assert set(actions) == {
        "rpmbuild other-1.0-1 (specs/other:other)",
        "rpmbuild broken-1.0-1 (specs/broken:broken)",
        "Make the bootstrap root of toolchain:bootstrap",
    }
    broken = actions["rpmbuild broken-1.0-1 (specs/broken:broken)"]
    assert (broken.start, broken.ran_from, broken.end, broken.failed) == (13.1, 14.0, 14.5, True)
    assert broken.target == "specs/broken:broken"
    cached = actions["Make the bootstrap root of toolchain:bootstrap"]
    assert (cached.ran_from, cached.source) == (None, "local cache")


def test_an_action_that_never_ended_did_not_finish() -> None:
    log = RunLog()
    log.add(
        [
            process("rb", "rpmbuild slow-1 (specs/slow:slow)", 5.0, 5.0),
            unit("run_local_process", "r", 5.5, parent="rb", level="INFO"),
        ],
        completed=False,
    )
    (action,) = log.actions(now=9.0)
    assert (action.ran_from, action.end, action.source) == (5.5, 9.0, "did not finish")
    assert action.target == "specs/slow:slow"


def test_a_successful_run_hashes_its_outputs(tmp_path: Path) -> None:
    rpm = tmp_path / "dist" / "RPMS" / "noarch" / "other-1.0-1.noarch.rpm"
    rpm.parent.mkdir(parents=True)
    rpm.write_bytes(b"rpm")
    repo = tmp_path / "dist" / "repos" / "core"
    (repo / "repodata").mkdir(parents=True)
    (repo / "repodata" / "repomd.xml").write_text("<repomd/>")
    repository = {"kind": "repository", "target": "repos:core", "obtained": "local cache", "outputs": ["repos/core"]}
    entries = [ENTRY, repository]
    facts = RunFacts(succeeded=True, root=str(tmp_path), dist=str(tmp_path / "dist"), page_dir=str(tmp_path / "dist"))
    rows = {r.target: r for r in package_rows(entries, RunLog(), facts)}
    assert rows["specs/other:other"].outputs[0].sha256 == hashlib.sha256(b"rpm").hexdigest()
    # A directory output: each of its files.
    assert [o.path for o in rows["repos:core"].outputs] == ["repos/core/repodata/repomd.xml"]


def test_run_error_drops_pants_header() -> None:
    assert run_error([LOGGED_ERROR]).splitlines()[0].startswith("RpmBuildError: rpmbuild failed")
    assert run_error(["", "\n"]) == ""
