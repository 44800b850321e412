"""Completion, hover, definition and references: each a function of (model, document, offset).

Everything here reads in-memory data only (the model); no request runs Pants or walks the disk
beyond reading one BUILD file that is not open, or listing one directory to complete a file. Lists are cut to MAX_ITEMS matching the typed
prefix and flagged incomplete, so the editor asks again as the user types instead of receiving
thousands of package names at once.
"""
from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lsprotocol import types

from keel_lsp import addresses, buildfile, context
from keel_lsp.buildfile import BuildFile, Span
from keel_lsp.kinds import ADDRESS, FILE, PACKAGE
from keel_lsp.model import Model

MAX_ITEMS = 200
# Python names a BUILD file may call that are no target types.
BUILTINS = {"dict", "list", "len", "str", "print", "glob", "set", "tuple", "sorted", "range", "zip", "any", "all"}


@dataclass
class Doc:
    """An open BUILD file: its path relative to the workspace and its current text."""

    path: str
    text: str
    _parsed: Optional[BuildFile] = None

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path)

    def parsed(self) -> BuildFile:
        if self._parsed is None:
            self._parsed = buildfile.parse(self.path, self.text)
        return self._parsed

    def target_types(self, model: Model) -> set[str]:
        """The names this file calls: what a field given through `dict(...)` belongs to. While
        it does not parse (being typed), the names it called when it last did."""
        build = self.parsed()
        if build.error is not None:
            build = model.index.files.get(self.path, build)
        return {t.type for t in build.targets}

    def position(self, offset: int) -> types.Position:
        line = self.text.count("\n", 0, offset)
        return types.Position(line, offset - (self.text.rfind("\n", 0, offset) + 1))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(self.position(start), self.position(end))


def span_range(span: Span) -> types.Range:
    return types.Range(types.Position(span.line, span.start), types.Position(span.end_line, span.end))


def uri(root: Path, path: str) -> str:
    return (root / path).as_uri()


# --- what is under the cursor ---------------------------------------------------------------


@dataclass
class StringAt:
    value: str
    role: Optional[str]  # ADDRESS | PACKAGE | FILE | None
    start: int
    end: int
    directory: str  # addresses and files in it are relative to this BUILD file's directory
    target: Optional[str] = None  # the target whose field holds it, when the BUILD file parses
    field: Optional[str] = None


def string_at(model: Model, doc: Doc, offset: int) -> Optional[StringAt]:
    found = context.string_at(doc.text, offset)
    if found is None:
        return None
    value, start, end, call = found
    # The parsed file knows strings that reach a field through a variable (images/core's BASE).
    line = doc.text.count("\n", 0, start)
    column = start - (doc.text.rfind("\n", 0, start) + 1)
    build = doc.parsed()
    if build.error is None:
        for target in build.targets:
            for name, decl in target.fields.items():
                for s in buildfile.strings_in(decl.value):
                    if s.span.line == line and s.span.start < column <= s.span.start + 4:  # after r/b and quotes
                        role = model.kinds.role(target.type, name, s.value)
                        return StringAt(s.value, role, start, end, doc.directory, target.address, name)
    keyword = call.keyword if call else None
    role = model.kinds.role(call.callee, keyword, value, doc.target_types(model)) if call and call.callee else None
    return StringAt(value, role, start, end, doc.directory, None, keyword)


def resolve_string(model: Model, found: StringAt) -> Optional[str]:
    """The target a string names: the address itself, or the target building a package."""
    if found.role == ADDRESS:
        return addresses.parse(found.value, found.directory)
    if found.role == PACKAGE:
        return model.package_target(found.value)
    return None


def file_path(model: Model, found: StringAt) -> Optional[str]:
    """The workspace file a FILE string names, relative to the root; None for a glob, an
    absolute path (a path in an image, as `files`' keys are) or a file that is not there."""
    value = found.value
    if found.role != FILE or not value or value.startswith("/") or any(c in value for c in "*?[!"):
        return None
    path = posixpath.normpath(posixpath.join(found.directory, value))
    if path.startswith("../") or not (model.root / path).exists():
        return None
    return path


