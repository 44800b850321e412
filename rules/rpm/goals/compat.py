"""`./pants rpm-compat`: build many rpm_package targets, carry on past failures, and give each
one a state, as a distribution's build service does: built, failed (with a category and the
first line that says why), blocked (by the nearest target of its build closure that failed, has
no sources or is unreadable), no sources (which pinned files, where keel looked) or unreadable.
Then the targets that block the most others: what to fix first.

`./pants package` stops at the first failure, as a build should. A distribution engineer
bringing a tree of specs to a new build root wants the other question answered: which of them
build here, and what stops the rest. The run goes in two steps. First every spec's sources are
fetched (what a build fetches first): a spec without them is not built, nor is a spec whose build
closure holds one, so a tree of thousands of specs, most of them without sources on the machine,
costs the builds of the few that can build. Then each remaining target's build is tried on its
own (a rule that turns the failure into data), so one failing spec does not stop the others.
The question is whether a spec builds from source here: a package `[rpm].seed` could supply is
still "no sources" when its sources are missing.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter, deque
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from pants.base.build_root import BuildRoot
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
from rules.rpm.util_rules.build import (
    BuildRpmRequest,
    BuiltRpms,
    PackageSourcesRequest,
    RpmBuildError,
    ToolchainOrderError,
)
from rules.rpm.util_rules.package_graph import (
    AmbiguousProviderError,
    BuildCycleError,
    RpmPackageGraph,
    TargetPackageGraphRequest,
)
from rules.rpm.util_rules.spec_info import InvalidSpecError
from rules.sources.fetch import MissingSource, SourceError, SourcesAvailability

logger = logging.getLogger(__name__)

# States: every target ends in exactly one.
BUILT = "built"
FAILED = "failed"
BLOCKED = "blocked"
NO_SOURCES = "no sources"
UNREADABLE = "unreadable"
STATES = (BUILT, FAILED, BLOCKED, NO_SOURCES, UNREADABLE)
# States that stop the targets whose build closure holds a target in them.
BLOCKING = (FAILED, NO_SOURCES, UNREADABLE)

# Categories, in the order the report lists them: the failure's kind for FAILED, and for the
# other states what their older readers knew them by.
MISSING_BUILDREQUIRES = "missing BuildRequires"
DEPENDENCY_FAILED = "a BuildRequires target failed"
DEPENDENCY_NO_SOURCES = "a BuildRequires target has no sources"
DEPENDENCY_UNREADABLE = "a BuildRequires target is unreadable"
UNDEFINED_MACRO = "undefined macro"
CHECK_FAILED = "%check failed"
SOURCE_NOT_AVAILABLE = "source not available"
SPEC_UNREADABLE = "spec unreadable"
WRONG_ARCH = "not for this architecture"
RPMBUILD_ERROR = "rpmbuild error"
OTHER = "package graph error"
CATEGORIES = (
    MISSING_BUILDREQUIRES, DEPENDENCY_FAILED, DEPENDENCY_NO_SOURCES, DEPENDENCY_UNREADABLE,
    UNDEFINED_MACRO, CHECK_FAILED, SOURCE_NOT_AVAILABLE, SPEC_UNREADABLE, WRONG_ARCH,
    RPMBUILD_ERROR, OTHER,
)
# A blocked target's category, by its blocker's state.
_BLOCKED_CATEGORY = {
    FAILED: DEPENDENCY_FAILED,
    NO_SOURCES: DEPENDENCY_NO_SOURCES,
    UNREADABLE: DEPENDENCY_UNREADABLE,
}
_BLOCKER_VERB = {FAILED: "failed", NO_SOURCES: "has no sources", UNREADABLE: "is unreadable"}
# How many targets the report lists as blocking the most.
TOP_BLOCKERS = 10

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
        Build the given rpm_package targets, carrying on past failures, and give each a state:
        built; failed, with a category (missing BuildRequires, undefined macro, %check failed,
        not for this architecture, rpmbuild error) and the first line that says why; blocked by
        the nearest target of its build closure that failed, has no sources or is unreadable;
        no sources (which pinned files are missing, where keel looked for them); unreadable
        (rpmspec cannot parse it). Specs without sources, and those they block, are not built.
        Lists the targets that block the most others. Writes `dist/NAME.json` and `dist/NAME.md`
        (see `--report-name`) and the log of every failed rpmbuild under `dist/NAME-logs/`.
        """
    )

    report_name = StrOption(
        default="rpm-compat",
        help="The report's file name under dist/, without extension.",
    )
    sources_report = StrOption(
        default=None,
        help=help_text(
            """
            The report of `build-support/source-cache from-host --report FILE` (for every
            signatures file, `{"cached": [...], "missing": {file: reason}}`): its reason why a
            pinned file is missing replaces keel's own in the report's "no sources" entries.
            """
        ),
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
    category: str  # BUILT or a category
    detail: str  # e.g. the missing BuildRequires, or the target that blocks it
    first_error: str
    log: str  # the whole rpmbuild log of a failure, or ""
    state: str = BUILT
    # The target of its build closure that stops it (BLOCKED), and the targets between them.
    blocked_by: Address | None = None
    blocked_through: tuple[Address, ...] = ()
    missing: tuple[MissingSource, ...] = ()  # NO_SOURCES: the pinned files no candidate has


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


def unreadable_attempt(address: Address, error: str) -> BuildAttempt:
    """An unreadable spec's entry, from rpmspec's error (InvalidSpecError's message)."""
    lines = [line for line in error.splitlines()[1:] if line.strip()]
    first = next((line for line in lines if "error" in line.lower()), lines[0] if lines else error)
    category = UNDEFINED_MACRO if _UNEXPANDED.search(first) else SPEC_UNREADABLE
    return BuildAttempt(address, (), category, "", first.strip(), "", state=UNREADABLE)


def first_missing(missing: tuple[MissingSource, ...]) -> str:
    """A "no sources" entry's first error line: its first missing file and why."""
    return f"{missing[0].filename}: {missing[0].reason}"


def no_sources_attempt(address: Address, availability: SourcesAvailability) -> BuildAttempt:
    if availability.error is not None:
        first = availability.error.splitlines()[0]
        return BuildAttempt(address, (), SOURCE_NOT_AVAILABLE, "", first, "", state=NO_SOURCES)
    missing = availability.missing
    return BuildAttempt(
        address, (), SOURCE_NOT_AVAILABLE, ", ".join(m.filename for m in missing),
        first_missing(missing), "", state=NO_SOURCES, missing=missing,
    )


def blocked_attempt(address: Address, blocker: Address, state: str, first_error: str) -> BuildAttempt:
    return BuildAttempt(
        address, (), _BLOCKED_CATEGORY[state], str(blocker),
        f"{blocker} {_BLOCKER_VERB[state]}: {first_error}", "", state=BLOCKED, blocked_by=blocker,
    )


@rule(desc="Try to build an RPM", level=LogLevel.DEBUG)
async def build_attempt(request: BuildAttemptRequest) -> BuildAttempt:
    address = request.address
    # A caught Get's exception: pantsd may keep this attempt's value after the failing input is
    # fixed (see spec_info.py); `--no-pantsd`, or a new pantsd, tries again. (The source check
    # before it is an answering rule, as are the package graph's reads.)
    try:
        built = await Get(BuiltRpms, BuildRpmRequest(address))
    except RpmBuildError as e:
        if e.address != address:
            attempt = blocked_attempt(address, e.address, FAILED, build_log.first_error(e.log))
        else:
            category, detail = classify_log(e.log) if e.log else (RPMBUILD_ERROR, "")
            first = build_log.first_error(e.log) if e.log else str(e).splitlines()[0]
            attempt = BuildAttempt(address, (), category, detail, first, e.log, state=FAILED)
    except InvalidSpecError as e:
        attempt = unreadable_attempt(address, str(e))
    except SourceError as e:
        first = str(e).splitlines()[0]
        if e.address is not None and e.address != address:
            # A BuildRequires target's source, not this spec's own.
            attempt = blocked_attempt(address, e.address, NO_SOURCES, first)
        else:
            attempt = BuildAttempt(address, (), SOURCE_NOT_AVAILABLE, "", first, "", state=NO_SOURCES)
    except (AmbiguousProviderError, BuildCycleError, ToolchainOrderError) as e:
        # The package graph around this target. Errors of the workspace as a whole (a toolchain
        # that does not build, a BUILD file that does not parse) end the run instead.
        attempt = BuildAttempt(
            address, (), OTHER, type(e).__name__, str(e).splitlines()[0], "", state=FAILED
        )
    else:
        attempt = BuildAttempt(address, built.rpms, BUILT, "", "", "")
    if attempt.state == BUILT:
        logger.info(f"built {address}")
    else:
        detail = f" ({attempt.detail})" if attempt.detail else ""
        logger.info(f"{attempt.state.upper()} {address}: {attempt.category}{detail}: {attempt.first_error}")
    return attempt


def build_dependencies(graph: RpmPackageGraph, address: Address) -> tuple[Address, ...]:
    """The targets whose RPMs `address`'s build installs. Where the graph cannot say (a
    requirement two targets tie on, an explicit dependency on an unreadable spec), its explicit
    dependencies: the build's own attempt reports the error."""
    try:
        return graph.build_order_dependencies(address)
    except (AmbiguousProviderError, InvalidSpecError):
        return tuple(graph.explicit.get(address, ()))


def nearest_blocker(
    address: Address,
    dependencies: Mapping[Address, tuple[Address, ...]],
    states: Mapping[Address, str],
) -> tuple[Address, tuple[Address, ...]] | None:
    """The target nearest to `address` in its build closure (breadth first, then by name) whose
    state blocks it, and the targets between them; None if none does."""
    parents: dict[Address, Address | None] = {address: None}
    pending = deque([address])
    while pending:
        node = pending.popleft()
        for dep in sorted(dependencies.get(node, ())):
            if dep in parents:
                continue
            parents[dep] = node
            if states.get(dep) in BLOCKING:
                through = []
                step = parents[dep]
                while step is not None and step != address:
                    through.append(step)
                    step = parents[step]
                return dep, tuple(reversed(through))
            pending.append(dep)
    return None


def build_closure(address: Address, dependencies: Mapping[Address, tuple[Address, ...]]) -> set[Address]:
    """Every target `address`'s build needs built first, transitively (not itself)."""
    seen: set[Address] = set()
    pending = list(dependencies.get(address, ()))
    while pending:
        node = pending.pop()
        if node in seen or node == address:
            continue
        seen.add(node)
        pending.extend(dependencies.get(node, ()))
    return seen


@dataclass(frozen=True)
class Blocker:
    address: Address
    blocks: int  # targets asked about whose build closure holds it, directly or not
    nearest_for: int  # of those, the ones it is the nearest blocker of


def settle(
    attempts: Iterable[BuildAttempt],
    dependencies: Mapping[Address, tuple[Address, ...]],
    others: Mapping[Address, BuildAttempt],
) -> tuple[list[BuildAttempt], list[Blocker]]:
    """Every blocked target's blocker made the nearest one of its build closure, and the targets
    that block the most others (of `attempts`, transitively through build closures), most first.
    `others`: what is known of targets not asked about (a BuildRequires target outside the run
    that failed or has no sources)."""
    attempts = list(attempts)
    known = {**others, **{a.address: a for a in attempts}}
    states = {address: a.state for address, a in known.items()}
    settled = []
    blocks: Counter[Address] = Counter()
    nearest_for: Counter[Address] = Counter()
    for attempt in attempts:
        if attempt.state != BLOCKED:
            settled.append(attempt)
            continue
        nearest = nearest_blocker(attempt.address, dependencies, states)
        if nearest is not None:
            blocker, through = nearest
            cause = known[blocker]
            attempt = replace(
                blocked_attempt(attempt.address, blocker, cause.state, cause.first_error),
                blocked_through=through,
            )
        settled.append(attempt)
        blockers = {a for a in build_closure(attempt.address, dependencies) if states.get(a) in BLOCKING}
        if attempt.blocked_by is not None:
            blockers.add(attempt.blocked_by)
            nearest_for[attempt.blocked_by] += 1
        blocks.update(blockers)
    # Where a whole tree lacks sources, many targets are in every blocked build closure: the
    # ones nearest to more of them come first among equals.
    top = sorted(blocks, key=lambda b: (-blocks[b], -nearest_for[b], b))[:TOP_BLOCKERS]
    return settled, [Blocker(b, blocks[b], nearest_for[b]) for b in top]


def with_host_reasons(attempt: BuildAttempt, host_reasons: Mapping[tuple[str, str], str]) -> BuildAttempt:
    """A "no sources" entry with from-host's reasons (by signatures file and file name) where it
    has one: it says why its lookup found no file, keel's only that no candidate had it."""
    if not attempt.missing:
        return attempt
    missing = tuple(
        replace(m, reason=host_reasons.get((m.signatures_path, m.filename), m.reason))
        for m in attempt.missing
    )
    return replace(attempt, missing=missing, first_error=first_missing(missing))


def read_host_reasons(path: str | None, build_root: str) -> dict[tuple[str, str], str]:
    """(signatures file relative to the build root, file name) -> from-host's reason."""
    if not path:
        return {}
    # A file the user names for this run only, read as it is now: a goal rule runs every time.
    with open(os.path.expanduser(path)) as f:
        report = json.load(f)
    reasons = {}
    for signatures, entry in report.items():
        relative = os.path.relpath(os.path.join(build_root, signatures), build_root)
        for name, reason in entry.get("missing", {}).items():
            reasons[(relative, name)] = reason
    return reasons


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def detail_of(attempt: BuildAttempt) -> str:
    if attempt.state == BLOCKED and attempt.blocked_through:
        return f"{attempt.detail} (through {', '.join(str(a) for a in attempt.blocked_through)})"
    return attempt.detail


def stand_ins_of(graph: RpmPackageGraph, address: Address) -> tuple[tuple[str, str], ...]:
    """The BuildRequires of `address` that a Debian stand-in of its seed meets, with that
    package (the seed lock's `stand_ins`)."""
    if address in graph.unreadable or not graph.stand_ins:
        return ()
    return tuple(
        dict.fromkeys(
            (r.name, graph.stand_ins[r.name])
            for r in graph.infos[address].build_requires
            if r.name in graph.stand_ins
        )
    )


def markdown(
    attempts: list[BuildAttempt],
    top: list[Blocker],
    known: Mapping[Address, BuildAttempt],
    title: str,
    stand_ins: Mapping[Address, tuple[tuple[str, str], ...]] | None = None,
) -> str:
    states = Counter(a.state for a in attempts)
    categories = Counter(a.category for a in attempts if a.state != BUILT)
    lines = [
        f"# {title}",
        "",
        f"{states[BUILT]} of {len(attempts)} built.",
        "",
        "| state | specs |",
        "| --- | --- |",
        *(f"| {s} | {states[s]} |" for s in STATES),
        "",
        "| category | specs |",
        "| --- | --- |",
        *(f"| {c} | {categories[c]} |" for c in CATEGORIES if categories.get(c)),
        "",
    ]
    if top:
        lines += [
            "## What blocks the most",
            "",
            "A target's count is the specs whose build closure holds it, directly or through "
            "other targets: fixing it is what lets them be tried. Of those, it is the nearest "
            "blocker of some (the others reach it through other blocked targets).",
            "",
            "| target | state | specs blocked | nearest blocker of | why |",
            "| --- | --- | --- | --- | --- |",
            *(
                f"| {b.address} | {known[b.address].state} | {b.blocks} | {b.nearest_for} | "
                f"{_cell(known[b.address].first_error)} |"
                for b in top
            ),
            "",
        ]
    used = Counter(pair for a in attempts for pair in (stand_ins or {}).get(a.address, ()))
    if used:
        lines += [
            "## Met by Debian stand-ins",
            "",
            f"{len(used)} BuildRequires of these specs are met by Debian packages that "
            "`toolchain-lock` added to the seed, as only a target without sources here (or "
            "nothing) provides them.",
            "",
            "| requirement | Debian package | specs |",
            "| --- | --- | --- |",
            *(
                f"| {_cell(r)} | {p} | {n} |"
                for (r, p), n in sorted(used.items(), key=lambda item: (-item[1], item[0]))
            ),
            "",
        ]
    lines += [
        "## Every spec",
        "",
        "| target | state | category | detail | first error line |",
        "| --- | --- | --- | --- | --- |",
    ]
    for a in attempts:
        category = "" if a.state == BUILT else a.category
        lines.append(
            f"| {a.address} | {a.state} | {category} | {_cell(detail_of(a))} | {_cell(a.first_error)} |"
        )
    return "\n".join(lines) + "\n"


def report_entry(a: BuildAttempt, log_path: str | None, stand_ins: tuple[tuple[str, str], ...] = ()) -> dict:
    return {
        "target": str(a.address),
        "spec_dir": a.address.spec_path,
        "state": a.state,
        # "result" and the categories are the first report's fields; "state" tells more.
        "result": BUILT if a.state == BUILT else "failed",
        "category": a.category,
        "detail": a.detail,
        "first_error": a.first_error,
        "blocked_by": str(a.blocked_by) if a.blocked_by is not None else None,
        "blocked_through": [str(t) for t in a.blocked_through],
        "missing_sources": [
            {
                "file": m.filename,
                "signatures": m.signatures_path,
                "reason": m.reason,
                "looked_in": list(m.looked_in),
                "attempts": list(m.attempts),
            }
            for m in a.missing
        ],
        "rpms": list(a.built),
        "log": log_path,
        # BuildRequires met by a Debian stand-in of the seed: requirement -> package.
        "stand_ins": dict(stand_ins),
    }


@goal_rule
async def rpm_compat(
    console: Console,
    subsystem: RpmCompatSubsystem,
    targets: Targets,
    workspace: Workspace,
    dist: DistDir,
) -> RpmCompat:
    addresses = [t.address for t in targets if isinstance(t, RpmPackageTarget)]
    asked = set(addresses)
    console.print_stderr(f"Building {len(addresses)} rpm_package targets, carrying on past failures.")

    # The build closures, from each target's package graph, of the targets asked about and of
    # the targets they need: those are built first, and their sources are checked too.
    graphs: dict[Address, RpmPackageGraph] = {}
    dependencies: dict[Address, tuple[Address, ...]] = {}
    unreadable: dict[Address, str] = {}
    pending = list(dict.fromkeys(addresses))
    while pending:
        found = await MultiGet(Get(RpmPackageGraph, TargetPackageGraphRequest(a)) for a in pending)
        graphs.update(zip(pending, found))
        reached = []
        for address in pending:
            graph = graphs[address]
            if address in graph.unreadable:
                unreadable[address] = graph.unreadable[address]
                dependencies[address] = ()
                continue
            dependencies[address] = build_dependencies(graph, address)
            reached.extend(d for d in dependencies[address] if d not in graphs)
        pending = list(dict.fromkeys(reached))

    readable = [a for a in graphs if a not in unreadable]
    availability = dict(
        zip(readable, await MultiGet(Get(SourcesAvailability, PackageSourcesRequest(a)) for a in readable))
    )
    known: dict[Address, BuildAttempt] = {
        **{a: unreadable_attempt(a, error) for a, error in unreadable.items()},
        **{a: no_sources_attempt(a, found) for a, found in availability.items() if not found.available},
    }
    states = {a: k.state for a, k in known.items()}
    # The targets asked about, and the BuildRequires targets outside the run, each tried on its
    # own: a dependent's build builds them anyway, and their own attempt says why one failed.
    to_build = []
    for address in graphs:
        if address in known:
            continue
        nearest = nearest_blocker(address, dependencies, states)
        if nearest is not None:
            blocker, through = nearest
            known[address] = replace(
                blocked_attempt(address, blocker, states[blocker], known[blocker].first_error),
                blocked_through=through,
            )
        else:
            to_build.append(address)
    console.print_stderr(
        f"{len(asked.intersection(to_build))} of them have every source and nothing blocking "
        "them: building those."
    )
    tried = dict(zip(to_build, await MultiGet(Get(BuildAttempt, BuildAttemptRequest(a)) for a in to_build)))
    # A target the package graph did not show in a build closure, yet a build needed (its
    # attempt did not run): known by its dependents' errors.
    for attempt in tried.values():
        if attempt.state == BLOCKED and attempt.blocked_by not in known and attempt.blocked_by not in tried:
            cause = attempt.first_error.split(": ", 1)[-1]  # after "TARGET failed: "
            failed = attempt.category == DEPENDENCY_FAILED
            known[attempt.blocked_by] = BuildAttempt(
                attempt.blocked_by, (), RPMBUILD_ERROR if failed else SOURCE_NOT_AVAILABLE, "",
                cause, "", state=FAILED if failed else NO_SOURCES,
            )
    known.update(tried)
    host_reasons = read_host_reasons(subsystem.sources_report, BuildRoot().path)
    known = {a: with_host_reasons(k, host_reasons) for a, k in known.items()}
    attempts, top = settle(
        (known[a] for a in addresses), dependencies, {a: k for a, k in known.items() if a not in asked}
    )

    name = subsystem.report_name
    logs_dir = f"{name}-logs"

    def log_path(a: BuildAttempt) -> str | None:
        return os.path.join(str(dist.relpath), logs_dir, f"{a.address.path_safe_spec}.log") if a.log else None

    stand_ins = {a: stand_ins_of(graphs[a], a) for a in addresses if a in graphs}
    states_count = Counter(a.state for a in attempts)
    report = {
        "version": 2,
        "built": states_count[BUILT],
        "total": len(attempts),
        "states": {s: states_count[s] for s in STATES},
        "categories": dict(sorted(Counter(a.category for a in attempts).items())),
        "top_blockers": [
            {
                "target": str(b.address),
                "state": known[b.address].state,
                "category": known[b.address].category,
                "blocks": b.blocks,
                "nearest_for": b.nearest_for,
                "first_error": known[b.address].first_error,
            }
            for b in top
        ],
        "targets": [report_entry(a, log_path(a), stand_ins.get(a.address, ())) for a in attempts],
    }
    files = [
        FileContent(f"{name}.json", (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()),
        FileContent(
            f"{name}.md",
            markdown(attempts, top, known, f"rpm-compat: {len(addresses)} specs", stand_ins).encode(),
        ),
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
        + ". States: "
        + ", ".join(f"{states_count[s]} {s}" for s in STATES if states_count.get(s))
        + "."
        + (
            " Blocking the most: " + ", ".join(f"{b.address} ({b.blocks})" for b in top[:3]) + "."
            if top
            else ""
        )
        + f" Details: {dist.relpath}/{name}.md and {name}.json."
    )
    return RpmCompat(exit_code=0 if report["built"] == len(attempts) else 1)


def rules():
    return collect_rules()
