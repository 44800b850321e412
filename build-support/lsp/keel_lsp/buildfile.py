"""BUILD files read with Python's `ast`: the target calls, their fields and where every string is.

BUILD files are Python that Pants evaluates, so `ast` parses them exactly; nothing is executed.
Module-level constants are followed far enough for how keel's BUILD files are written
(images/core/BUILD: `BASE = [...]`, `SYSTEM = dict(packages=BASE + ["kernel"], ...)`,
`disk_image(..., **SYSTEM)`): lists, `+`, dict literals, `dict(...)` and `**` expansion. A string
keeps the position of its literal, so a package name in `BASE` points at the line that wrote it.
Anything else evaluates to UNKNOWN, and whatever depends on it is left alone (no guessing).
"""
from __future__ import annotations

import ast
import posixpath
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from keel_lsp import addresses

UNKNOWN = object()


@dataclass(frozen=True)
class Span:
    """A range in a file: 0-based lines, columns in characters (not UTF-8 bytes as `ast` has them)."""

    line: int
    start: int
    end_line: int
    end: int


@dataclass(frozen=True)
class Str:
    value: str
    span: Span


@dataclass
class FieldDecl:
    name: str
    key: Optional[Span]  # the keyword (`packages=`); None when it came without one
    value: Any  # Str, list, dict of name -> (Span | None, value), a constant, or UNKNOWN


@dataclass
class TargetDecl:
    type: str
    type_span: Span
    span: Span  # the whole call
    directory: str
    fields: dict[str, FieldDecl] = field(default_factory=dict)
    name_known: bool = True  # False when `name=` is not a literal: its address is unknowable

    @property
    def name(self) -> str:
        value = self.fields.get("name")
        if value is not None and isinstance(value.value, Str):
            return value.value.value
        return posixpath.basename(self.directory)

    @property
    def address(self) -> str:
        return addresses.canonical(self.directory, self.name)

    def strings(self, field_name: str) -> list[Str]:
        value = self.fields.get(field_name)
        return list(strings_in(value.value)) if value else []


@dataclass
class BuildFile:
    path: str  # relative to the workspace root
    directory: str
    targets: list[TargetDecl]
    defined: set[str]  # names the file binds itself (variables, functions, imports)
    error: Optional[tuple[int, int, str]] = None  # a syntax error: 0-based line, column, message


def strings_in(value: Any) -> Iterator[Str]:
    """Every string of an evaluated field value, in order."""
    if isinstance(value, Str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


class _Columns:
    """ast's UTF-8 byte offsets to character columns; a no-op on ASCII lines (nearly all)."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()

    def col(self, lineno: int, byte_col: int) -> int:
        if lineno - 1 >= len(self.lines):
            return byte_col
        line = self.lines[lineno - 1]
        if line.isascii():
            return byte_col
        return len(line.encode()[:byte_col].decode(errors="ignore"))

    def span(self, node: Any) -> Span:
        return Span(
            node.lineno - 1,
            self.col(node.lineno, node.col_offset),
            node.end_lineno - 1,
            self.col(node.end_lineno, node.end_col_offset),
        )


class _Evaluator:
    def __init__(self, columns: _Columns) -> None:
        self.columns = columns
        self.env: dict[str, Any] = {}

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return Str(node.value, self.columns.span(node)) if isinstance(node.value, str) else node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items: list[Any] = []
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    inner = self.eval(element.value)
                    items.extend(inner if isinstance(inner, list) else [UNKNOWN])
                else:
                    items.append(self.eval(element))
            return items
        if isinstance(node, ast.Name):
            return self.env.get(node.id, UNKNOWN)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.eval(node.left), self.eval(node.right)
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            return UNKNOWN
        if isinstance(node, ast.Dict):
            result: dict[str, tuple[Optional[Span], Any]] = {}
            for key, value in zip(node.keys, node.values):
                if key is None:  # {**other}
                    inner = self.eval(value)
                    if not isinstance(inner, dict):
                        return UNKNOWN
                    result.update(inner)
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    result[key.value] = (self.columns.span(key), self.eval(value))
                else:
                    return UNKNOWN
            return result
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            merged: dict[str, tuple[Optional[Span], Any]] = {}
            for arg in node.args:
                inner = self.eval(arg)
                if not isinstance(inner, dict):
                    return UNKNOWN
                merged.update(inner)
            for keyword in node.keywords:
                if keyword.arg is None:
                    inner = self.eval(keyword.value)
                    if not isinstance(inner, dict):
                        return UNKNOWN
                    merged.update(inner)
                else:
                    merged[keyword.arg] = (self._keyword_span(keyword), self.eval(keyword.value))
            return merged
        return UNKNOWN

    def _keyword_span(self, keyword: ast.keyword) -> Span:
        line = keyword.lineno
        start = self.columns.col(line, keyword.col_offset)
        return Span(line - 1, start, line - 1, start + len(keyword.arg or ""))


def parse(path: str, source: str) -> BuildFile:
    """Parse one BUILD file (`path` relative to the workspace root). Never raises: a file with a
    syntax error gives no targets and the error."""
    directory = posixpath.dirname(path)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        line = max((e.lineno or 1) - 1, 0)
        return BuildFile(path, directory, [], set(), (line, max((e.offset or 1) - 1, 0), e.msg))
    columns = _Columns(source)
    evaluator = _Evaluator(columns)
    build = BuildFile(path, directory, [], set())
    _walk(tree.body, evaluator, build)
    return build


def _walk(body: list[ast.stmt], evaluator: _Evaluator, build: BuildFile) -> None:
    for statement in body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            call = statement.value
            if isinstance(call.func, ast.Name):
                build.targets.append(_target(call, evaluator, build.directory))
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = evaluator.eval(statement.value) if statement.value is not None else UNKNOWN
            for target in targets:
                for name_node in ast.walk(target):
                    if isinstance(name_node, ast.Name):
                        build.defined.add(name_node.id)
                        evaluator.env[name_node.id] = value if isinstance(target, ast.Name) else UNKNOWN
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            build.defined.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            build.defined.update((a.asname or a.name).split(".")[0] for a in statement.names)
        elif isinstance(statement, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            if isinstance(statement, ast.For):
                for name_node in ast.walk(statement.target):
                    if isinstance(name_node, ast.Name):
                        build.defined.add(name_node.id)
                        evaluator.env[name_node.id] = UNKNOWN
            for block in ("body", "orelse", "finalbody"):
                _walk(getattr(statement, block, []), evaluator, build)
            for handler in getattr(statement, "handlers", []):
                _walk(handler.body, evaluator, build)


def _target(call: ast.Call, evaluator: _Evaluator, directory: str) -> TargetDecl:
    columns = evaluator.columns
    target = TargetDecl(call.func.id, columns.span(call.func), columns.span(call), directory)
    for keyword in call.keywords:
        if keyword.arg is None:  # **SYSTEM
            expanded = evaluator.eval(keyword.value)
            if isinstance(expanded, dict):
                for name, (key, value) in expanded.items():
                    target.fields[name] = FieldDecl(name, key, value)
            else:
                target.name_known = False  # it may well hold `name`
        else:
            target.fields[keyword.arg] = FieldDecl(keyword.arg, evaluator._keyword_span(keyword), evaluator.eval(keyword.value))
    name = target.fields.get("name")
    if name is not None and not isinstance(name.value, Str):
        target.name_known = False
    return target
