"""The build report's entries: how an output was obtained, across runs of one pantsd."""
from __future__ import annotations

from pants.engine.internals.native_engine import ProcessExecutionEnvironment
from pants.engine.internals.session import RunId
from pants.engine.process import ProcessResultMetadata
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from rules.core import report
from rules.core.report import BuildReportEntry, BuildReportEntryRequest, summary

RAN = ProcessResultMetadata.Source.RAN


def metadata(source: ProcessResultMetadata.Source, run_id: int, elapsed_ms: int = 1500) -> ProcessResultMetadata:
    environment = ProcessExecutionEnvironment(
        environment_name=None,
        platform="linux_x86_64",
        docker_image=None,
        remote_execution=False,
        remote_execution_extra_platform_properties=[],
    )
    return ProcessResultMetadata(elapsed_ms, environment, source.value, run_id)


def request(process: ProcessResultMetadata) -> BuildReportEntryRequest:
    return BuildReportEntryRequest("image", "images/core:vhdx", ("images/core/core.vhdx",), process)


def test_the_process_metadata_is_part_of_the_request() -> None:
    assert request(metadata(RAN, 1)) == request(metadata(RAN, 1))
    assert request(metadata(RAN, 1)) != request(metadata(RAN, 2))
    assert hash(request(metadata(RAN, 1))) != hash(request(metadata(RAN, 2)))


def test_one_pantsd_reports_built_then_unchanged_then_built_again() -> None:
    rule_runner = RuleRunner(
        rules=[
            *report.rules(),
            QueryRule(BuildReportEntry, [BuildReportEntryRequest]),
            QueryRule(RunId, []),
        ]
    )

    def obtained(entry_request: BuildReportEntryRequest) -> tuple[str, float | None]:
        entry = rule_runner.request(BuildReportEntry, [entry_request])
        return entry.obtained, entry.seconds

    first_run = rule_runner.request(RunId, [])
    built = request(metadata(RAN, first_run))
    assert obtained(built) == ("built", 1.5)

    rule_runner.new_session("second run")
    second_run = rule_runner.request(RunId, [])
    assert second_run != first_run
    # pantsd memoized the process: its result, metadata included, is the first run's.
    assert obtained(built) == ("unchanged", None)
    # The process ran again (e.g. its output's name stayed, its content changed): a new request,
    # not the entry computed a moment ago for the memoized one.
    assert obtained(request(metadata(RAN, second_run, elapsed_ms=2500))) == ("built", 2.5)
    assert obtained(request(metadata(ProcessResultMetadata.Source.HIT_REMOTELY, second_run))) == (
        "remote cache",
        None,
    )


    # RPMs taken from the package seed: no process made them, in any run.
    seeded = BuildReportEntryRequest("rpm", "specs/foo:foo", ("RPMS/noarch/foo-1-1.noarch.rpm",), None, seeded=True)
    assert obtained(seeded) == ("seeded", None)
    assert rule_runner.request(BuildReportEntry, [seeded]).describe() == "seeded"


def test_summary_counts_kinds_and_sources() -> None:
    outputs = [
        {"kind": "rpm", "obtained": "built"},
        {"kind": "rpm", "obtained": "remote cache"},
        {"kind": "rpm", "obtained": "seeded"},
        {"kind": "image", "obtained": "remote cache"},
    ]
    assert summary(outputs, "dist/keel-report.json") == (
        "keel: 3 RPMs, 1 image: 1 built, 1 seeded, 2 from the remote cache (details in dist/keel-report.json)"
    )