# --- loading --------------------------------------------------------------------------------

HELP_LOADING = "loading the target types' help (`./pants help-all`, about a minute on a fresh clone); ask again in a moment"
GRAPH_LOADING = "loading the package graph (`./pants rpm-graph`), which also knows each spec's `Provides:`; ask again in a moment"


def loading_note(model: Model, doc: Doc, offset: int) -> Optional[tuple[str, int, int]]:
    """Why nothing is known yet about what is under the cursor, when that is a Pants run still
    going: (text, start, end). None when the answer does not wait for one."""
    found = string_at(model, doc, offset)
    if found is not None:
        if found.role is None and model.waiting_for_help():
            return f"`{found.value}`: {HELP_LOADING}", found.start, found.end
        if found.role == PACKAGE and model.package_target(found.value) is None and model.waiting_for_graph():
            return f"binary package `{found.value}`: not in any spec's names; {GRAPH_LOADING}", found.start, found.end
        return None
    word, start, end = context.word_at(doc.text, offset)
    after = doc.text[end:].lstrip(" \t")
    if word and after[:1] in ("(", "=") and model.waiting_for_help():
        return f"`{word}`: {HELP_LOADING}", start, end
    return None


# --- completion -----------------------------------------------------------------------------


def _matching(candidates: list[str], prefix: str) -> tuple[list[str], bool]:
    """Those starting with `prefix` first, then those containing it; at most MAX_ITEMS."""
    lowered = prefix.lower()
    starts, contains = [], []
    for candidate in candidates:
        position = candidate.lower().find(lowered)
        if position == 0:
            starts.append(candidate)
        elif position > 0:
            contains.append(candidate)
    found = starts + contains
    return found[:MAX_ITEMS], len(found) > MAX_ITEMS


def _markdown(text: str) -> types.MarkupContent:
    return types.MarkupContent(types.MarkupKind.Markdown, text)


def complete(model: Model, doc: Doc, offset: int) -> types.CompletionList:
    """While help-all or rpm-graph runs, the list is what the server has so far and says it is
    incomplete: editors then ask again as the user types, and get the full answer once loaded."""
    ctx = context.scan(doc.text, offset)
    items: list[types.CompletionItem] = []
    incomplete = False
    if ctx.kind == "statement":
        items, incomplete = _complete_target_types(model, ctx)
    elif ctx.kind == "argument" and ctx.call is not None:
        items, incomplete = _complete_fields(model, ctx)
    elif ctx.kind == "string" and ctx.call is not None and ctx.call.callee:
        items, incomplete = _complete_string(model, doc, ctx, offset)
    return types.CompletionList(is_incomplete=incomplete or bool(model.loading), items=items)


Items = tuple[list[types.CompletionItem], bool]


def _complete_target_types(model: Model, ctx: context.Context) -> Items:
    if model.help is None:  # still loading: the types this workspace's BUILD files call
        used = sorted(set(model.index.fields_in_use()) - BUILTINS)
        names, incomplete = _matching(used, ctx.prefix)
        return [types.CompletionItem(n, kind=types.CompletionItemKind.Class, detail="used in this workspace") for n in names], incomplete
    names, incomplete = _matching(sorted(model.help.targets), ctx.prefix)
    items = []
    for alias in names:
        target = model.help.targets[alias]
        items.append(
            types.CompletionItem(
                alias, kind=types.CompletionItemKind.Class, detail=target.summary, documentation=_markdown(target.description)
            )
        )
    return items, incomplete


