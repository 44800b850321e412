"""The build page: one self-contained HTML file that shows what a run did, target by target.

A page holds each target's state (built, from a cache, unchanged, seeded; failed with the first
lines of its error and where its whole log is; blocked, by which target), its time, worker and
outputs with their sha256; a timeline of the run's actions; the rpm-graph picture when one was
drawn; and a little inline JavaScript that filters the targets by state and searches them by
name. No server and no network: styles, script and picture are inside the file.

Pure Python, no Pants imports: rules/core/report.py renders a `./pants package` run with it
(dist/keel-report.html) inside Pants, and build-support/azl-compat, which runs with the system
python3, renders the whole tree's status (dist/azl-compat.html) with the same code.

Rendered with string.Template and html.escape, not Jinja2: Jinja2 is not in the Pants venv that
runs keel's rules (build-support/pants-pins.txt; adding it changes every machine's venv key and
the tests' requirements), nor sure to be in the python3 azl-compat runs with (nor is chevron,
the Mustache renderer Pants brings); one template and a few loops of escaped cells need neither,
and one renderer serves both.
"""
from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import string
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

_TEMPLATE = Path(__file__).with_name("report_page.html")

# Every state a target can end a run in, in the order the page lists them (filters, counts).
# The first five are how `./pants package` obtained an output (rules/core/report.py); the rest
# are a target that did not get one: its own build failed, a target it needs stopped it
# ("blocked"), the run stopped at another target's failure before its output was written
# ("stopped"), or, from rpm-compat, its sources are missing or its spec cannot be read.
STATES = (
    "built",
    "local cache",
    "remote cache",
    "unchanged",
    "seeded",
    "failed",
    "blocked",
    "stopped",
    "no sources",
    "unreadable",
)
# A count of targets in a state, in words: "3 from the remote cache".
_PHRASE = {
    "local cache": "from the local cache",
    "remote cache": "from the remote cache",
    "no sources": "without sources",
}
# Shorter waits for a slot are not drawn: scheduling itself takes a few milliseconds.
_WAIT_SHOWN = 0.05
# How many lines of an error the table shows before "the whole error" is folded away.
ERROR_LINES = 12


@dataclass(frozen=True)
class Output:
    path: str
    sha256: str | None = None  # None: not known (not written: a failed run writes nothing to dist/)


@dataclass(frozen=True)
class TargetRow:
    target: str
    state: str  # one of STATES
    kind: str = ""  # rpm, image, repository, root, spec
    seconds: float | None = None
    worker: str | None = None
    outputs: tuple[Output, ...] = ()
    error: str = ""  # what went wrong, first lines first
    log: str | None = None  # where the whole log is, as the user would type it
    log_href: str | None = None  # the same, relative to the page: a link
    blocked_by: str | None = None
    note: str = ""  # a category, how it was obtained, what is missing


@dataclass(frozen=True)
class Action:
    """One process of the run: scheduled at `start`, running from `ran_from` (None: answered
    from a cache, no process ran) until `end`; seconds since the epoch."""

    description: str
    start: float
    end: float
    ran_from: float | None = None
    source: str = "ran"  # ran, local cache, remote cache, did not finish
    failed: bool = False
    remote: bool = False
    target: str | None = None


@dataclass(frozen=True)
class Blocker:
    target: str
    state: str
    blocks: int
    nearest_for: int
    why: str


