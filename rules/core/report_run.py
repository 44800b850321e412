"""What a `./pants package` run did, from its workunits: its actions (the processes, when each
was scheduled, waited for a slot, ran and ended), the targets the goal was asked for, and, when
the run failed, which target failed and what became of the others: blocked by it (when rpm-graph's
graph in dist/ says their build needs it) or stopped (`./pants package` ends at the first
failure; `./pants rpm-compat` carries on and knows every target's blocker). The build page
(report_page.py) shows it.

Pure (no Pants imports): BuildReportCallback (report.py) feeds `RunLog` the workunit dicts Pants
hands to every workunits callback, and the errors the run logged; the unit tests feed it dicts.

Why a failure is read from two places: Pants hands no error to workunits callbacks. A failed
process's workunit has its exit code and output; any other failure (a spec rpmspec cannot read, a
missing source) is only in the error Pants logs when the run ends. keel's errors name their target
("... (target specs/foo:foo) ..."; rpmbuild's also "The whole log: PATH", rules/rpm's
build_log), which is how the page attributes them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from rules.core.report_page import Action, Output, TargetRow

# The workunit of a process that ran, under the process's own: locally, or by remote execution.
_RUNS = ("run_local_process", "run_execute_request")
_PACKAGE_GOAL = "pants.core.goals.package.package_asset"
_SOURCE = {"Ran": "ran", "HitLocally": "local cache", "HitRemotely": "remote cache"}
# The processes shown: those Pants shows as "Starting:" lines (keel's build actions), not the
# many small queries (rpmspec, host tool fingerprints) under them.
_SHOWN = ("INFO", "WARN", "ERROR")
# keel's errors: "... for specs/foo/foo.spec (target specs/foo:foo) ..." and rpmbuild's log.
_NAMED_TARGET = re.compile(r"\(target ([^\s()]+)\)")
_WHOLE_LOG = re.compile(r"The whole log: (\S+?)(?=\s|$)")
_TRAILING_ADDRESS = re.compile(r"\(([^\s()]+:[^\s()]+)\)\s*$")
# Pants' lines before the error itself.
_HEADER = re.compile(r"^(\d+ Exceptions? encountered:|Engine traceback:|\s+in .*|\s*)$")
_EXCEPTION = re.compile(r"^[A-Z]\w*(Error|Exception|Failure): ")
# A failed process's output, when no logged error has more: its last lines.
_TAIL_LINES = 30


def _start(workunit: Mapping) -> float:
    return workunit.get("start_secs", 0) + workunit.get("start_nanos", 0) / 1e9


def _end(workunit: Mapping) -> float:
    return _start(workunit) + workunit.get("duration_secs", 0) + workunit.get("duration_nanos", 0) / 1e9


@dataclass
class _Process:
    description: str
    start: float
    end: float | None = None
    level: str = ""
    source: str = "ran"
    exit_code: int | None = None
    remote: bool = False
    artifacts: Mapping = field(default_factory=dict)


@dataclass
class RunLog:
    """One run's workunits as they arrive, poll by poll (so not frozen: it is filled in)."""

    processes: dict[str, _Process] = field(default_factory=dict)  # by span id
    runs: dict[str, tuple[float, float | None, str]] = field(default_factory=dict)  # by process span: start, end, level
    # The package goal's own rules, one per target asked for: address -> (parent spans, completed).
    asked: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)
    goal_spans: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def add(self, workunits: Iterable[Mapping], *, completed: bool) -> None:
        for w in workunits:
            name, span = w.get("name"), w.get("span_id")
            if name == _PACKAGE_GOAL:
                self.goal_spans.add(span)
            metadata = w.get("metadata") or {}
            address = metadata.get("address")
            if isinstance(address, str):
                parents, done = self.asked.get(address, ((), False))
                self.asked[address] = (tuple(w.get("parent_ids") or ()) or parents, done or completed)
            if name in _RUNS:
                parent = w.get("parent_id")
                if parent:
                    self.runs[parent] = (_start(w), _end(w) if completed else None, w.get("level", ""))
            elif name == "process":
                self._process(w, completed)

    def _process(self, w: Mapping, completed: bool) -> None:
        metadata = w.get("metadata") or {}
        process = self.processes.get(w["span_id"]) or _Process(
            description=re.sub(r"^Scheduling: ", "", w.get("description") or ""), start=_start(w)
        )
        if completed:
            process.end = _end(w)
            try:
                definition = json.loads(metadata.get("definition") or "{}")
            except ValueError:
                definition = {}
            process.level = definition.get("level", "")
            strategy = (definition.get("execution_environment") or {}).get("strategy", "")
            process.remote = metadata.get("environment_type") == "remote" or "Remote" in str(strategy)
            process.source = _SOURCE.get(metadata.get("source", ""), "ran")
            process.exit_code = metadata.get("exit_code")
            process.artifacts = w.get("artifacts") or {}
        self.processes[w["span_id"]] = process

    def asked_targets(self) -> list[str]:
        """The targets the package goal was asked for (its rules' field sets name them)."""
        return [a for a, (parents, _) in self.asked.items() if self.goal_spans.intersection(parents)]

    def actions(self, now: float, targets: Iterable[str] = ()) -> list[Action]:
        """keel's build actions of the run, with the target each is for when it names one."""
        known = sorted(set(targets), key=len, reverse=True)
        found = []
        for span, p in self.processes.items():
            run_start, run_end, run_level = self.runs.get(span, (None, None, ""))
            if (p.level or run_level) not in _SHOWN:
                continue
            end = p.end if p.end is not None else (run_end if run_end is not None else now)
            unfinished = p.end is None
            found.append(
                Action(
                    description=p.description,
                    start=p.start,
                    end=max(end, p.start),
                    ran_from=run_start if (run_start is not None or unfinished) else None,
                    source="did not finish" if unfinished else p.source,
                    failed=bool(p.exit_code),
                    remote=p.remote,
                    target=_target_of(p.description, known),
                )
            )
        return sorted(found, key=lambda a: (a.start, a.end))

    def failed_processes(self, targets: Iterable[str]) -> list[tuple[str, _Process]]:
        known = sorted(set(targets), key=len, reverse=True)
        return [
            (target, p)
            for p in self.processes.values()
            if p.exit_code and (p.level in _SHOWN) and (target := _target_of(p.description, known))
        ]