def _complete_fields(model: Model, ctx: context.Context) -> Items:
    given = set(ctx.call.keywords)
    if model.help is None:  # still loading: the fields this workspace gives such targets
        used = sorted(model.index.fields_in_use().get(ctx.call.callee, set()) - given)
        names, incomplete = _matching(used, ctx.prefix)
        return [types.CompletionItem(n, kind=types.CompletionItemKind.Field, insert_text=f"{n}=") for n in names], incomplete
    target = model.help.targets.get(ctx.call.callee)
    if target is None:
        return [], False
    names, incomplete = _matching(sorted(set(target.fields) - given), ctx.prefix)
    items = []
    for alias in names:
        f = target.fields[alias]
        items.append(
            types.CompletionItem(
                alias, kind=types.CompletionItemKind.Field, detail=f.type_hint + (" (required)" if f.required else ""),
                documentation=_markdown(f.description), insert_text=f"{alias}=",
            )
        )
    return items, incomplete


_ITEM_KINDS = {
    PACKAGE: types.CompletionItemKind.Value,
    ADDRESS: types.CompletionItemKind.Reference,
    FILE: types.CompletionItemKind.File,
}


def _complete_string(model: Model, doc: Doc, ctx: context.Context, offset: int) -> Items:
    # A package field with nothing typed yet offers names: the common case in images and sets.
    role = model.kinds.role(ctx.call.callee, ctx.call.keyword, ctx.prefix, doc.target_types(model))
    if role == PACKAGE:
        candidates = model.lists()[0]
    elif role == ADDRESS:
        candidates = _address_candidates(model.lists()[1], ctx.prefix, doc.directory, model)
    elif role == FILE:
        candidates = _file_candidates(model, doc.directory, ctx.prefix)
    else:
        return [], False
    names, incomplete = _matching(candidates, ctx.prefix)
    edit_range = doc.range(ctx.prefix_start, offset)
    items = []
    for name in names:
        detail = f"built by {addresses.display(model.package_target(name) or '?')}" if role == PACKAGE else None
        items.append(types.CompletionItem(name, kind=_ITEM_KINDS[role], detail=detail, text_edit=types.TextEdit(edit_range, name)))
    return items, incomplete


def _address_candidates(targets: list[str], prefix: str, directory: str, model: Model) -> list[str]:
    if prefix.startswith(":"):
        return sorted(f":{addresses.split(a)[1]}" for a in model.index.targets if addresses.split(a)[0] == directory)
    if prefix.startswith("//"):
        return [f"//{t}" for t in targets]
    return targets


def _file_candidates(model: Model, directory: str, prefix: str) -> list[str]:
    """The entries of the directory the typed path is in, relative to the BUILD file's
    directory; directories end in `/` so the next level completes in turn."""
    typed_dir = posixpath.dirname(prefix)
    if prefix.startswith("/") or typed_dir.startswith(".."):
        return []
    try:
        entries = sorted(os.scandir(model.root / directory / typed_dir), key=lambda e: e.name)
    except OSError:
        return []
    hidden = posixpath.basename(prefix).startswith(".")
    return [
        posixpath.join(typed_dir, e.name) + ("/" if e.is_dir() else "")
        for e in entries
        if hidden or not e.name.startswith(".")
    ]


# --- hover ----------------------------------------------------------------------------------


def describe(model: Model, address: str) -> str:
    r = model.resolve(address)
    shown = addresses.display(address)
    if r.kind is None:
        return f"`{shown}`: no such target"
    lines = [f"**{r.kind}** `{shown}`", ""]
    if r.build_file:
        lines.append(f"- BUILD: `{r.build_file}`" + (f" line {r.span.line + 1}" if r.span else ""))
    if r.spec:
        lines.append(f"- spec: `{r.spec}`")
    if r.stage:
        lines.append(f"- built in: `{addresses.display(r.stage)}` ({r.stage_how})")
    if r.packages:
        lines.append(f"- packages: {', '.join(r.packages)}")
    dependents = model.dependents(address)
    if dependents:
        lines.append(f"- dependents: {len(dependents)}")
    return "\n".join(lines)


