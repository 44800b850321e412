"""A failed process: Pants' own ProcessExecutionFailure, with keel's line on top.

A rule that runs a FallibleProcessResult to recognise failures it can explain (a stale lock, a
partition too small) raises its own error for those, and `check_process` for any other exit: the
error begins with keel's line naming the target and the step, then carries the whole stdout and
stderr and Pants' `--keep-sandboxes=on_failure` hint, like every failed ProcessResult of Pants.
"""
from __future__ import annotations

from pants.engine.process import FallibleProcessResult, ProcessExecutionFailure
from pants.engine.rules import Get
from pants.option.global_options import KeepSandboxes


class KeelProcessFailure(ProcessExecutionFailure):
    """ProcessExecutionFailure whose message starts with `headline`."""

    def __init__(
        self,
        headline: str,
        result: FallibleProcessResult,
        process_description: str,
        *,
        keep_sandboxes: KeepSandboxes,
    ) -> None:
        super().__init__(
            result.exit_code,
            result.stdout,
            result.stderr,
            process_description,
            keep_sandboxes=keep_sandboxes,
        )
        self.headline = headline
        self.args = (f"{headline}\n{self.args[0]}",)


async def check_process(result: FallibleProcessResult, process_description: str, headline: str) -> None:
    """Raise KeelProcessFailure when `result` exited non-zero; `headline` says what failed, for
    which target."""
    if result.exit_code == 0:
        return
    keep_sandboxes = await Get(KeepSandboxes)
    raise KeelProcessFailure(headline, result, process_description, keep_sandboxes=keep_sandboxes)
