"""The binary package names a spec builds, read from its text: the fallback for when the graph
of `./pants rpm-graph` (which asks rpmspec) is not there yet.

Only `Name:`, `%package [-n] X` and simple `%define`/`%global` macros are read. That is enough
to complete and follow names at once; the graph replaces it as soon as it loads. Names that still
hold a macro this cannot expand are dropped rather than shown wrong.
"""
from __future__ import annotations

import re

_MACRO = re.compile(r"%\{\??([A-Za-z_][A-Za-z0-9_]*)\}|%([A-Za-z_][A-Za-z0-9_]*)")
_DEFINE = re.compile(r"^\s*%(?:define|global)\s+([A-Za-z_][A-Za-z0-9_]*)\s+(\S.*?)\s*$")
_TAG = re.compile(r"^\s*(Name|Version)\s*:\s*(\S+)\s*$", re.IGNORECASE)
_PACKAGE = re.compile(r"^\s*%package\s+(?:(-n)\s+)?(\S+)\s*$")


def _expand(text: str, macros: dict[str, str]) -> str:
    for _ in range(5):  # nested macros, bounded
        expanded = _MACRO.sub(lambda m: macros.get(m.group(1) or m.group(2), m.group(0)), text)
        if expanded == text:
            break
        text = expanded
    return text


def package_names(text: str) -> list[str]:
    macros: dict[str, str] = {}
    names: list[str] = []
    main = None
    for line in text.splitlines():
        define = _DEFINE.match(line)
        if define:
            macros[define.group(1)] = _expand(define.group(2), macros)
            continue
        tag = _TAG.match(line)
        if tag and tag.group(1).lower() not in macros:
            value = _expand(tag.group(2), macros)
            macros[tag.group(1).lower()] = value
            if tag.group(1).lower() == "name" and main is None:
                main = value
                names.append(value)
            continue
        package = _PACKAGE.match(line)
        if package and main is not None:
            sub = _expand(package.group(2), macros)
            names.append(sub if package.group(1) else f"{main}-{sub}")
    return [n for n in dict.fromkeys(names) if "%" not in n]