def hover(model: Model, doc: Doc, offset: int) -> Optional[types.Hover]:
    waiting = loading_note(model, doc, offset)
    if waiting is not None:
        text, start, end = waiting
        return types.Hover(_markdown(text), doc.range(start, end))
    found = string_at(model, doc, offset)
    if found is not None:
        text = _describe_string(model, found)
        return types.Hover(_markdown(text), doc.range(found.start, found.end)) if text else None
    return _hover_word(model, doc, offset)


def _describe_string(model: Model, found: StringAt) -> Optional[str]:
    target = resolve_string(model, found)
    if found.role == PACKAGE:
        if target:
            return f"binary package `{found.value}`\n\n" + describe(model, target)
        if model.package_known(found.value) is None:
            return f"binary package `{found.value}`: not in any spec's names; the package graph (Provides) is not loaded yet"
        return f"binary package `{found.value}`: no rpm_package builds or provides it"
    if found.role == FILE:
        path = file_path(model, found)
        return f"file `{path}`" if path else None
    if target is not None:
        return describe(model, target)
    if found.field == "name" and found.target is not None:
        return describe(model, found.target)  # the target being declared
    return None


def _hover_word(model: Model, doc: Doc, offset: int) -> Optional[types.Hover]:
    """A target type's or a field's help, from Pants."""
    if model.help is None:
        return None
    word, start, end = context.word_at(doc.text, offset)
    if not word:
        return None
    after = doc.text[end:].lstrip(" \t")
    if after.startswith("(") and word in model.help.targets:
        target = model.help.targets[word]
        return types.Hover(_markdown(f"**{word}** (target type, {target.provider or 'pants'})\n\n{target.description}"), doc.range(start, end))
    ctx = context.scan(doc.text, start)
    if ctx.kind == "argument" and ctx.call and ctx.call.callee in model.help.targets and after.startswith("="):
        f = model.help.targets[ctx.call.callee].fields.get(word)
        if f is not None:
            default = f"\n\ndefault: `{f.default}`" if f.default is not None else ""
            header = f"**{word}**: `{f.type_hint}`" + (" (required)" if f.required else "")
            return types.Hover(_markdown(f"{header} — field of `{ctx.call.callee}`\n\n{f.description}{default}"), doc.range(start, end))
    return None


# --- definition and references --------------------------------------------------------------


def _target_location(model: Model, address: str) -> list[types.Location]:
    r = model.resolve(address)
    found = []
    if r.build_file:
        span = r.span or Span(0, 0, 0, 0)
        line = types.Range(types.Position(span.line, span.start), types.Position(span.line, span.start))
        found.append(types.Location(uri(model.root, r.build_file), line))
    if r.spec:
        found.append(types.Location(uri(model.root, r.spec), types.Range(types.Position(0, 0), types.Position(0, 0))))
    return found


def definition(model: Model, doc: Doc, offset: int) -> list[types.Location]:
    found = string_at(model, doc, offset)
    if found is None:
        return []
    path = file_path(model, found)
    if path is not None:
        return [types.Location(uri(model.root, path), types.Range(types.Position(0, 0), types.Position(0, 0)))]
    target = resolve_string(model, found)
    return _target_location(model, target) if target else []


def references(model: Model, doc: Doc, offset: int, include_declaration: bool) -> list[types.Location]:
    found = string_at(model, doc, offset)
    address = resolve_string(model, found) if found else None
    if address is None:
        address = model.target_at(doc.path, doc.position(offset).line)
    if address is None:
        return []
    locations = []
    if include_declaration:
        locations.extend(_target_location(model, address)[:1])
    for dependent, _ in model.dependents(address):
        locations.extend(_target_location(model, dependent)[:1])
    return locations


# --- diagnostics ----------------------------------------------------------------------------

_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}


