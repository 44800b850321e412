"""A state for every spec of an Azure-Linux-shaped tree: `build-support/azl-compat CHECKOUT --all`
imports every spec directory whatever its sources, and reports each one built, failed, blocked
(naming the nearest target that stops it), no sources (which pin, where keel looked, from-host's
reason) or unreadable, with the targets that block the most. Then the missing tarball is added
and `rpm-compat` run again: what it blocked builds."""
from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.azl_checkout import (
    CHANGELOG,
    CHECK_MACROS,
    MACROS_SPEC,
    VENDOR_MACROS,
    VENDOR_RPMRC,
    tarball,
)
from tests.pants_workspace import RULES_ROOT, Workspace, azl_toolchain_files


def spec(name: str, body: str, build_requires: tuple[str, ...] = (), preamble: str = "") -> str:
    """A noarch spec that installs one file per package, in the shape of the checkout's specs."""
    return (
        f"Summary: {name}\nName: {name}\nVersion: 1.0\nRelease: 1%{{?dist}}\nLicense: MIT\n"
        "BuildArch: noarch\n"
        + preamble
        + "".join(f"BuildRequires: {r}\n" for r in build_requires)
        + f"%description\n{name}.\n"
        + body
        + CHANGELOG.format(version="1.0")
    )


def installs(name: str) -> str:
    return (
        f"%install\nmkdir -p %{{buildroot}}%{{_datadir}}/{name}\n"
        f"echo {name} > %{{buildroot}}%{{_datadir}}/{name}/{name}\n"
        f"%files\n%{{_datadir}}/{name}\n"
    )


# The pinned tarball of `nosrc`: made here, kept out of every cache until the test adds it.
NOSRC_TARBALL = tarball({"nosrc.h": "#define NOSRC 1\n"}, "nosrc-1.0")
NOSRC_SPEC = spec(
    "nosrc",
    "%package devel\nSummary: headers\n%description devel\nHeaders.\n"
    "%prep\n%setup -q\n"
    "%install\ninstall -D -m 0644 nosrc.h %{buildroot}%{_includedir}/nosrc.h\n"
    "mkdir -p %{buildroot}%{_datadir}/nosrc\necho nosrc > %{buildroot}%{_datadir}/nosrc/nosrc\n"
    "%files\n%{_datadir}/nosrc\n%files devel\n%{_includedir}/nosrc.h\n",
    preamble="Source0: https://example.invalid/nosrc-%{version}.tar.gz\n",
)

SPECS = {
    "hello": spec("hello", installs("hello")),
    # Fails: nothing has it.
    "broken": spec("broken", installs("broken"), ("nonexistent-devel",)),
    "uses-broken": spec("uses-broken", installs("uses-broken"), ("broken",)),
    "nosrc": NOSRC_SPEC,
    "uses-nosrc": spec("uses-nosrc", installs("uses-nosrc"), ("nosrc-devel",)),
    # Blocked by nosrc through uses-nosrc.
    "uses-uses-nosrc": spec("uses-uses-nosrc", installs("uses-uses-nosrc"), ("uses-nosrc",)),
    # rpmspec cannot parse it: an %if that never ends.
    "unreadable": spec("unreadable", "%if 0%{?azl}\n" + installs("unreadable")),
}


def write_checkout(root: Path) -> Path:
    checkout = root / "azurelinux"
    files = {
        "SPECS/azurelinux-rpm-macros/azurelinux-rpm-macros.spec": MACROS_SPEC,
        "SPECS/azurelinux-rpm-macros/macros": VENDOR_MACROS,
        "SPECS/azurelinux-rpm-macros/rpmrc": VENDOR_RPMRC,
        "SPECS/azurelinux-rpm-macros/macros.check": CHECK_MACROS,
        **{f"SPECS/{name}/{name}.spec": text for name, text in SPECS.items()},
        "SPECS/nosrc/nosrc.signatures.json": json.dumps(
            {"Signatures": {"nosrc-1.0.tar.gz": hashlib.sha256(NOSRC_TARBALL).hexdigest()}}
        ),
    }
    for path, content in files.items():
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        (checkout / path).write_text(content)
    return checkout


def target(name: str) -> str:
    return f"azl/SPECS/{name}:{name}"


