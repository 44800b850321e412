"""The build report: how each RPM and image of a `./pants package` run was obtained.

Each packaged output asks for a `BuildReportEntry`, computed from the metadata of the process that
made it and the current run's id: "built" (with seconds, and for remote execution the worker),
"local cache", "remote cache", or "unchanged" (memoized by pantsd from an earlier run); or
"seeded" for RPMs taken from the package seed (`[rpm].seed`) instead of being built. The entry
is a line in the console and, as workunit metadata, picked up by `BuildReportCallback`, which
writes `dist/keel-report.json` when the run ends.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

from pants.core.util_rules import distdir
from pants.core.util_rules.distdir import DistDir
from pants.engine import streaming_workunit_handler
from pants.engine.engine_aware import EngineAwareReturnType
from pants.engine.internals.session import RunId
from pants.engine.process import ProcessResultMetadata
from pants.engine.rules import collect_rules, rule
from pants.engine.streaming_workunit_handler import (
    WorkunitsCallback,
    WorkunitsCallbackFactory,
    WorkunitsCallbackFactoryRequest,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

logger = logging.getLogger(__name__)

REPORT_NAME = "keel-report.json"
_KEY = "keel_report"
_OBTAINED = {
    ProcessResultMetadata.Source.RAN: "built",
    ProcessResultMetadata.Source.HIT_LOCALLY: "local cache",
    ProcessResultMetadata.Source.HIT_REMOTELY: "remote cache",
    ProcessResultMetadata.Source.MEMOIZED: "unchanged",
}
_PHRASE = {
    "built": "built",
    "seeded": "seeded",
    "local cache": "from the local cache",
    "remote cache": "from the remote cache",
    "unchanged": "unchanged since the last run",
}


@dataclass(frozen=True)
class BuildReportEntryRequest:
    kind: str  # "rpm", "image", "repository", or "root": the base's root a layered image was installed on
    target: str
    outputs: tuple[str, ...]
    # Part of equality on purpose, unlike in ProcessResult: the engine keeps one node per equal
    # request, so were the metadata left out, a request whose process ran again in a later run
    # would be answered from the node of the earlier request, with the earlier run's metadata (a
    # rebuild reported as "unchanged"). With it, a process that ran again makes a new request
    # ("built"), and a process memoized by pantsd hands over the very same metadata: an equal
    # request, recomputed every run all the same because the rule reads RunId ("unchanged").
    # None for an output no process made (seeded).
    process: ProcessResultMetadata | None
    seeded: bool = False  # taken from the package seed: no process made it
    # The remote execution worker that ran the process (rules/sandbox/root.py worker_of).
    worker: str | None = None


@dataclass(frozen=True)
class BuildReportEntry(EngineAwareReturnType):
    kind: str
    target: str
    outputs: tuple[str, ...]
    obtained: str
    seconds: float | None
    # "built" by remote execution: on which worker (its host name), when the action said.
    remote_execution: bool = False
    worker: str | None = None

    def describe(self) -> str:
        where = ""
        if self.remote_execution:
            where = " by remote execution" + (f" on {self.worker}" if self.worker else "")
        if self.obtained == "built" and self.seconds is not None:
            return f"built in {self.seconds:.1f} s{where}"
        return _PHRASE[self.obtained] + where

    def metadata(self) -> dict[str, Any]:
        return {_KEY: asdict(self)}


@rule(desc="Report how an output was obtained", level=LogLevel.DEBUG)
async def build_report_entry(request: BuildReportEntryRequest, run_id: RunId) -> BuildReportEntry:
    if request.seeded or request.process is None:
        return BuildReportEntry(request.kind, request.target, request.outputs, "seeded", None)
    source = request.process.source(run_id)
    elapsed = request.process.total_elapsed_ms
    ran = source == ProcessResultMetadata.Source.RAN
    remote = ran and request.process.execution_environment.remote_execution
    return BuildReportEntry(
        kind=request.kind,
        target=request.target,
        outputs=request.outputs,
        obtained=_OBTAINED[source],
        seconds=round(elapsed / 1000, 2) if ran and elapsed is not None else None,
        remote_execution=remote,
        worker=request.worker if remote else None,
    )


def summary(outputs: list[dict], path: str) -> str:
    """The closing console line, e.g. "keel: 3 RPMs, 1 image: 1 built, 3 from the remote cache"."""

    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    kinds = [
        count(n, noun)
        for kind, noun in (("rpm", "RPM"), ("image", "image"), ("repository", "repository"), ("root", "base root"))
        if (n := sum(o["kind"] == kind for o in outputs))
    ]
    how = [
        f"{n} {_PHRASE[obtained]}"
        for obtained in _PHRASE
        if (n := sum(o["obtained"] == obtained for o in outputs))
    ]
    remote = [o for o in outputs if o.get("remote_execution")]
    if remote:
        workers = {o.get("worker") or "" for o in remote}
        how.append(f"{len(remote)} by remote execution on {count(len(workers), 'worker')}")
    return f"keel: {', '.join(kinds)}: {', '.join(how)} (details in {path})"


class BuildReportCallback(WorkunitsCallback):
    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: dict[str, dict] = {}

    @property
    def can_finish_async(self) -> bool:
        return False

    def __call__(self, *, completed_workunits, started_workunits, context, finished: bool = False, **kwargs) -> None:
        for workunit in completed_workunits:
            entry = (workunit.get("metadata") or {}).get(_KEY)
            if entry:
                key = f"{entry['kind']}:{entry['target']}"
                # An RPM packaged by name and also needed by an image: one entry, with the files
                # written to dist/.
                outputs = {*self.entries.get(key, {}).get("outputs", ()), *entry["outputs"]}
                self.entries[key] = {**entry, "outputs": sorted(outputs)}
        # A failed run writes nothing to dist/ (Pants ends the run before the last call here).
        if finished and self.entries and context.run_tracker.run_information().get("outcome") == "SUCCESS":
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            report = {"version": 1, "outputs": [self.entries[k] for k in sorted(self.entries)]}
            with open(self.path, "w") as f:
                json.dump(report, f, indent=2, sort_keys=True)
                f.write("\n")
            logger.info(summary(report["outputs"], self.path))


class BuildReportCallbackFactoryRequest:
    """Installs BuildReportCallback in every run."""


@rule
def build_report_callback_factory(
    _: BuildReportCallbackFactoryRequest, dist: DistDir
) -> WorkunitsCallbackFactory:
    path = os.path.join(str(dist.relpath), REPORT_NAME)
    return WorkunitsCallbackFactory(lambda: BuildReportCallback(path))


def rules():
    return [
        *collect_rules(),
        # Installed by Pants itself; listed so the rules stand alone (e.g. in RuleRunner tests).
        *distdir.rules(),
        *streaming_workunit_handler.rules(),
        UnionRule(WorkunitsCallbackFactoryRequest, BuildReportCallbackFactoryRequest),
    ]
