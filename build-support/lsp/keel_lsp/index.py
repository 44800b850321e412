"""The workspace as read from its BUILD files (and specs' names): the server's own index.

It needs no Pants, so addresses complete, resolve and are checked the moment the server starts;
the graph from `rpm-graph` then adds what only rpmspec knows (Provides, BuildRequires edges).
Every BUILD file is kept parsed; the lookup tables are rebuilt from them after a change, which
takes milliseconds even for thousands of specs.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from keel_lsp import addresses, buildfile, specfile
from keel_lsp.buildfile import BuildFile, Str, TargetDecl
from keel_lsp.kinds import ADDRESS, PACKAGE

# Directories no BUILD file of the workspace lives in: Pants' and keel's own state, VCS.
SKIP_DIRS = {".git", ".pants.d", ".keel", "dist", "node_modules", "__pycache__"}


def is_build_file(name: str) -> bool:
    return name == "BUILD" or (name.startswith("BUILD.") and name != "BUILD.md")


# What one string of a field is (kinds.ADDRESS, PACKAGE, FILE or None), given the target type,
# the field and the string: keel_lsp.kinds.Kinds.role, from Pants' help of the fields.
Role = Callable[[str, str, str], Optional[str]]


@dataclass
class SpecInfo:
    path: Optional[str]  # relative to the workspace root
    packages: list[str]


class Index:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, BuildFile] = {}
        self.specs: dict[str, SpecInfo] = {}  # rpm_package address -> its spec
        # Derived tables, rebuilt by _derive().
        self.targets: dict[str, TargetDecl] = {}
        self.target_files: dict[str, str] = {}  # address -> the BUILD file declaring it
        self.packages: dict[str, str] = {}
        self.uncertain_dirs: set[str] = set()
        self.stage_of: dict[str, str] = {}  # package target -> toolchain_stage listing it

    # --- loading ------------------------------------------------------------------------------

    def scan(self) -> None:
        # os.walk and plain open(): at thousands of directories, pathlib's overhead shows.
        top = str(self.root)
        for directory, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            relative = os.path.relpath(directory, top).replace(os.sep, "/")
            relative = "" if relative == "." else relative
            specs = sorted(n for n in filenames if n.endswith(".spec"))
            for name in filenames:
                if is_build_file(name):
                    with open(os.path.join(directory, name), errors="replace") as f:
                        self._parse_file(posixpath.join(relative, name), f.read(), specs)
        self._derive()

    def update(self, path: str, source: Optional[str] = None) -> None:
        """A BUILD file (relative path) changed, was created (`source` given or read from disk) or
        is gone."""
        self._update(path, source)
        self._derive()

    def update_many(self, build_files: list[str], specs: list[str]) -> None:
        """Files changed behind the editor's back (a checkout): one derive for all of them."""
        for path in build_files:
            self._update(path, None)
        for path in specs:
            directory = posixpath.dirname(path)
            for build in self.files.values():
                if build.directory == directory:
                    self._read_specs(build)
        self._derive()

    def _update(self, path: str, source: Optional[str]) -> None:
        full = self.root / path
        if source is None and not full.exists():
            self.files.pop(path, None)
        else:
            self._parse_file(path, source if source is not None else full.read_text(errors="replace"))

    def update_spec(self, path: str) -> None:
        """A spec changed: re-read the names of the targets in its directory."""
        self.update_many([], [path])

    def _parse_file(self, path: str, source: str, specs: Optional[list[str]] = None) -> None:
        build = buildfile.parse(path, source)
        previous = self.files.get(path)
        if build.error is not None and previous is not None and previous.error is None:
            return  # saved mid-edit with a syntax error: its targets stay as they last parsed
        self.files[path] = build
        self._read_specs(build, specs)

    def _read_specs(self, build: BuildFile, specs: Optional[list[str]] = None) -> None:
        """`specs`: the directory's *.spec files when the caller has listed it already."""
        for target in build.targets:
            if target.type != "rpm_package":
                continue
            spec = self._spec_path(target, specs)
            names: list[str] = []
            if spec is not None:
                try:
                    with open(os.path.join(self.root, spec), errors="replace") as f:
                        names = specfile.package_names(f.read())
                except OSError:
                    pass
            self.specs[target.address] = SpecInfo(spec, names)

    def _spec_path(self, target: TargetDecl, specs: Optional[list[str]]) -> Optional[str]:
        """The `spec` field, else the directory's only *.spec (as rpm_package defaults it)."""
        given = target.fields.get("spec")
        if given is not None and isinstance(given.value, Str):
            return posixpath.join(target.directory, given.value.value)
        if specs is None:
            try:
                specs = sorted(n for n in os.listdir(self.root / target.directory) if n.endswith(".spec"))
            except OSError:
                return None
        return posixpath.join(target.directory, specs[0]) if len(specs) == 1 else None

    def _derive(self) -> None:
        targets: dict[str, TargetDecl] = {}
        target_files: dict[str, str] = {}
        uncertain: set[str] = set()
        for build in self.files.values():
            for target in build.targets:
                if not target.name_known:
                    uncertain.add(build.directory)
                elif not target.type.startswith("_") and target.address not in targets:
                    targets[target.address] = target
                    target_files[target.address] = build.path
        packages: dict[str, str] = {}
        for address, spec in self.specs.items():
            if address in targets:
                for name in spec.packages:
                    packages.setdefault(name, address)
        stage_of: dict[str, str] = {}
        for address, target in targets.items():
            if target.type == "toolchain_stage":
                for entry in target.strings("packages"):
                    built = addresses.parse(entry.value, target.directory)
                    if built:
                        stage_of.setdefault(built, address)
        self.target_files = target_files
        self.targets, self.packages, self.uncertain_dirs, self.stage_of = targets, packages, uncertain, stage_of

    # --- queries ------------------------------------------------------------------------------

    def fields_in_use(self) -> dict[str, set[str]]:
        """The names BUILD files call and the keywords they give them: what completion offers
        while Pants' help is not there yet (a fresh clone's first minute)."""
        used: dict[str, set[str]] = {}
        for build in self.files.values():
            for target in build.targets:
                if not target.type.startswith("_") and target.type not in build.defined:
                    used.setdefault(target.type, set()).update(target.fields)
        return used

    def exists(self, address: str) -> Optional[bool]:
        """True/False when the BUILD files tell; None when they cannot (no BUILD parsed there
        with certainty: a macro-made name, or a directory outside the workspace)."""
        if address in self.targets:
            return True
        directory, _ = addresses.split(address)
        if directory in self.uncertain_dirs:
            return None
        return False

    def dependents(self, address: str, package_target, role: Role) -> list[tuple[str, str]]:
        """Targets whose BUILD fields name `address` (or a package it builds); `package_target`
        maps a package name to its target (graph or spec names), `role` says what a string is."""
        found: list[tuple[str, str]] = []
        for dependent, target in self.targets.items():
            for name, decl in target.fields.items():
                for value in buildfile.strings_in(decl.value):
                    kind = role(target.type, name, value.value)
                    if kind == ADDRESS and addresses.parse(value.value, target.directory) == address:
                        found.append((dependent, name))
                    elif kind == PACKAGE and package_target(value.value) == address:
                        found.append((dependent, name))
        return list(dict.fromkeys(found))
