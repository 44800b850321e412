"""An rpmbuild log, read: the lines that say what failed, and where the whole log is kept.

rpm reports a failure in lines that start with `error:` (`error: Bad exit status from ...
(%build)`, `error: Failed build dependencies:` and the indented lines under it). What made a
%build or %install fail is printed just before the first of them, so an excerpt is those lines
plus the error lines, not the last lines of a log whose end is rpm's cleanup.
"""
from __future__ import annotations

import os
import re

_ERROR = re.compile(r"^error: ")
_CONTEXT_LINES = 20
_TAIL_LINES = 40
# Lines rpm prints after a failure that say nothing about it.
_NOISE = re.compile(r"^(RPM build errors:|RPM build warnings:)\s*$")


def error_lines(log: str) -> list[str]:
    """rpm's `error:` lines, each with the indented lines that continue it."""
    found: list[str] = []
    continuing = False
    for line in log.splitlines():
        if _ERROR.match(line):
            found.append(line)
            continuing = True
        elif continuing and line[:1] in ("\t", " ") and line.strip():
            found.append(line)
        else:
            continuing = False
    return found


def excerpt(log: str) -> str:
    """The lines before rpm's first `error:` line and every error line; else the log's tail."""
    lines = log.splitlines()
    first = next((i for i, line in enumerate(lines) if _ERROR.match(line)), None)
    if first is None:
        return "\n".join(lines[-_TAIL_LINES:])
    before = [line for line in lines[max(0, first - _CONTEXT_LINES) : first] if not _NOISE.match(line)]
    errors: list[str] = []
    for line in error_lines(log):
        if line not in errors:
            errors.append(line)
    return "\n".join([*before, *errors])


def first_error(log: str) -> str:
    """The one line that says best what failed: the first rpm `error:` line that is not just
    "Bad exit status", else the last non-empty line before it."""
    lines = log.splitlines()
    errors = error_lines(log)
    for line in errors:
        if _ERROR.match(line) and "Bad exit status" not in line:
            if line.rstrip().endswith(":"):  # "Failed build dependencies:" and what follows
                following = errors[errors.index(line) + 1 :]
                return " ".join([line.strip(), *(f.strip() for f in following[:3] if not _ERROR.match(f))])
            return line.strip()
    first = next((i for i, line in enumerate(lines) if _ERROR.match(line)), len(lines))
    for line in reversed(lines[:first]):
        text = line.strip()
        if text and not text.startswith("+ ") and not _NOISE.match(text):
            return text
    return errors[0].strip() if errors else (lines[-1].strip() if lines else "")


def write_log(workdir: str, address_path: str, log: str) -> str:
    """Keep a failed build's whole log under Pants' workdir; returns its path."""
    path = os.path.join(workdir, "keel", "logs", f"{address_path}.rpmbuild.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(log)
    return path
