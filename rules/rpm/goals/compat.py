"""`./pants rpm-compat`: build many rpm_package targets, carry on past failures, and report
each as built or failed with a category and the first line that says why.

`./pants package` stops at the first failure, as a build should. A distribution engineer
bringing a tree of specs to a new build root wants the other question answered: which of them
build here, and what stops the rest. Each target's build is tried on its own (a rule that turns
the failure into data), so one failing spec does not stop the others, and a spec whose
BuildRequires failed is reported as such.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass

from pants.core.util_rules.distdir import DistDir
from pants.engine.addresses import Address
from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import Targets
from pants.option.option_types import StrOption
from pants.util.logging import LogLevel
from pants.util.strutil import help_text

from rules.rpm.target_types import RpmPackageTarget
from rules.rpm.util_rules import build_log
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms, RpmBuildError, ToolchainOrderError
from rules.rpm.util_rules.package_graph import AmbiguousProviderError, BuildCycleError
from rules.rpm.util_rules.spec_info import InvalidSpecError
from rules.sources.fetch import SourceError

logger = logging.getLogger(__name__)

BUILT = "built"
# Failure categories, in the order the report lists them.
MISSING_BUILDREQUIRES = "missing BuildRequires"
DEPENDENCY_FAILED = "a BuildRequires target failed"
UNDEFINED_MACRO = "undefined macro"
CHECK_FAILED = "%check failed"
SOURCE_NOT_AVAILABLE = "source not available"
SPEC_UNREADABLE = "spec unreadable"
WRONG_ARCH = "not for this architecture"
RPMBUILD_ERROR = "rpmbuild error"
OTHER = "package graph error"
CATEGORIES = (
    MISSING_BUILDREQUIRES, DEPENDENCY_FAILED, UNDEFINED_MACRO, CHECK_FAILED,
    SOURCE_NOT_AVAILABLE, SPEC_UNREADABLE, WRONG_ARCH, RPMBUILD_ERROR, OTHER,
)

_NEEDED = re.compile(r"^\s+(.+?) is needed by ")
# An rpm error line holding a macro rpm could not expand, e.g.
# `error: File must begin with "/": %{perl_vendorlib}/*`. (Unbraced names are section names in
# rpm's own messages: "Bad exit status from ... (%build)".)
_UNEXPANDED = re.compile(r"%\{[?!]?([A-Za-z_]\w*)[}:]")
# A build script's trace of a command that is a macro rpm left as it was: `+ %cmake3 -DX=ON`.
_UNEXPANDED_COMMAND = re.compile(r"^\+ '?%\{?([A-Za-z_]\w*)")


class RpmCompatSubsystem(GoalSubsystem):
    name = "rpm-compat"
    help = help_text(
        """
        Build the given rpm_package targets, carrying on past failures, and report each as
        built or failed, with a category (missing BuildRequires, a BuildRequires target failed,
        undefined macro, %check failed, source not available, spec unreadable, not for this
        architecture, rpmbuild error) and the first line that says why. Writes
        `dist/NAME.json` and `dist/NAME.md` (see `--report-name`) and the log of every failed
        rpmbuild under `dist/NAME-logs/`.
        """
    )

    report_name = StrOption(
        default="rpm-compat",
        help="The report's file name under dist/, without extension.",
    )


class RpmCompat(Goal):
    subsystem_cls = RpmCompatSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@dataclass(frozen=True)
class BuildAttemptRequest:
    address: Address


@dataclass(frozen=True)
class BuildAttempt:
    address: Address
    built: tuple[str, ...]  # RPM files, when built
    category: str  # BUILT or a failure category
    detail: str  # e.g. the missing BuildRequires, or the target that failed
    first_error: str
    log: str  # the whole rpmbuild log of a failure, or ""


def classify_log(log: str) -> tuple[str, str]:
    """A failed rpmbuild's category and detail, from its log."""
    missing = [m.group(1) for line in log.splitlines() if (m := _NEEDED.match(line))]
    if missing:
        return MISSING_BUILDREQUIRES, ", ".join(dict.fromkeys(missing))
    if "Architecture is not included" in log or "No compatible architectures" in log:
        return WRONG_ARCH, ""
    errors = build_log.error_lines(log)
    if any("(%check)" in line for line in errors):
        return CHECK_FAILED, ""
    for line in errors:
        match = _UNEXPANDED.search(line)
        if match:
            return UNDEFINED_MACRO, match.group(1)
    for line in log.splitlines():
        match = _UNEXPANDED_COMMAND.match(line)
        if match:
            return UNDEFINED_MACRO, match.group(1)
    return RPMBUILD_ERROR, ""


