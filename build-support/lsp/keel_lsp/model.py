"""One view of the workspace for every request: the BUILD index, the graph, Pants' help.

The index is always there; the graph and the help arrive from background runs of Pants and are
swapped in whole (one attribute assignment), so a request never waits and never sees half of
one. Where both know something, the graph wins for what rpmspec decides (which target builds a
package, a target's stage) and the index for what the open BUILD file says right now.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from keel_lsp import addresses
from keel_lsp.buildfile import Span
from keel_lsp.graph import Graph
from keel_lsp.index import Index
from keel_lsp.kinds import Kinds
from keel_lsp.pants_help import Help

DEFAULT_TOOLCHAIN = "//toolchain:official"  # [rpm].toolchain's default, until help-all says


@dataclass
class Resolved:
    address: str
    kind: Optional[str]
    build_file: Optional[str]
    span: Optional[Span]
    spec: Optional[str]
    stage: Optional[str]
    stage_how: str
    packages: tuple[str, ...]


class Model:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.index = Index(root)
        self.graph: Optional[Graph] = None
        self._help: Optional[Help] = None
        self.kinds = Kinds(None)  # which fields hold addresses, packages, files: from the help
        # The Pants runs asked for and not finished ("help", "graph"): while one is, answers may
        # still change, and completion says so (isIncomplete) for editors to ask again.
        self.loading: set[str] = set()
        self._lists: Optional[tuple[int, list[str], list[str]]] = None
        self.generation = 0  # bumped on every change; completion lists are cached per generation

    def changed(self) -> None:
        self.generation += 1

    @property
    def help(self) -> Optional[Help]:
        return self._help

    @help.setter
    def help(self, value: Optional[Help]) -> None:
        # Field kinds come from the help: one swap for both, so no request sees them disagree.
        self._help, self.kinds = value, Kinds(value)

    def waiting_for_help(self) -> bool:
        """No help yet, and help-all is running: field kinds and target types are unknown."""
        return self._help is None and "help" in self.loading

    def waiting_for_graph(self) -> bool:
        """No graph yet, and rpm-graph is running: names only a Provides gives are unknown."""
        return self.graph is None and "graph" in self.loading

    # --- names ------------------------------------------------------------------------------

    def package_target(self, name: str) -> Optional[str]:
        if self.graph is not None and name in self.graph.packages:
            return self.graph.packages[name]
        return self.index.packages.get(name)

    def package_known(self, name: str) -> Optional[bool]:
        """Whether any rpm_package builds or provides `name`; None while only the specs' names
        are known (they miss `Provides:`), so no false error is shown before the graph loads."""
        if self.graph is None:
            return True if name in self.index.packages else None
        return name in self.graph.packages or name in self.index.packages

    def exists(self, address: str) -> Optional[bool]:
        found = self.index.exists(address)
        if not found and self.graph is not None and address in self.graph.targets:
            return True
        return found

    def lists(self) -> tuple[list[str], list[str]]:
        """All package names and all addresses (display form), sorted, for completion."""
        if self._lists is None or self._lists[0] != self.generation:
            packages = set(self.index.packages)
            targets = set(self.index.targets)
            if self.graph is not None:
                packages.update(self.graph.packages)
                targets.update(self.graph.targets)
            self._lists = (self.generation, sorted(packages), sorted(addresses.display(a) for a in targets))
        return self._lists[1], self._lists[2]

    def default_toolchain(self) -> str:
        configured = self.help.default_toolchain if self.help else None
        return addresses.parse(configured or DEFAULT_TOOLCHAIN, "") or "toolchain:official"

    # --- targets ----------------------------------------------------------------------------

    def resolve(self, address: str) -> Resolved:
        decl = self.index.targets.get(address)
        node = self.graph.targets.get(address) if self.graph is not None else None
        kind = decl.type if decl else (node.kind if node else None)
        build_file, span = None, None
        if decl is not None:
            build_file = self.index.target_files.get(address)
            span = decl.span
        elif node is not None and node.build_file:
            build_file = node.build_file
        spec = node.spec if node and node.spec else None
        if spec is None and address in self.index.specs:
            spec = self.index.specs[address].path
        packages: tuple[str, ...] = node.packages if node and node.packages else ()
        if not packages and address in self.index.specs:
            packages = tuple(self.index.specs[address].packages)
        stage, how = None, ""
        if kind == "rpm_package":
            stage, how = self._stage(address, node.stage if node else None)
        return Resolved(address, kind, build_file, span, spec, stage, how, packages)

    def _stage(self, address: str, from_graph: Optional[str]) -> tuple[str, str]:
        if from_graph:
            return from_graph, "rpm-graph"
        lister = self.index.stage_of.get(address)
        if lister:
            return lister, "listed in its `packages`, built in its base root"
        decl = self.index.targets.get(address)
        field = decl.fields.get("toolchain") if decl else None
        value = getattr(field.value, "value", None) if field else None
        if isinstance(value, str):
            parsed = addresses.parse(value, decl.directory)
            if parsed:
                return parsed, "its `toolchain` field"
        return self.default_toolchain(), "`[rpm].toolchain`"

    def dependents(self, address: str) -> list[tuple[str, str]]:
        """Who depends on `address`: the graph's edges (BuildRequires, installs, built_in…) and
        what the BUILD files say now (edits since the graph was made)."""
        found: list[tuple[str, str]] = []
        if self.graph is not None:
            found.extend(self.graph.dependents.get(address, []))
        seen = {a for a, _ in found}
        for dependent, how in self.index.dependents(address, self.package_target, self.kinds.role):
            if dependent not in seen:
                seen.add(dependent)
                found.append((dependent, how))
        return found

    def target_at(self, path: str, line: int) -> Optional[str]:
        build = self.index.files.get(path)
        for target in build.targets if build else []:
            if target.span.line <= line <= target.span.end_line and target.name_known:
                return target.address
        return None