def _target_of(description: str, known: list[str]) -> str | None:
    for address in known:
        if re.search(rf"(?<![\w/.:-]){re.escape(address)}(?![\w/.:-])", description):
            return address
    match = _TRAILING_ADDRESS.search(description)
    return match.group(1) if match else None


def run_error(messages: Iterable[str]) -> str:
    """The errors the run logged, without Pants' header lines ("1 Exception encountered:",
    "Engine traceback:", "in `package` goal")."""
    texts = []
    for message in messages:
        lines = message.splitlines()
        while lines and _HEADER.match(lines[0]):
            lines.pop(0)
        if lines:
            texts.append("\n".join(lines).rstrip())
    return "\n\n".join(texts)


def error_blocks(error: str) -> list[str]:
    """One block per exception of a logged error (Pants lists each as `TypeName: message`)."""
    blocks: list[list[str]] = []
    for line in error.splitlines():
        if _EXCEPTION.match(line) or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    return ["\n".join(b).strip() for b in blocks if "".join(b).strip()]


def _display_path(path: str, root: str) -> str:
    """A path as the user would type it from the workspace's root."""
    if os.path.isabs(path) and (path + os.sep).startswith(root.rstrip(os.sep) + os.sep):
        return os.path.relpath(path, root)
    return path


def needs(graph: Mapping, target: str, failed: Iterable[str]) -> str | None:
    """The failed target that `target`'s build needs, by rpm-graph's edges, if any: its
    BuildRequires (and what they need installed: their Requires), an image's packages, the
    stages roots are made from. Not the target's own Requires: its build does not install them."""
    edges: dict[str, list[tuple[str, str]]] = {}
    for edge in graph.get("edges") or ():
        edges.setdefault(edge["from"], []).append((edge["to"], edge["kind"]))
    failed = set(failed)
    seen, queue = {target}, [(to, kind) for to, kind in edges.get(target, ()) if kind != "Requires"]
    while queue:
        node, _ = queue.pop(0)
        if node in failed:
            return node
        if node not in seen:
            seen.add(node)
            queue.extend(edges.get(node, ()))
    return None