@rule(desc="Try to build an RPM", level=LogLevel.DEBUG)
async def build_attempt(request: BuildAttemptRequest) -> BuildAttempt:
    address = request.address
    try:
        built = await Get(BuiltRpms, BuildRpmRequest(address))
    except RpmBuildError as e:
        if e.address != address:
            attempt = BuildAttempt(
                address, (), DEPENDENCY_FAILED, str(e.address),
                f"{e.address} failed: {build_log.first_error(e.log)}", "",
            )
        else:
            category, detail = classify_log(e.log) if e.log else (RPMBUILD_ERROR, "")
            first = build_log.first_error(e.log) if e.log else str(e).splitlines()[0]
            attempt = BuildAttempt(address, (), category, detail, first, e.log)
    except InvalidSpecError as e:
        lines = [line for line in str(e).splitlines()[1:] if line.strip()]
        first = next((line for line in lines if "error" in line.lower()), lines[0] if lines else str(e))
        category = UNDEFINED_MACRO if _UNEXPANDED.search(first) else SPEC_UNREADABLE
        attempt = BuildAttempt(address, (), category, "", first.strip(), "")
    except SourceError as e:
        lines = str(e).splitlines()
        attempt = BuildAttempt(address, (), SOURCE_NOT_AVAILABLE, "", lines[0], "")
    except (AmbiguousProviderError, BuildCycleError, ToolchainOrderError) as e:
        # The package graph around this target. Errors of the workspace as a whole (a toolchain
        # that does not build, a BUILD file that does not parse) end the run instead.
        attempt = BuildAttempt(address, (), OTHER, type(e).__name__, str(e).splitlines()[0], "")
    else:
        attempt = BuildAttempt(address, built.rpms, BUILT, "", "", "")
    if attempt.category == BUILT:
        logger.info(f"built {address}")
    else:
        detail = f" ({attempt.detail})" if attempt.detail else ""
        logger.info(f"FAILED {address}: {attempt.category}{detail}: {attempt.first_error}")
    return attempt


def markdown(attempts: list[BuildAttempt], title: str) -> str:
    counts = Counter(a.category for a in attempts)
    built = counts.pop(BUILT, 0)
    lines = [
        f"# {title}",
        "",
        f"{built} of {len(attempts)} built.",
        "",
        "| result | specs |",
        "| --- | --- |",
        f"| built | {built} |",
        *(f"| {c} | {counts[c]} |" for c in CATEGORIES if counts.get(c)),
        "",
        "| target | result | detail | first error line |",
        "| --- | --- | --- | --- |",
    ]
    for a in attempts:

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")[:200]

        lines.append(f"| {a.address} | {a.category} | {cell(a.detail)} | {cell(a.first_error)} |")
    return "\n".join(lines) + "\n"


@goal_rule
async def rpm_compat(
    console: Console,
    subsystem: RpmCompatSubsystem,
    targets: Targets,
    workspace: Workspace,
    dist: DistDir,
) -> RpmCompat:
    addresses = [t.address for t in targets if isinstance(t, RpmPackageTarget)]
    console.print_stderr(f"Building {len(addresses)} rpm_package targets, carrying on past failures.")
    attempts = list(await MultiGet(Get(BuildAttempt, BuildAttemptRequest(a)) for a in addresses))
    name = subsystem.report_name
    logs_dir = f"{name}-logs"
    report = {
        "version": 1,
        "built": sum(a.category == BUILT for a in attempts),
        "total": len(attempts),
        "categories": dict(sorted(Counter(a.category for a in attempts).items())),
        "targets": [
            {
                "target": str(a.address),
                "spec_dir": a.address.spec_path,
                "result": BUILT if a.category == BUILT else "failed",
                "category": a.category,
                "detail": a.detail,
                "first_error": a.first_error,
                "rpms": list(a.built),
                "log": os.path.join(str(dist.relpath), logs_dir, f"{a.address.path_safe_spec}.log")
                if a.log
                else None,
            }
            for a in attempts
        ],
    }
    files = [
        FileContent(f"{name}.json", (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()),
        FileContent(f"{name}.md", markdown(attempts, f"rpm-compat: {len(addresses)} specs").encode()),
        *(
            FileContent(f"{logs_dir}/{a.address.path_safe_spec}.log", a.log.encode())
            for a in attempts
            if a.log
        ),
    ]
    digest = await Get(Digest, CreateDigest(files))
    workspace.write_digest(digest, path_prefix=str(dist.relpath))
    counts = Counter(a.category for a in attempts)
    console.print_stdout(
        f"{report['built']} of {len(attempts)} built"
        + "".join(f"; {counts[c]} {c}" for c in CATEGORIES if counts.get(c))
        + f". Details: {dist.relpath}/{name}.md and {name}.json."
    )
    return RpmCompat(exit_code=0 if report["built"] == len(attempts) else 1)


def rules():
    return collect_rules()
