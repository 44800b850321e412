"""The build page's writer: pure, no Pants. What a reader must find in the HTML (states, counts, a
failed target's error and log), escaping, and that the page fetches nothing."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from rules.core import report_page
from rules.core.report_page import Action, Blocker, Output, Page, TargetRow

HOSTILE = "<script>alert('x')</script> & \"quoted\""

TARGETS = (
    TargetRow(
        "specs/broken:broken",
        "failed",
        kind="rpm",
        error="rpmbuild failed for specs/broken/broken.spec (target specs/broken:broken)\n"
        + "".join(f"+ step {i}\n" for i in range(20))
        + f"error: {HOSTILE}",
        log=".pants.d/keel/logs/specs.broken.rpmbuild.log",
        log_href="logs/specs.broken.rpmbuild.log",
    ),
    TargetRow("specs/needy:needy", "blocked", kind="rpm", blocked_by="specs/broken:broken"),
    TargetRow(
        "specs/other:other",
        "built",
        kind="rpm",
        seconds=1.25,
        worker="worker-1",
        outputs=(Output("RPMS/noarch/other-1.0-1.noarch.rpm", "ab" * 32),),
    ),
    TargetRow("specs/lib:lib", "remote cache", kind="rpm"),
    TargetRow("specs/lib2:lib2", "remote cache", kind="rpm"),
)

ACTIONS = (
    # Two ran side by side; the third waited 2 s for a slot; one came from the cache.
    Action(
        "rpmbuild other-1.0-1 (specs/other:other)", start=100.0, ran_from=100.0, end=103.0, target="specs/other:other"
    ),
    Action("rpmbuild lib-1.0-1 (specs/lib:lib)", start=100.5, ran_from=100.5, end=102.0),
    Action("rpmbuild broken-1.0-1 (specs/broken:broken)", start=101.0, ran_from=103.0, end=104.0, failed=True),
    Action("Make the root of toolchain:official", start=99.0, end=99.1, source="local cache"),
)


def page(**changes) -> Page:
    fields = dict(
        title=f"keel build: {HOSTILE}",
        headline="The run failed: " + report_page.in_words(TARGETS),
        targets=TARGETS,
        facts=(("command", "pants package specs::"),),
        error=f"RpmBuildError: rpmbuild failed\n{HOSTILE}",
        actions=ACTIONS,
    )
    fields.update(changes)
    return Page(**fields)


def rows_of(text: str) -> dict[str, str]:
    """data-target -> data-state of every row of the targets table."""
    return {
        target: state
        for state, target in re.findall(r'<tr id="[^"]+" data-state="([^"]+)" data-target="([^"]+)"', text)
    }


def test_states_counts_and_the_failed_targets_error() -> None:
    text = report_page.render(page())
    assert rows_of(text) == {
        "specs/broken:broken": "failed",
        "specs/needy:needy": "blocked",
        "specs/other:other": "built",
        "specs/lib:lib": "remote cache",
        "specs/lib2:lib2": "remote cache",
    }
    assert "The run failed: 1 built, 2 from the remote cache, 1 failed, 1 blocked" in text
    # The summary counts each state, and the total.
    assert re.search(r's-remote-cache">remote cache</span></td><td class="num">2</td>', text)
    assert re.search(r'<td>targets</td><td class="num">5</td>', text)
    # The filter buttons' counts are the script's to fill (one per state present, and "all").
    assert re.findall(r'data-count="([^"]*)"></span>', text) == ["", "built", "remote cache", "failed", "blocked"]
    # The failed target: its first lines in the table, the whole error folded, its log linked.
    assert "rpmbuild failed for specs/broken/broken.spec (target specs/broken:broken)" in text
    assert "the whole error (22 lines)" in text
    assert '<a href="logs/specs.broken.rpmbuild.log">.pants.d/keel/logs/specs.broken.rpmbuild.log</a>' in text
    # Blocked: by which target, a link to its row.
    assert 'blocked by <a href="#t-specs_broken_broken">specs/broken:broken</a>' in text
    assert 'id="t-specs_broken_broken"' in text
    # Time, worker, outputs with their sha256.
    assert "1.2 s" in text and "worker-1" in text
    sha = f'<code class="sha" title="sha256">{"ab" * 32}</code>'
    assert f"<code>RPMS/noarch/other-1.0-1.noarch.rpm</code> {sha}" in text


def test_everything_from_outside_is_escaped() -> None:
    text = report_page.render(page())
    assert HOSTILE not in text
    assert "<script>alert" not in text
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;"
    assert f"<title>keel build: {escaped}</title>" in text
    assert text.count(escaped) >= 3  # title, heading, the run's error, the target's error
    # The page's own script is the only one.
    assert text.count("<script") == 1


def test_the_page_fetches_nothing() -> None:
    svg = (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "graphviz.dtd">\n'
        '<svg width="80pt" height="40pt"><g id="graph0"><text>specs/other:other</text></g></svg>\n'
    )
    text = report_page.render(page(graph_svg=svg, graph_note="dist/rpm-graph/graph.svg"))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text, re.I)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    # rpm-graph's picture inline, without the XML declaration and DOCTYPE of its file.
    assert '<div class="graph"><svg width="80pt"' in text
    assert "<?xml" not in text and "DOCTYPE svg" not in text


def test_no_graph_no_section_and_no_actions_no_timeline() -> None:
    text = report_page.render(page(actions=()))
    assert 'id="graph"' not in text and 'id="timeline"' not in text


def test_timeline_shows_what_ran_at_once_and_what_waited() -> None:
    assert report_page.most_at_once(ACTIONS) == 2
    text = report_page.render(page())
    assert (
        "4 actions over 5.0 s; 3 ran, 1 came from a cache; at most 2 ran at once; "
        "1 waited for a slot (longest 2.0 s)"
    ) in text
    # broken's bar: 2 s of waiting (hatched), then 1 s of running that failed.
    assert '<span class="bar wait" style="left:40.000%;width:40.000%"></span><span class="bar failed"' in text
    assert '<a href="#t-specs_other_other">rpmbuild other-1.0-1 (specs/other:other)</a>' in text


def test_write_replaces_the_page_whole(tmp_path: Path) -> None:
    path = tmp_path / "dist" / "keel-report.html"
    report_page.write(page(), path)
    report_page.write(page(title="again"), path)
    assert "<title>again</title>" in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == ["keel-report.html"]
    assert path.stat().st_mode & 0o777 == 0o644


def compat_target(name: str, state: str, category: str, **fields) -> dict:
    """A target of rpm-compat's report (rules/rpm/goals/compat.py report_entry), as the page reads it."""
    return {
        "target": f"azl/SPECS/{name}:{name}", "state": state, "category": category, "detail": "",
        "first_error": "", "blocked_by": None, "blocked_through": [], "missing_sources": [], "rpms": [],
        "log": None, **fields,
    }