def diagnostics(model: Model, doc: Doc) -> list[types.Diagnostic]:
    build = doc.parsed()
    out: list[types.Diagnostic] = []

    def add(span: Span, message: str, severity: str = "error") -> None:
        out.append(types.Diagnostic(span_range(span), message, severity=_SEVERITY[severity], source="keel"))

    if build.error is not None:
        line, column, message = build.error
        add(Span(line, column, line, column + 1), f"Syntax error: {message}")
        return out
    help_ = model.help
    seen: set[tuple[Span, str]] = set()
    for target in build.targets:
        display = addresses.display(target.address) if target.name_known else target.type
        known_type = help_ is not None and target.type in help_.targets
        if help_ is not None and not known_type:
            if target.type not in help_.symbols and target.type not in build.defined and target.type not in BUILTINS:
                add(target.type_span, f"Unknown target type `{target.type}` in {doc.path}: no backend of this workspace registers it (`./pants help targets` lists them).")
            continue
        if known_type:
            valid = help_.targets[target.type].fields
            for name, decl in target.fields.items():
                if name not in valid and name != "name" and decl.key is not None:
                    add(decl.key, f"Unrecognized field `{name}` in target {display}. Valid fields for the target type `{target.type}`: {', '.join(sorted(valid))}.")
        for name, decl in target.fields.items():
            for s in buildfile.strings_in(decl.value):
                role = model.kinds.role(target.type, name, s.value)
                if (s.span, s.value) in seen or role is None:
                    continue
                seen.add((s.span, s.value))
                if role == ADDRESS:
                    address = addresses.parse(s.value, target.directory)
                    if address is not None and model.exists(address) is False:
                        add(s.span, _missing_address(model, s.value, address, name, display))
                elif role == PACKAGE and model.package_known(s.value) is False:
                    add(s.span, f"The `{name}` field of {display} lists {s.value!r}, but no rpm_package builds or provides it. Check the name (`./pants list ::` shows the targets), or add a spec that provides it.")
    out.extend(_graph_problems(model, build))
    return out


def _missing_address(model: Model, written: str, address: str, field: str, owner: str) -> str:
    directory, name = addresses.split(address)
    siblings = sorted(addresses.split(a)[1] for a in model.index.targets if addresses.split(a)[0] == directory)
    where = f"`{directory}/BUILD`" if directory else "the root BUILD"
    hint = f" Targets there: {', '.join(siblings)}." if siblings else f" There is no BUILD file with targets in `{directory or '.'}`."
    return f"The address {written!r} in the `{field}` field of {owner} does not exist: no target named `{name}` in {where}.{hint}"


def _graph_problems(model: Model, build: BuildFile) -> list[types.Diagnostic]:
    """What rpm-graph found wrong with this file's targets: unresolved requirements, cycles."""
    graph = model.graph
    if graph is None:
        return []
    spans = {t.address: t.type_span for t in build.targets if t.name_known}
    out = []
    for entry in graph.unresolved:
        address = addresses.from_node_id(entry.get("target", ""))
        if address in spans:
            out.append(types.Diagnostic(
                span_range(spans[address]),
                f"{entry.get('kind', 'Requires')}: {entry.get('requirement')} — no rpm_package builds or provides it (./pants rpm-graph).",
                severity=types.DiagnosticSeverity.Warning, source="keel",
            ))
    for cycle in graph.cycles:
        members = [addresses.from_node_id(a) for a in cycle]
        for address in dict.fromkeys(members):
            if address in spans:
                out.append(types.Diagnostic(
                    span_range(spans[address]),
                    "Dependency cycle: " + " -> ".join(addresses.display(a) for a in members),
                    severity=types.DiagnosticSeverity.Error, source="keel",
                ))
    return out


def is_build_path(path: str) -> bool:
    return re.fullmatch(r"BUILD(\.\w+)?", posixpath.basename(path)) is not None
