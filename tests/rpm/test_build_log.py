"""What a failed rpmbuild's log is reduced to: rpm's error lines and what was printed just
before the first one, and a category for the compatibility report."""
from __future__ import annotations

from rules.rpm.goals.compat import (
    CHECK_FAILED,
    MISSING_BUILDREQUIRES,
    RPMBUILD_ERROR,
    UNDEFINED_MACRO,
    WRONG_ARCH,
    classify_log,
)
from rules.rpm.util_rules.build_log import excerpt, first_error

COMPILE_FAILURE = "\n".join(
    [
        "Executing(%prep): /bin/sh -e /var/tmp/rpm-tmp.1",
        *(f"+ line {i} of a long prep" for i in range(200)),
        "Executing(%build): /bin/sh -e /var/tmp/rpm-tmp.2",
        "+ make -j2",
        "gcc -O2 -c x.c",
        "x.c:3:1: error: expected ';' before '}' token",
        "make: *** [Makefile:2: x.o] Error 1",
        "error: Bad exit status from /var/tmp/rpm-tmp.2 (%build)",
        "",
        "RPM build errors:",
        "    Bad exit status from /var/tmp/rpm-tmp.2 (%build)",
        *(f"cleanup line {i}" for i in range(60)),
    ]
)

MISSING = "\n".join(
    [
        "error: Failed build dependencies:",
        "\tzlib-devel is needed by foo-1.0-1.azl3.x86_64",
        "\tpkgconfig(glib-2.0) >= 2.80 is needed by foo-1.0-1.azl3.x86_64",
    ]
)


def test_the_excerpt_keeps_what_came_before_the_first_error_not_the_cleanup() -> None:
    text = excerpt(COMPILE_FAILURE)
    assert "x.c:3:1: error: expected ';' before '}' token" in text
    assert "error: Bad exit status from /var/tmp/rpm-tmp.2 (%build)" in text
    assert "cleanup line" not in text
    assert "line 10 of a long prep" not in text
    # Without an rpm error line, the tail is all there is.
    assert excerpt("a\nb\nkilled") == "a\nb\nkilled"


def test_the_first_error_line_says_what_failed() -> None:
    assert first_error(COMPILE_FAILURE) == "make: *** [Makefile:2: x.o] Error 1"
    assert first_error(MISSING) == (
        "error: Failed build dependencies: zlib-devel is needed by foo-1.0-1.azl3.x86_64 "
        "pkgconfig(glib-2.0) >= 2.80 is needed by foo-1.0-1.azl3.x86_64"
    )
    unpackaged = 'error: File must begin with "/": %{perl_vendorlib}/*'
    assert first_error(f"+ make install\n{unpackaged}\n") == unpackaged


def test_failures_are_classified() -> None:
    assert classify_log(MISSING) == (MISSING_BUILDREQUIRES, "zlib-devel, pkgconfig(glib-2.0) >= 2.80")
    assert classify_log(COMPILE_FAILURE) == (RPMBUILD_ERROR, "")
    assert classify_log('error: File must begin with "/": %{_unitdir}/x.service\n') == (UNDEFINED_MACRO, "_unitdir")
    assert classify_log("error: Bad exit status from /var/tmp/rpm-tmp.3 (%check)\n") == (CHECK_FAILED, "")
    assert classify_log("error: Architecture is not included: x86_64\n") == (WRONG_ARCH, "")
    unexpanded_command = "+ %cmake3 -DX=ON\n/var/tmp/rpm-tmp.1: line 41: fg: no job control\nerror: Bad exit status from /var/tmp/rpm-tmp.1 (%build)\n"
    assert classify_log(unexpanded_command) == (UNDEFINED_MACRO, "cmake3")
    assert classify_log("+ '%{pyproject_wheel}'\nline 40: fg: no job control\n") == (UNDEFINED_MACRO, "pyproject_wheel")