AZL_COMPAT = {
    "version": 2,
    "built": 1,
    "total": 4,
    "states": {"built": 1, "failed": 1, "blocked": 1, "no sources": 1, "unreadable": 0},
    "top_blockers": [
        {"target": "azl/SPECS/broken:broken", "state": "failed", "category": "missing BuildRequires",
         "blocks": 1, "nearest_for": 1, "first_error": "error: Failed build dependencies: nonexistent-devel"},
    ],
    "targets": [
        compat_target("hello", "built", "built", rpms=["RPMS/noarch/hello-1.0-1.noarch.rpm"]),
        compat_target(
            "broken", "failed", "missing BuildRequires", detail="nonexistent-devel",
            first_error="error: Failed build dependencies: nonexistent-devel",
            log="dist/azl-compat-logs/azl.SPECS.broken.log",
        ),
        compat_target(
            "uses-broken", "blocked", "a BuildRequires target failed", blocked_by="azl/SPECS/broken:broken",
            first_error="azl/SPECS/broken:broken failed: error: Failed build dependencies",
        ),
        compat_target(
            "nosrc", "no sources", "source not available", first_error="nosrc-1.0.tar.gz: not in any index",
            missing_sources=[
                {"file": "nosrc-1.0.tar.gz", "reason": "not in any index", "looked_in": [], "attempts": []}
            ],
        ),
    ],
    "azl": {
        "checkout": "/src/azurelinux", "commit": "0123abc 2026-12-01", "trees": ["SPECS"], "spec_directories": 4,
        "date": "2026-12-07",
    },
}


def test_azl_compat_page_from_its_report(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "azl-compat.json").write_text(json.dumps(AZL_COMPAT))
    written = report_page.write_compat_page(dist / "azl-compat.json", dist / "azl-compat.html", tmp_path)
    text = written.read_text()
    assert rows_of(text) == {
        "azl/SPECS/broken:broken": "failed",
        "azl/SPECS/uses-broken:uses-broken": "blocked",
        "azl/SPECS/nosrc:nosrc": "no sources",
        "azl/SPECS/hello:hello": "built",
    }
    assert "1 of 4 built; 1 failed; 1 blocked; 1 no sources" in text
    assert "missing BuildRequires: nonexistent-devel" in text
    # The log, linked from the page beside it in dist/.
    assert '<a href="azl-compat-logs/azl.SPECS.broken.log">dist/azl-compat-logs/azl.SPECS.broken.log</a>' in text
    assert 'blocked by <a href="#t-azl_SPECS_broken_broken">azl/SPECS/broken:broken</a>' in text
    assert "nosrc-1.0.tar.gz: not in any index" in text
    assert 'id="blockers"' in text and "0123abc 2026-12-01" in text
    # No rpm-graph picture in dist/: no section.
    assert 'id="graph"' not in text


def test_azl_compat_writes_its_page_with_the_same_writer(tmp_path: Path) -> None:
    """build-support/azl-compat, as the system python3 runs it: it finds the writer where its
    workspace's pants.toml tells Pants keel's rules are (here: this test's sandbox)."""
    (tmp_path / "pants.toml").write_text(f'[GLOBAL]\npythonpath = ["{Path.cwd()}"]\n')
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "azl-compat.json").write_text(json.dumps(AZL_COMPAT))
    load = (
        "import importlib.machinery, importlib.util, sys\n"
        "from pathlib import Path\n"
        "loader = importlib.machinery.SourceFileLoader('azl_compat', sys.argv[1])\n"
        "script = importlib.util.module_from_spec(importlib.util.spec_from_loader('azl_compat', loader))\n"
        "loader.exec_module(script)\n"
        "script.REPO = Path(sys.argv[2])\n"
        "print(script.write_page(script.REPO / 'dist'))\n"
    )
    python = "python3"  # azl-compat's own interpreter (its #! line), not this test's
    run = subprocess.run(
        [python, "-c", load, str(Path("build-support/azl-compat").resolve()), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert run.stdout.strip() == "dist/azl-compat.html", run.stderr
    assert 'data-target="azl/SPECS/uses-broken:uses-broken"' in (dist / "azl-compat.html").read_text()
    # No writer to be found: a warning, not a failure of the run.
    (tmp_path / "pants.toml").write_text("[GLOBAL]\n")
    run = subprocess.run(
        [python, "-c", load, str(Path("build-support/azl-compat").resolve()), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert run.returncode == 0 and run.stdout.strip() == "None", run.stderr
    assert "azl-compat: warning: dist/azl-compat.html was not written" in run.stderr
