"""The catalogue of bad inputs: what a user gets wrong, and what keel must answer.

Each stage has a table-driven test file (test_package_inputs.py, test_toolchain_inputs.py,
test_image_inputs.py) listing `Case`s against one workspace (tests/integration/chain_workspace.py:
a toolchain stage, a library, a program, an unrelated package and a disk image). Every case is
checked the same way, as a user would meet it, with pantsd up:

1. the bad input written, `./pants package TARGET` exits non-zero with exactly one error;
2. the error names the target, the file to change and the fix (`Case.names`);
3. nothing is written under dist/;
4. the input fixed, the same command succeeds and its outputs are byte-identical to the
   workspace's first build, which never saw the bad input: nothing wrong was cached.

`python3 -m tests.reliability.catalogue` prints the README's table of every case (input → error);
test_catalogue_table.py checks that the README holds exactly that table.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Union

from tests.pants_workspace import Workspace

# A file's bad content: the text, a function of the good text, or None (the file is removed).
Edit = Union[str, Callable[[str], str], None]


@dataclass(frozen=True)
class Case:
    id: str
    input: str  # what is wrong, as the README's table says it
    edit: Mapping[str, Edit]  # workspace path -> its bad content
    target: str  # what `./pants package` is asked for
    error: str  # the error's own words, at least this fragment (the table's second column)
    # Besides `error`: fragments that must appear too (the target, the file, the fix), when
    # `error` does not hold them all.
    names: tuple[str, ...] = ()
    # Checks of a case that has more to say (e.g. the tool's own output in the error).
    also: tuple[str, ...] = field(default=())
    # What the fixed command asks for, when the fix is in the command (a mistyped address).
    fixed_target: str | None = None

    def row(self) -> str:
        """The README's line: the input, the command, and what keel says (with the fix's words)."""
        says = " … ".join((self.error, *(n for n in (*self.names, *self.also) if n not in self.error)))
        return f"| {self.input} | `{self.target}` | {says.replace('|', chr(92) + '|')} |"


class Catalogue:
    """A workspace built once (the reference bytes), then each case broken and fixed in it."""

    def __init__(self, ws: Workspace, targets: tuple[str, ...]) -> None:
        self.ws = ws
        self.ws.pants("package", *targets, daemon=True)
        self.reference = ws.dist_hashes()

    def check(self, case: Case) -> None:
        ws = self.ws
        good = {path: (ws.root / path).read_text() if (ws.root / path).exists() else None for path in case.edit}
        shutil.rmtree(ws.root / "dist", ignore_errors=True)
        try:
            for path, edit in case.edit.items():
                write(ws.root / path, edit(good[path] or "") if callable(edit) else edit)
            result = ws.pants("package", case.target, check=False, daemon=True)
        finally:
            for path, content in good.items():
                write(ws.root / path, content)
        stderr = result.stderr
        # What the user read (after Pants' "Engine traceback"), in the test's output.
        print(f"--- {case.id}:\n{stderr[stderr.find('Engine traceback'):].strip()}\n")
        assert result.returncode != 0, f"{case.id}: the bad input built:\n{stderr[-3000:]}"
        assert stderr.count("[ERROR]") == 1 and "1 Exception encountered" in stderr, (
            f"{case.id}: not exactly one error:\n{stderr[-5000:]}"
        )
        for words in (case.error, *case.names, *case.also):
            assert words in stderr, f"{case.id}: the error does not say {words!r}:\n{stderr[-5000:]}"
        assert not (ws.root / "dist").exists(), f"{case.id}: {sorted(p.name for p in (ws.root / 'dist').rglob('*'))}"

        # Fixed: the same command builds, with the first build's bytes.
        ws.pants("package", case.fixed_target or case.target, daemon=True)
        built = ws.dist_hashes()
        assert built and all(self.reference.get(path) == digest for path, digest in built.items()), (
            f"{case.id}: after the fix, outputs differ from the first build's: "
            f"{sorted(p for p, d in built.items() if self.reference.get(p) != d)}"
        )

    def close(self) -> None:
        self.ws.stop_pantsd()


def replace(old: str, new: str):
    """An edit: `old` (which must be there) replaced by `new`."""

    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def write(path: Path, content: str | None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def catalogue(ws: Workspace, targets: tuple[str, ...]) -> Iterator[Catalogue]:
    """For a module fixture: the built workspace; pantsd stopped at the end."""
    built = Catalogue(ws, targets)
    try:
        yield built
    finally:
        built.close()


def table() -> str:
    """The README's table: every case of every stage, in the order of the test files."""
    from tests.reliability import test_image_inputs, test_package_inputs, test_toolchain_inputs

    lines = ["| bad input | `./pants package` | keel says |", "|---|---|---|"]
    for module in (test_package_inputs, test_toolchain_inputs, test_image_inputs):
        lines += [case.row() for case in module.CASES]
    return "\n".join(lines) + "\n"


README_START = "<!-- catalogue: python3 -m tests.reliability.catalogue -->\n"
README_END = "<!-- end of catalogue -->\n"


def write_readme(readme: Path) -> None:
    """Put the table between the README's catalogue markers."""
    text = readme.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    readme.write_text(text[:start] + table() + text[end:])


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        write_readme(Path("README.md"))
    else:
        print(table(), end="")
