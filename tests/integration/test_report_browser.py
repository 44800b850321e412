"""The build page of a real run, in a real browser: headless Chromium loads the page a failed
`./pants package` wrote, runs its script, and the DOM it leaves shows each target's state, the
counts the script wrote, the failed target's error (escaped) and log, what it blocked (by
rpm-graph's graph, drawn on the page), and the filter the address asks for. A screenshot is kept:
extra-output/, which Pants copies to dist/test/.

Three noarch specs on the repository's toolchain (the suite's shared cache has its roots):
other builds, broken BuildRequires other (so other is done before broken fails) and fails in
%build, needy BuildRequires broken.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pants_workspace import Workspace

CHANGELOG = "%changelog\n* Tue Nov 24 2026 keel tests <t@localhost> - 1.0-1\n- test\n"


def spec(name: str, build_requires: str = "", build: str = "") -> str:
    return (
        f"Name: {name}\nVersion: 1.0\nRelease: 1%{{?dist}}\nSummary: {name}\nLicense: MIT\nBuildArch: noarch\n"
        + (f"BuildRequires: {build_requires}\n" if build_requires else "")
        + f"%description\n{name}.\n"
        + (f"%build\n{build}\n" if build else "")
        + f"%install\nmkdir -p %{{buildroot}}%{{_datadir}}/{name}\necho {name} > %{{buildroot}}%{{_datadir}}/{name}/x\n"
        + f"%files\n%{{_datadir}}/{name}\n"
        + CHANGELOG
    )


# What the page must show escaped: markup in a build's output.
SAYS = "broken: <b>cannot</b> build & stops"
FILES = {
    "specs/other/BUILD": "rpm_package()",
    "specs/other/other.spec": spec("other"),
    "specs/broken/BUILD": "rpm_package()",
    "specs/broken/broken.spec": spec("broken", "other", f"echo '{SAYS}' >&2; exit 1"),
    "specs/needy/BUILD": "rpm_package()",
    "specs/needy/needy.spec": spec("needy", "broken"),
}
OTHER, BROKEN, NEEDY = "specs/other:other", "specs/broken:broken", "specs/needy:needy"


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    # As root, Chromium runs only without its sandbox; a profile of its own, not ~/.config.
    return subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )


def rows(dom: str) -> dict[str, tuple[str, bool]]:
    """target -> (state, hidden) of each row of the targets table, as the script left them."""
    found = {}
    for attributes in re.findall(r"<tr (id=\"t-[^>]*)>", dom):
        state = re.search(r'data-state="([^"]*)"', attributes).group(1)
        target = re.search(r'data-target="([^"]*)"', attributes).group(1)
        found[target] = (state, " hidden" in attributes)
    return found


def row_html(dom: str, target: str) -> str:
    start = dom.index(f'data-target="{target}"')
    return dom[start : dom.index("</tr>", start)]


def test_the_page_of_a_failed_run_in_a_browser(tmp_path: Path) -> None:
    if shutil.which("chromium") is None:
        # CI (CI is set) installs it (.ci/run, rules/core/host-tools.txt): a skip there hides a gap.
        (pytest.fail if os.environ.get("CI") else pytest.skip)("needs headless Chromium on PATH (Debian package `chromium`) to load the page in a real browser")
    ws = Workspace(tmp_path, FILES)
    ws.pants("rpm-graph", "specs::")
    run = ws.pants("package", "specs::", check=False)
    assert run.returncode != 0 and "rpmbuild failed for specs/broken/broken.spec" in run.stderr, run.stderr[-3000:]
    # A failed run writes nothing to dist/ (rpm-graph's picture is all there is): its page is
    # beside the logs of failed builds, and the console says where.
    assert "keel: what the failed run did, target by target: .pants.d/keel/keel-report.html" in run.stderr
    assert not (ws.root / "dist" / "keel-report.html").exists()
    page = ws.root / ".pants.d" / "keel" / "keel-report.html"
    source = page.read_text()
    # The counts are the script's to write: empty in the file.
    assert re.search(r'data-count="failed"></span>', source)

    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile").stdout
    found = rows(dom)
    assert {t: state for t, (state, _) in found.items()} == {
        BROKEN: "failed",
        # By rpm-graph's edges: needy's build needs broken's RPMs.
        NEEDY: "blocked",
        # Built by an earlier run of the suite, or now.
        OTHER: found[OTHER][0],
    }, dom
    assert found[OTHER][0] in ("built", "local cache")
    assert not any(hidden for _, hidden in found.values())
    # The counts the script wrote, per state and in all, and how many rows it shows.
    counts = dict(re.findall(r'data-count="([^"]*)">(\d+)<', dom))
    assert counts == {"": "3", "failed": "1", "blocked": "1", found[OTHER][0]: "1"}, counts
    assert re.search(r'<span id="shown" data-shown="3">3 of 3 targets shown</span>', dom)
    # The failed target: rpmbuild's error with the build's own words, escaped; its whole log.
    broken = row_html(dom, BROKEN)
    assert "rpmbuild failed for specs/broken/broken.spec (target specs/broken:broken)" in broken
    assert "broken: &lt;b&gt;cannot&lt;/b&gt; build &amp; stops" in broken
    assert "<b>cannot</b>" not in dom
    assert '<a href="logs/specs.broken.rpmbuild.log">.pants.d/keel/logs/specs.broken.rpmbuild.log</a>' in broken
    assert (page.parent / "logs" / "specs.broken.rpmbuild.log").read_text().count("cannot") >= 1
    assert 'blocked by <a href="#t-specs_broken_broken">specs/broken:broken</a>' in row_html(dom, NEEDY)
    # rpm-graph's picture, inline; the timeline's failed rpmbuild.
    assert re.search(r'<section id="graph">.*<svg', dom, re.S)
    assert re.search(r'<span class="bar failed"', dom)

    # The filter and the search, from the address: only broken's row is left.
    filtered = chromium("--dump-dom", page.as_uri() + "#state=failed&q=broken", profile=tmp_path / "profile").stdout
    assert {t: hidden for t, (_, hidden) in rows(filtered).items()} == {BROKEN: False, NEEDY: True, OTHER: True}
    assert "1 of 3 targets shown" in filtered

    # The picture a reader sees, kept as the test's output (dist/test/ after the run).
    shot = Path("extra-output") / "keel-report-failed-run.png"
    shot.parent.mkdir(exist_ok=True)
    chromium(
        "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot.resolve()}", page.as_uri(),
        profile=tmp_path / "profile",
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot} (Pants copies extra-output/ to dist/test/)")