@dataclass(frozen=True)
class Page:
    title: str
    headline: str
    targets: tuple[TargetRow, ...]
    facts: tuple[tuple[str, str], ...] = ()  # (label, value) lines under the headline
    error: str = ""  # the run's own error, when it failed
    actions: tuple[Action, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    graph_svg: str | None = None
    graph_note: str = ""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(target: str) -> str:
    """A fragment id for a target's row: addresses hold ':' and '/', fine in HTML5 ids, but a
    plain one reads better in the address bar."""
    return "t-" + re.sub(r"[^A-Za-z0-9_.-]", "_", target)


def state_class(state: str) -> str:
    return "s-" + re.sub(r"[^a-z]", "-", state)


def counts(targets: Iterable[TargetRow]) -> Counter:
    return Counter(t.state for t in targets)


def in_words(targets: Iterable[TargetRow]) -> str:
    """The targets' states counted, e.g. "2 built, 1 from the remote cache, 1 failed"."""
    n = counts(targets)
    return ", ".join(f"{n[s]} {_PHRASE.get(s, s)}" for s in [*STATES, *sorted(set(n) - set(STATES))] if n[s])


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 600 else f"{value / 60:.1f} min"


def _error_cell(row: TargetRow) -> str:
    parts = []
    if row.blocked_by:
        parts.append(f'<p>blocked by <a href="#{_anchor(row.blocked_by)}">{_e(row.blocked_by)}</a></p>')
    if row.note:
        parts.append(f'<p class="note">{_e(row.note)}</p>')
    if row.error:
        lines = row.error.splitlines()
        parts.append(f'<pre class="error">{_e(chr(10).join(lines[:ERROR_LINES]))}</pre>')
        if len(lines) > ERROR_LINES:
            parts.append(
                f"<details><summary>the whole error ({len(lines)} lines)</summary>"
                f'<pre class="error">{_e(row.error)}</pre></details>'
            )
    if row.log:
        where = (
            f'<a href="{_e(row.log_href)}">{_e(row.log)}</a>' if row.log_href else f"<code>{_e(row.log)}</code>"
        )
        parts.append(f'<p class="log">whole log: {where}</p>')
    return "".join(parts)


def _outputs_cell(row: TargetRow) -> str:
    if not row.outputs:
        return ""
    items = []
    for output in row.outputs:
        digest = f' <code class="sha" title="sha256">{_e(output.sha256)}</code>' if output.sha256 else ""
        items.append(f"<li><code>{_e(output.path)}</code>{digest}</li>")
    return f'<ul class="outputs">{"".join(items)}</ul>'


def _target_rows(targets: Sequence[TargetRow]) -> str:
    rows = []
    for row in targets:
        worker = _e(row.worker) if row.worker else ""
        rows.append(
            f'<tr id="{_anchor(row.target)}" data-state="{_e(row.state)}" data-target="{_e(row.target)}">'
            f'<td class="target"><code>{_e(row.target)}</code>'
            + (f' <span class="kind">{_e(row.kind)}</span>' if row.kind else "")
            + f'</td><td><span class="state {state_class(row.state)}">{_e(row.state)}</span></td>'
            f'<td class="num">{_seconds(row.seconds)}</td><td>{worker}</td>'
            f"<td>{_outputs_cell(row)}</td><td>{_error_cell(row)}</td></tr>"
        )
    return "\n".join(rows)


def _state_list(targets: Sequence[TargetRow]) -> list[str]:
    """The states present, known ones in STATES order, then any other."""
    present = counts(targets)
    return [s for s in STATES if present[s]] + sorted(s for s in present if s not in STATES)


def _filters(targets: Sequence[TargetRow]) -> str:
    # The counts are left empty: the page's script fills them from the rows (a reader sees the
    # same numbers as the server-side summary; a test sees that the script ran).
    buttons = [
        '<button type="button" data-state="" aria-pressed="true">all <span class="n" data-count=""></span></button>'
    ]
    for state in _state_list(targets):
        buttons.append(
            f'<button type="button" data-state="{_e(state)}" aria-pressed="false">'
            f'<span class="state {state_class(state)}">{_e(state)}</span> '
            f'<span class="n" data-count="{_e(state)}"></span></button>'
        )
    return "\n".join(buttons)


def _summary(targets: Sequence[TargetRow]) -> str:
    present = counts(targets)
    cells = "".join(
        f'<tr><td><span class="state {state_class(s)}">{_e(s)}</span></td><td class="num">{present[s]}</td></tr>'
        for s in _state_list(targets)
    )
    total = f'<tfoot><tr><td>targets</td><td class="num">{len(targets)}</td></tr></tfoot>'
    return f'<table class="summary"><tbody>{cells}</tbody>{total}</table>'


def _facts(facts: Sequence[tuple[str, str]]) -> str:
    if not facts:
        return ""
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"


def _run_error(error: str) -> str:
    if not error:
        return ""
    return f'<section id="run-error"><h2>The run failed</h2><pre class="error">{_e(error)}</pre></section>'


def _blockers(blockers: Sequence[Blocker]) -> str:
    if not blockers:
        return ""
    rows = "".join(
        f'<tr><td><a href="#{_anchor(b.target)}"><code>{_e(b.target)}</code></a></td>'
        f'<td><span class="state {state_class(b.state)}">{_e(b.state)}</span></td>'
        f'<td class="num">{b.blocks}</td><td class="num">{b.nearest_for}</td><td>{_e(b.why)}</td></tr>'
        for b in blockers
    )
    return (
        '<section id="blockers"><h2>What blocks the most</h2>'
        "<p>A target's count is the targets whose build closure holds it; fixing it is what lets "
        "them be tried. Of those, it is the nearest blocker of some.</p>"
        '<table><thead><tr><th>target</th><th>state</th><th>blocks</th><th>nearest blocker of</th>'
        f"<th>why</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def most_at_once(actions: Sequence[Action]) -> int:
    """The most actions running (past their wait) at one time."""
    events = sorted(
        [(a.ran_from, 1) for a in actions if a.ran_from is not None]
        + [(a.end, -1) for a in actions if a.ran_from is not None]
    )
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def _timeline(actions: Sequence[Action]) -> str:
    if not actions:
        return ""
    ordered = sorted(actions, key=lambda a: (a.start, a.end))
    origin = ordered[0].start
    span = max(max(a.end for a in ordered) - origin, 1e-3)

    def pct(t: float) -> str:
        return f"{max(0.0, min(100.0, (t - origin) / span * 100)):.3f}%"

    def width(a: float, b: float) -> str:
        return f"{max(0.15, (b - a) / span * 100):.3f}%"

    waited = [a for a in ordered if a.ran_from is not None and a.ran_from - a.start >= _WAIT_SHOWN]
    rows = []
    for a in ordered:
        bars = []
        if a.ran_from is None:
            bars.append(
                f'<span class="bar cache" style="left:{pct(a.start)};width:{width(a.start, a.end)}"></span>'
            )
        else:
            if a.ran_from - a.start >= _WAIT_SHOWN:
                bars.append(
                    f'<span class="bar wait" style="left:{pct(a.start)};width:{width(a.start, a.ran_from)}"></span>'
                )
            kind = "failed" if a.failed else ("unfinished" if a.source == "did not finish" else "run")
            bars.append(
                f'<span class="bar {kind}" style="left:{pct(a.ran_from)};width:{width(a.ran_from, a.end)}"></span>'
            )
        waits = a.ran_from is not None and a.ran_from - a.start >= _WAIT_SHOWN
        wait = f", waited {a.ran_from - a.start:.1f} s" if waits else ""
        how = a.source + (" (remote execution)" if a.remote else "") + (", failed" if a.failed else "")
        title = f"{a.description}: {how}; at {a.start - origin:.1f} s, {a.end - a.start:.1f} s{wait}"
        label = _e(a.description)
        if a.target:
            label = f'<a href="#{_anchor(a.target)}">{label}</a>'
        rows.append(
            f'<div class="action" title="{_e(title)}"><div class="label">{label}</div>'
            f'<div class="track">{"".join(bars)}</div>'
            f'<div class="num">{a.end - a.start:.1f} s</div></div>'
        )
    ran = [a for a in ordered if a.ran_from is not None]
    return (
        '<section id="timeline"><h2>Timeline</h2>'
        f"<p>{len(ordered)} actions over {span:.1f} s; {len(ran)} ran, "
        f"{len(ordered) - len(ran)} came from a cache; at most {most_at_once(ordered)} ran at once; "
        f"{len(waited)} waited for a slot"
        + (f" (longest {max(a.ran_from - a.start for a in waited):.1f} s)" if waited else "")
        + '.</p><p class="legend"><span class="bar wait"></span> waiting for a slot '
        '<span class="bar run"></span> running <span class="bar cache"></span> cache lookup '
        '<span class="bar failed"></span> failed <span class="bar unfinished"></span> did not finish</p>'
        + "\n".join(rows)
        + "</section>"
    )


def svg_for_page(svg: str) -> str:
    """Graphviz's SVG file as an element of the page: from `<svg` on (the XML declaration, the
    DOCTYPE and comments before it belong to a file, not to an HTML document)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


def _graph(page: Page) -> str:
    if not page.graph_svg:
        return ""
    note = f"<p>{_e(page.graph_note)}</p>" if page.graph_note else ""
    picture = f'<div class="graph">{svg_for_page(page.graph_svg)}</div>'
    return f'<section id="graph"><h2>Dependencies</h2>{note}{picture}</section>'


def render(page: Page) -> str:
    """The page's HTML."""
    template = string.Template(_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        title=_e(page.title),
        headline=_e(page.headline),
        facts=_facts(page.facts),
        run_error=_run_error(page.error),
        summary=_summary(page.targets),
        filters=_filters(page.targets),
        rows=_target_rows(page.targets),
        blockers=_blockers(page.blockers),
        timeline=_timeline(page.actions),
        graph=_graph(page),
    )


def write(page: Page, path: str | os.PathLike) -> None:
    """Write the page at `path`, whole or not at all (a reader never sees half a page)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(page)
    # A name of its own: two runs of one workspace may write their pages at once.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as f:
        f.write(text)
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)


def read_graph(dist: str | os.PathLike) -> tuple[str | None, str]:
    """rpm-graph's picture in `dist` (dist/rpm-graph/graph.svg), if one was drawn, and a note
    saying what it shows: it is the last `./pants rpm-graph`, not necessarily this run's."""
    svg = Path(dist) / "rpm-graph" / "graph.svg"
    try:
        text = svg.read_text(encoding="utf-8")
    except OSError:
        return None, ""
    return text, (
        "rpm-graph/graph.svg in dist/: the graph the last `./pants rpm-graph` of this workspace drew, "
        "which may hold other targets than this run's."
    )


def compat_page(report: Mapping, *, page_dir: str | os.PathLike, repo: str | os.PathLike) -> Page:
    """The page of `rpm-compat`'s report (dist/azl-compat.json as azl-compat completes it):
    every spec's state, the targets that block the most, the checkout it came from."""
    targets = []
    for t in report.get("targets", ()):
        missing = [
            f"{m.get('file')}: {m.get('reason') or 'not found'}" for m in t.get("missing_sources") or ()
        ]
        note_parts = [] if t.get("state") == "built" else [t.get("category") or ""]
        if t.get("detail"):
            note_parts.append(t["detail"])
        if t.get("blocked_through"):
            note_parts.append("through " + ", ".join(t["blocked_through"]))
        log = t.get("log")
        targets.append(
            TargetRow(
                target=t["target"],
                state=t.get("state") or t.get("result") or "",
                kind="spec",
                outputs=tuple(Output(p) for p in t.get("rpms") or ()),
                error="\n".join(missing) if missing else (t.get("first_error") or ""),
                log=log,
                log_href=os.path.relpath(Path(repo) / log, page_dir) if log else None,
                blocked_by=t.get("blocked_by"),
                note=": ".join(p for p in note_parts if p),
            )
        )
    azl = report.get("azl") or {}
    facts = [
        (label, str(value))
        for label, value in (
            ("checkout", azl.get("checkout")),
            ("commit", azl.get("commit")),
            ("trees", ", ".join(azl.get("trees") or ())),
            ("spec directories", azl.get("spec_directories")),
            ("date", azl.get("date")),
        )
        if value
    ]
    reproducible = report.get("reproducible")
    if reproducible:
        differ = reproducible.get("differ") or []
        facts.append(
            (
                "reproducible",
                f"{len(reproducible.get('targets') or [])} specs built twice more from empty caches: "
                f"{reproducible.get('rpms')} RPMs, "
                + (f"{len(differ)} differ: {', '.join(differ)}" if differ else "all byte-identical"),
            )
        )
    states = report.get("states") or counts(targets)
    headline = f"{report.get('built', states.get('built', 0))} of {report.get('total', len(targets))} built" + "".join(
        f"; {n} {s}" for s, n in states.items() if n and s != "built"
    )
    return Page(
        title="keel and Azure Linux's specs",
        headline=headline,
        targets=tuple(targets),
        facts=tuple(facts),
        blockers=tuple(
            Blocker(
                b["target"], b.get("state", ""), b.get("blocks", 0), b.get("nearest_for", 0), b.get("first_error", "")
            )
            for b in report.get("top_blockers") or ()
        ),
    )


def write_compat_page(report_json: str | os.PathLike, page: str | os.PathLike, repo: str | os.PathLike) -> Path:
    """dist/azl-compat.html from dist/azl-compat.json, with rpm-graph's picture if dist has one."""
    report_json, page = Path(report_json), Path(page)
    made = compat_page(json.loads(report_json.read_text()), page_dir=page.parent, repo=repo)
    svg, note = read_graph(page.parent)
    write(dataclasses.replace(made, graph_svg=svg, graph_note=note), page)
    return page
