"""The build report: how each RPM and image of a `./pants package` run was obtained.

Each packaged output asks for a `BuildReportEntry`, computed from the metadata of the process that
made it and the current run's id: "built" (with seconds, and for remote execution the worker),
"local cache", "remote cache", or "unchanged" (memoized by pantsd from an earlier run); or
"seeded" for RPMs taken from the package seed (`[rpm].seed`) instead of being built. The entry
is a line in the console and, as workunit metadata, picked up by `BuildReportCallback`, which
writes `dist/keel-report.json` when the run ends.

The callback also writes the build page, `dist/keel-report.html` (report_page.py): every target's
state, time, worker and outputs with their sha256, a timeline of the run's actions
(report_run.py, from the workunits' start and end times), and rpm-graph's picture when dist/ has
one. A failed run writes nothing to dist/ (its outputs, and the report of them, stay those of the
last run that succeeded): its page, with the failed target's error and log, is
`.pants.d/keel/keel-report.html`, named in the console. The page is a run log, not a build output:
written by the callback, never cached, and a page that cannot be written is a warning, never a
failed build.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping

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
from pants.option.global_options import GlobalOptions
from pants.util.logging import LogLevel

from rules.core import report_page
from rules.core.report_run import RunFacts, RunLog, package_rows, run_error

logger = logging.getLogger(__name__)

REPORT_NAME = "keel-report.json"
PAGE_NAME = "keel-report.html"
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


class _LoggedErrors(logging.Handler):
    """The errors logged during a run. Pants hands workunits callbacks no error: a failed run's
    error (which names the failed target) is only logged, before the callback's last call."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(level=logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.into) < 20:  # the first errors are the page's; a flood is not
            try:
                self.into.append(record.getMessage())
            except Exception:  # a record that cannot be formatted: not the page's concern
                pass


class BuildReportCallback(WorkunitsCallback):
    def __init__(self, path: str, *, failed_page: str | None = None, root: str | None = None) -> None:
        self.path = path
        self.page = os.path.join(os.path.dirname(path), PAGE_NAME)
        self.failed_page = failed_page
        self.root = root  # the build root: by default the run's
        self.entries: dict[str, dict] = {}
        self.run: RunLog | None = RunLog()
        self._errors = _LoggedErrors(self.run.errors)
        logging.getLogger().addHandler(self._errors)

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
        if self.run is not None:
            try:
                self.run.add(started_workunits, completed=False)
                self.run.add(completed_workunits, completed=True)
            except Exception as e:  # the page is a run log: it must never cost the report or the build
                logger.warning(f"keel: no build page for this run: its workunits could not be read: {e!r}")
                self.run = None
        if not finished:
            return
        logging.getLogger().removeHandler(self._errors)
        run_information = context.run_tracker.run_information()
        self.root = self.root or run_information.get("buildroot") or os.getcwd()
        succeeded = run_information.get("outcome") == "SUCCESS"
        # A failed run writes nothing to dist/ (Pants ends the run before the last call here).
        if succeeded and self.entries:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            report = {"version": 1, "outputs": [self.entries[k] for k in sorted(self.entries)]}
            with open(self.path, "w") as f:
                json.dump(report, f, indent=2, sort_keys=True)
                f.write("\n")
            page = self.write_page(context, run_information, succeeded=True) if self.run else None
            logger.info(summary(report["outputs"], f"{self.path}{f' and {page}' if page else ''}"))
        # A failed `package` run; not another goal that packaged on the way (a test's runtime
        # packages), whose failure is the goal's own.
        elif not succeeded and self.run and self.run.asked_targets() and self.failed_page:
            page = self.write_page(context, run_information, succeeded=False)
            if page:
                logger.info(f"keel: what the failed run did, target by target: {page}")

    def write_page(self, context, run_information: Mapping[str, Any], *, succeeded: bool) -> str | None:
        """Write the build page; its path as shown, or None when it could not be written (a
        warning: the page must never fail a build)."""
        path = os.path.join(self.root, self.page if succeeded else self.failed_page)
        shown = os.path.relpath(path, self.root)
        try:
            report_page.write(self.page_of(context, run_information, succeeded, path), path)
        except Exception as e:
            logger.warning(f"keel: the build page {shown} was not written: {e!r}")
            return None
        return shown

    def page_of(self, context, run_information: Mapping[str, Any], succeeded: bool, path: str) -> report_page.Page:
        assert self.run is not None
        dist = os.path.join(self.root, os.path.dirname(self.path))
        svg, graph_note = report_page.read_graph(dist)
        graph = None
        try:
            with open(os.path.join(dist, "rpm-graph", "graph.json")) as f:
                graph = json.load(f)
        except (OSError, ValueError):
            pass

        def read_output(artifacts: Mapping[str, Any]) -> str:
            digests = [artifacts[k] for k in ("stdout_digest", "stderr_digest") if artifacts.get(k) is not None]
            try:
                return b"".join(context.single_file_digests_to_bytes(digests)).decode(errors="replace")
            except Exception:  # gone from the store, or not a digest: the logged error remains
                return ""

        facts = RunFacts(
            succeeded=succeeded,
            root=self.root,
            dist=dist,
            page_dir=os.path.dirname(path),
            graph=graph,
        )
        rows = package_rows(self.entries.values(), self.run, facts, read_output)
        headline = ("The run succeeded" if succeeded else "The run failed") + ": " + report_page.in_words(rows)
        return report_page.Page(
            title="keel build: " + ("succeeded" if succeeded else "failed"),
            headline=headline,
            targets=tuple(rows),
            facts=tuple(
                (label, str(value))
                for label, value in (
                    ("command", run_information.get("cmd_line")),
                    ("started", run_information.get("datetime")),
                    ("run id", run_information.get("id")),
                    ("page written", time.strftime("%Y-%m-%d %H:%M:%S")),
                    ("report", None if not succeeded else self.path),
                )
                if value
            ),
            error="" if succeeded else run_error(self.run.errors),
            actions=tuple(self.run.actions(time.time(), (r.target for r in rows))),
            graph_svg=svg,
            graph_note=graph_note,
        )


class BuildReportCallbackFactoryRequest:
    """Installs BuildReportCallback in every run."""


@rule
def build_report_callback_factory(
    _: BuildReportCallbackFactoryRequest, dist: DistDir, global_options: GlobalOptions
) -> WorkunitsCallbackFactory:
    path = os.path.join(str(dist.relpath), REPORT_NAME)
    # Beside the logs of failed builds (rules/rpm/util_rules/build_log.py): not in dist/.
    failed_page = os.path.join(global_options.pants_workdir, "keel", PAGE_NAME)
    return WorkunitsCallbackFactory(lambda: BuildReportCallback(path, failed_page=failed_page))


def rules():
    return [
        *collect_rules(),
        # Installed by Pants itself; listed so the rules stand alone (e.g. in RuleRunner tests).
        *distdir.rules(),
        *streaming_workunit_handler.rules(),
        UnionRule(WorkunitsCallbackFactoryRequest, BuildReportCallbackFactoryRequest),
    ]