def output_digests(dist: str, paths: Iterable[str]) -> tuple[Output, ...]:
    """Each output under dist/ with its sha256; a directory output (a repository) as its files."""
    found = []
    for path in paths:
        full = Path(dist) / path
        files = sorted(p for p in full.rglob("*") if p.is_file()) if full.is_dir() else [full]
        for f in files:
            digest = hashlib.sha256()
            try:
                with open(f, "rb") as stream:
                    for chunk in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(chunk)
            except OSError:
                found.append(Output(os.path.relpath(f, dist)))
                continue
            found.append(Output(os.path.relpath(f, dist), digest.hexdigest()))
    return tuple(found)


@dataclass(frozen=True)
class RunFacts:
    """What the callback knows besides the workunits."""

    succeeded: bool
    root: str  # the build root: paths are shown relative to it
    dist: str  # dist/, absolute
    page_dir: str  # where the page is written: links are relative to it
    graph: Mapping | None = None  # rpm-graph's graph.json, when dist/ has one


def package_rows(
    entries: Iterable[Mapping],
    log: RunLog,
    facts: RunFacts,
    read_output: Callable[[Mapping], str] = lambda artifacts: "",
) -> list[TargetRow]:
    """A row per target: each output of the build report (rules/core/report.py's entries), and in
    a failed run each target asked for that got none: failed, blocked or stopped."""
    rows: dict[str, TargetRow] = {}
    for entry in entries:
        outputs = entry.get("outputs") or ()
        rows[entry["target"]] = TargetRow(
            target=entry["target"],
            state=entry["obtained"],
            kind=entry.get("kind", ""),
            seconds=entry.get("seconds"),
            worker=entry.get("worker"),
            outputs=(
                output_digests(facts.dist, outputs) if facts.succeeded else tuple(Output(o) for o in outputs)
            ),
            note=(
                ("by remote execution" if entry.get("remote_execution") else "")
                or ("" if facts.succeeded or not outputs else "not written to dist/: the run failed")
            ),
        )
    if facts.succeeded:
        return sorted(rows.values(), key=lambda r: r.target)

    asked = log.asked_targets()
    known = [*rows, *asked]
    error = run_error(log.errors)
    blocks = error_blocks(error)
    failed: dict[str, TargetRow] = {}

    def failure(target: str, text: str, note: str = "") -> TargetRow:
        whole_log = _WHOLE_LOG.search(text)
        log_path = _display_path(whole_log.group(1), facts.root) if whole_log else None
        href = os.path.relpath(os.path.join(facts.root, log_path), facts.page_dir) if log_path else None
        return TargetRow(target, "failed", error=text, log=log_path, log_href=href, note=note)

    # The logged error names its target.
    for block in blocks:
        named = _NAMED_TARGET.search(block)
        target = named.group(1) if named else _target_of(block.splitlines()[0], sorted(known, key=len, reverse=True))
        if target and target not in rows and target not in failed:
            failed[target] = failure(target, block)
    # A process of a target that failed beside it: its own output says why.
    for target, process in log.failed_processes(known):
        if target not in rows and target not in failed:
            tail = "\n".join(read_output(process.artifacts).splitlines()[-_TAIL_LINES:])
            failed[target] = failure(target, tail, note=f"{process.description} exited {process.exit_code}")
    # The others asked for got no output. Which of them needed a failed target, the run does not
    # say: `./pants package` stops at the first failure, and no workunit names what a rule was
    # waiting for. rpm-graph's graph, when dist/ has one, does.
    first_failed = next(iter(failed), None)
    for target in asked:
        if target in rows or target in failed:
            continue
        blocker = needs(facts.graph, target, failed) if facts.graph else None
        if blocker:
            rows[target] = TargetRow(
                target, "blocked", blocked_by=blocker, note="its build needs it (dist/rpm-graph/graph.json)"
            )
        elif not failed and log.asked[target][1]:
            # The run's error names no target: this one's rule ended, with it.
            rows[target] = failure(target, error)
        else:
            rows[target] = TargetRow(
                target,
                "stopped",
                note="no output: the run stopped at the first failure"
                + (f", of {first_failed}" if first_failed else ""),
            )
    rows.update(failed)
    trouble = ("failed", "blocked", "stopped")
    return sorted(
        rows.values(), key=lambda r: (trouble.index(r.state) if r.state in trouble else len(trouble), r.target)
    )
