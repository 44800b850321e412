"""rpm-compat's states after the builds: a blocked target names the nearest target of its build
closure that stops it, and the targets that block the most are counted through build closures."""
from __future__ import annotations

from pants.engine.addresses import Address

from rules.rpm.goals.compat import (
    BLOCKED,
    BUILT,
    DEPENDENCY_FAILED,
    DEPENDENCY_NO_SOURCES,
    FAILED,
    NO_SOURCES,
    SOURCE_NOT_AVAILABLE,
    Blocker,
    BuildAttempt,
    blocked_attempt,
    no_sources_attempt,
    nearest_blocker,
    settle,
    with_host_reasons,
)
from rules.sources.fetch import MissingSource, SourcesAvailability


def a(name: str) -> Address:
    return Address(f"azl/SPECS/{name}", target_name=name)


def attempt(name: str, state: str, first_error: str = "") -> BuildAttempt:
    return BuildAttempt(a(name), (), state if state == BUILT else "x", "", first_error, "", state=state)


# app -> mid -> lib (no sources); app -> tool (failed); other -> tool; leaf -> nothing.
DEPENDENCIES = {
    a("app"): (a("mid"), a("tool")),
    a("mid"): (a("lib"),),
    a("other"): (a("tool"),),
    a("tool"): (),
    a("lib"): (),
    a("leaf"): (),
}


def test_the_nearest_blocker_is_found_breadth_first_with_the_targets_between() -> None:
    states = {a("lib"): NO_SOURCES, a("tool"): FAILED, a("mid"): BLOCKED}
    # tool is a direct dependency of app; lib is one step further, through mid.
    assert nearest_blocker(a("app"), DEPENDENCIES, states) == (a("tool"), ())
    assert nearest_blocker(a("mid"), DEPENDENCIES, states) == (a("lib"), ())
    assert nearest_blocker(a("app"), DEPENDENCIES, {a("lib"): NO_SOURCES}) == (a("lib"), (a("mid"),))
    assert nearest_blocker(a("leaf"), DEPENDENCIES, states) is None


def test_settle_names_the_nearest_blocker_and_counts_what_each_blocks() -> None:
    tool = attempt("tool", FAILED, "error: Failed build dependencies: nothing-devel is needed")
    lib = BuildAttempt(a("lib"), (), SOURCE_NOT_AVAILABLE, "lib-1.0.tar.gz", "cannot get lib", "", state=NO_SOURCES)
    # The build of app reported mid's blocker (whichever error the engine raised first).
    app = blocked_attempt(a("app"), a("lib"), NO_SOURCES, "cannot get lib")
    mid = blocked_attempt(a("mid"), a("lib"), NO_SOURCES, "cannot get lib")
    other = blocked_attempt(a("other"), a("tool"), FAILED, "whatever")
    settled, top = settle([app, mid, other, tool, attempt("leaf", BUILT)], DEPENDENCIES, {a("lib"): lib})
    by_name = {s.address.target_name: s for s in settled}
    assert by_name["app"].blocked_by == a("tool") and by_name["app"].category == DEPENDENCY_FAILED
    assert by_name["app"].first_error == f"{a('tool')} failed: {tool.first_error}"
    assert by_name["mid"].blocked_by == a("lib") and by_name["mid"].category == DEPENDENCY_NO_SOURCES
    assert by_name["mid"].first_error == f"{a('lib')} has no sources: cannot get lib"
    assert by_name["leaf"].state == BUILT
    # lib (outside the run) blocks app and mid, and is the nearest blocker of mid; tool blocks
    # app and other, and is the nearest of both: it comes first.
    assert top == [Blocker(a("tool"), 2, 2), Blocker(a("lib"), 2, 1)]


def test_from_hosts_reason_replaces_keels_own() -> None:
    missing = (
        MissingSource("x-1.0.tar.gz", "azl/SPECS/x/x.signatures.json", "keel: cannot get it", ("c",), ()),
        MissingSource("x.patch.gz", "azl/SPECS/x/x.signatures.json", "keel: cannot get that", ("c",), ()),
    )
    entry = no_sources_attempt(a("x"), SourcesAvailability(missing))
    assert entry.first_error == "x-1.0.tar.gz: keel: cannot get it"
    merged = with_host_reasons(entry, {("azl/SPECS/x/x.signatures.json", "x-1.0.tar.gz"): "not in the host's source index"})
    assert [m.reason for m in merged.missing] == ["not in the host's source index", "keel: cannot get that"]
    assert merged.first_error == "x-1.0.tar.gz: not in the host's source index"
    # Without a reason of from-host's, keel's own stands.
    assert with_host_reasons(entry, {}) == entry
