"""RPM distributions' naming conventions, for capabilities rpm generates from files.

rpm adds `perl(Foo::Bar)`, `python3dist(foo)` or `pkgconfig(foo)` to a package's Provides when
it builds it, from the files it holds: a spec's header, which rpmspec reads before anything is
built, does not have them. A BuildRequires on one is matched, before any build, with the package
the distribution's conventions name for it (perl-Foo-Bar, python3-foo, foo-devel), if a target
builds one; the root's derived capabilities follow the same conventions the other way
(rules/toolchain/scripts/root_provides.sh). If the guess is wrong, rpmbuild's own check of the
installed packages fails and says which capability is missing.
"""
from __future__ import annotations

import re

_PERL = re.compile(r"^perl\(([A-Za-z_][A-Za-z0-9_:]*)\)$")
_PYTHON = re.compile(r"^python3(?:\.\d+)?dist\(([^)\[]+)\)$")
_PKGCONFIG = re.compile(r"^pkgconfig\(([^)]+)\)$")


def conventional_packages(capability: str) -> tuple[str, ...]:
    """Package names that conventionally provide `capability`, most specific first."""
    if match := _PERL.match(capability):
        parts = match.group(1).split("::")
        return tuple(f"perl-{'-'.join(parts[:n])}" for n in range(len(parts), 0, -1))
    if match := _PYTHON.match(capability):
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        return (f"python3-{name}",)
    if match := _PKGCONFIG.match(capability):
        name = match.group(1)
        return (f"{name}-devel", f"lib{name}-devel") if not name.startswith("lib") else (f"{name}-devel",)
    return ()
