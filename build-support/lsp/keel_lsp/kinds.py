"""What the strings of a field are: target addresses, binary package names, or files.

Read from the target types' fields as `./pants help-all` reports them (alias, type, help text),
never from a list of target type names: a target type a backend adds later gets completion,
hover, definition and references as soon as its fields say what they hold. help-all gives no
field classes, so the signals are, strongest first:

1. The type help-all prints. A field class can name what its entries are by the element type
   of its `compute_value` annotation (`raw_value: Optional[Iterable[PackageEntry]]` prints as
   `Iterable[PackageEntry] | None`): MARKERS below. keel's package fields do
   (rules/core/field_kinds.py: images', `package_set`'s and `rpm_repository`'s `packages`).
2. Pants' own conventions, true in every backend: a `Dependencies` field is always called
   `dependencies`, source fields `source`/`sources`.
3. What the help text says the entries are, for fields that declare nothing (Pants' own
   special-cased dependencies, keel's address and file fields): "binary package
   names", "the address of", "`rpm_package` targets", "relative to the BUILD file". Only the
   first paragraph is read: that is where Pants' and keel's help say what a value is, and
   later paragraphs talk about other fields.

A package field holds addresses too (a package_set, an rpm_package): its strings are told apart
as keel's image rule does (addresses.is_address_like).
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from keel_lsp import addresses
from keel_lsp.pants_help import FieldHelp, Help

ADDRESS, PACKAGE, FILE = "address", "package", "file"

# Element types a field's annotation may use to declare its kind (signal 1).
MARKERS = {"PackageEntry": PACKAGE, "TargetAddress": ADDRESS, "WorkspaceFile": FILE}
_MARKER = re.compile(r"\b(" + "|".join(MARKERS) + r")\b")

# Pants' conventions (signal 2): these hold before help-all has answered, too.
CONVENTIONS = {"dependencies": ADDRESS, "source": FILE, "sources": FILE}

# Type hints of plain string fields; a field of another type (a bool, a choice, a dict of
# anything) holds no strings worth following.
_STRING = {"str", "str | None"}
_SEQUENCE = {"Iterable[str]", "Iterable[str] | None"}
_DICT = {"Dict[str, str]", "Dict[str, str] | None"}

_PACKAGE_NAMES = re.compile(r"\bpackage names?\b", re.IGNORECASE)
_ADDRESS_WORD = re.compile(r"\baddress(es)?\b", re.IGNORECASE)
# An example address in backticks: `"//images/core:vhdx"`, `":bootstrap"`, `["//repos:x"]`.
_ADDRESS_EXAMPLE = re.compile(r"`\[?[\"']?(//|:)[A-Za-z0-9_]")
_RELATIVE_FILE = re.compile(r"relative to the BUILD file|beside this BUILD file|\bfile name\b", re.IGNORECASE)


def first_paragraph(text: str) -> str:
    return re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0].replace("\n", " ")


def first_sentence(text: str) -> str:
    """Up to the first full stop followed by a capital: "e.g. `x`" does not end a sentence."""
    return re.split(r"\.\s+(?=[A-Z])", first_paragraph(text), maxsplit=1)[0]


def field_kind(field: FieldHelp, target_types: Iterable[str] = ()) -> Optional[str]:
    """ADDRESS, PACKAGE, FILE or None for one field. `target_types`: every target alias, so
    that "`rpm_package` targets" in a field's help reads as addresses of such targets."""
    marker = _MARKER.search(field.type_hint)
    if marker:
        return MARKERS[marker.group(1)]
    hint = field.type_hint.strip()
    if field.alias in CONVENTIONS and hint in _STRING | _SEQUENCE:
        return CONVENTIONS[field.alias]
    if hint not in _STRING | _SEQUENCE | _DICT:
        return None
    paragraph = first_paragraph(field.description)
    if hint in _SEQUENCE and _PACKAGE_NAMES.search(paragraph):
        return PACKAGE
    if hint not in _DICT and _names_addresses(field.description, target_types):
        return ADDRESS
    if _RELATIVE_FILE.search(paragraph):
        return FILE
    return None


def _names_addresses(description: str, target_types: Iterable[str]) -> bool:
    sentence = first_sentence(description)
    if _ADDRESS_WORD.search(sentence) or _ADDRESS_EXAMPLE.search(first_paragraph(description)):
        return True
    return any(f"`{alias}` target" in sentence for alias in target_types)


class Kinds:
    """Every target type's field kinds, from one help-all (or none yet: conventions only)."""

    def __init__(self, help_: Optional[Help] = None) -> None:
        self.loaded = help_ is not None
        self.fields: dict[str, dict[str, str]] = {}  # target type -> field -> kind
        if help_ is not None:
            aliases = sorted(help_.targets)
            for alias, target in help_.targets.items():
                kinds = {name: field_kind(f, aliases) for name, f in target.fields.items()}
                self.fields[alias] = {name: kind for name, kind in kinds.items() if kind}

    def kind(self, target_type: Optional[str], field: Optional[str], context: Iterable[str] = ()) -> Optional[str]:
        """The kind of `field` of `target_type`. A call that is no target (`dict(...)` whose
        keys become fields by `**` expansion, a macro) takes the kind the field has in the
        target types `context` lists (those the BUILD file calls), when they agree."""
        if not field:
            return None
        if target_type in self.fields:
            return self.fields[target_type].get(field)
        if not self.loaded:
            return CONVENTIONS.get(field)
        types = [t for t in context if t in self.fields] or list(self.fields)
        found = {self.fields[t][field] for t in types if field in self.fields[t]}
        return found.pop() if len(found) == 1 else None

    def role(self, target_type: Optional[str], field: Optional[str], value: str = "", context: Iterable[str] = ()) -> Optional[str]:
        """What this one string is: a package field's entry with a `/` or `:` is an address."""
        kind = self.kind(target_type, field, context)
        if kind == PACKAGE and addresses.is_address_like(value):
            return ADDRESS
        return kind