def test_every_spec_gets_a_state_and_the_top_blockers_are_listed(tmp_path: Path) -> None:
    checkout = write_checkout(tmp_path)
    ws = Workspace(tmp_path, azl_toolchain_files())
    # azl-compat as a user runs it from the workspace: its scripts, and ./pants running the
    # test's Pants the way the other tests do.
    for script in ("azl-compat", "source-cache"):
        (ws.root / "build-support").mkdir(exist_ok=True)
        shutil.copyfile(RULES_ROOT / "build-support" / script, ws.root / "build-support" / script)
        (ws.root / "build-support" / script).chmod(0o755)
    argv, env = ws.pants_command()
    # Pants' own import path only for Pants: the scripts run their python3 without it.
    pythonpath = env.pop("PYTHONPATH")
    (ws.root / "pants").write_text(
        f'#!/bin/sh\nexport PYTHONPATH={shlex.quote(pythonpath)}\nexec {shlex.join(argv)} "$@"\n'
    )
    (ws.root / "pants").chmod(0o755)
    # from-host looks in no package index: an apt configuration without sources.
    cache, apt = tmp_path / "sources", tmp_path / "apt"
    apt.mkdir()

    run = subprocess.run(
        [sys.executable, "build-support/azl-compat", str(checkout), "--all",
         f"--source-cache={cache}", f"--apt-dir={apt}"],
        cwd=ws.root, env=env, capture_output=True, text=True,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    report = json.loads((ws.root / "dist/azl-compat.json").read_text())
    entries = {t["target"]: t for t in report["targets"]}
    assert {t: e["state"] for t, e in entries.items()} == {
        target("azurelinux-rpm-macros"): "built",
        target("hello"): "built",
        target("broken"): "failed",
        target("uses-broken"): "blocked",
        target("nosrc"): "no sources",
        target("uses-nosrc"): "blocked",
        target("uses-uses-nosrc"): "blocked",
        target("unreadable"): "unreadable",
    }, f"{run.stdout}\n{run.stderr}"
    assert report["states"] == {"built": 2, "failed": 1, "blocked": 3, "no sources": 1, "unreadable": 1}
    assert report["azl"]["all"] and report["azl"]["spec_directories"] == 8

    # Failed, with today's category; the older fields stay.
    broken = entries[target("broken")]
    assert (broken["result"], broken["category"], broken["detail"]) == ("failed", "missing BuildRequires", "nonexistent-devel")
    assert entries[target("hello")]["result"] == "built" and entries[target("hello")]["rpms"]

    # Blocked: by the nearest target that stops it, and through which targets.
    assert entries[target("uses-broken")]["blocked_by"] == target("broken")
    assert entries[target("uses-broken")]["category"] == "a BuildRequires target failed"
    assert entries[target("uses-nosrc")]["blocked_by"] == target("nosrc")
    assert entries[target("uses-nosrc")]["category"] == "a BuildRequires target has no sources"
    assert entries[target("uses-uses-nosrc")]["blocked_by"] == target("nosrc")
    assert entries[target("uses-uses-nosrc")]["blocked_through"] == [target("uses-nosrc")]

    # No sources: which pin, from-host's reason for it, and where keel looked.
    nosrc = entries[target("nosrc")]
    (missing,) = nosrc["missing_sources"]
    assert missing["file"] == "nosrc-1.0.tar.gz"
    assert missing["signatures"] == "azl/SPECS/nosrc/nosrc.signatures.json"
    host = json.loads((ws.root / report["azl"]["sources_report"]).read_text())
    assert missing["reason"] == host["azl/SPECS/nosrc/nosrc.signatures.json"]["missing"]["nosrc-1.0.tar.gz"]
    assert missing["looked_in"][0] == str(cache / "nosrc-1.0.tar.gz")
    assert "https://example.invalid/nosrc-1.0.tar.gz" in missing["looked_in"]
    assert len(missing["attempts"]) == len(missing["looked_in"])

    # Unreadable: rpmspec's error.
    assert "%if" in entries[target("unreadable")]["first_error"] or "%endif" in entries[target("unreadable")]["first_error"]

    # What blocks the most: nosrc (two specs), then broken (one).
    assert [(b["target"], b["state"], b["blocks"], b["nearest_for"]) for b in report["top_blockers"]] == [
        (target("nosrc"), "no sources", 2, 2),
        (target("broken"), "failed", 1, 1),
    ]
    markdown = (ws.root / "dist/azl-compat.md").read_text()
    assert markdown.startswith("# keel and Azure Linux's specs")
    for row in (
        "| blocked | 3 |", "| no sources | 1 |", "| unreadable | 1 |",
        # What blocks the most: how many, of which the nearest blocker, and why.
        f"| {target('nosrc')} | no sources | 2 | 2 | nosrc-1.0.tar.gz: {missing['reason']} |",
        f"| {target('hello')} | built |",
        f"| {target('uses-uses-nosrc')} | blocked | a BuildRequires target has no sources | "
        f"{target('nosrc')} (through {target('uses-nosrc')}) |",
    ):
        assert row in markdown, row
    # Neither blocked spec was built: nothing of them is in the logs of failed builds.
    assert not list((ws.root / "dist/azl-compat-logs").glob("*uses*"))

    # The missing tarball arrives: nosrc and what it blocked build; the rest stays as it was.
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "nosrc-1.0.tar.gz").write_bytes(NOSRC_TARBALL)
    subprocess.run(
        [sys.executable, "build-support/source-cache", "import", str(incoming), "--cache-dir", str(cache),
         "--specs", "azl"],
        cwd=ws.root, check=True, capture_output=True,
    )
    again = ws.pants("rpm-compat", f"--rpm-sources-cache-dir={cache}", "--report-name=again", "azl::", check=False)
    entries = {t["target"]: t for t in json.loads((ws.root / "dist/again.json").read_text())["targets"]}
    states = {t: e["state"] for t, e in entries.items()}
    for name in ("nosrc", "uses-nosrc", "uses-uses-nosrc", "hello"):
        assert states[target(name)] == "built", f"{again.stdout}\n{again.stderr}"
    assert (states[target("broken")], states[target("uses-broken")]) == ("failed", "blocked")
    assert "5 of 8 built" in again.stdout
