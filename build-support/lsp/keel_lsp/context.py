"""Where the cursor is, read from the text in front of it: for a BUILD file being typed.

While a user types, the file is rarely valid Python, so `ast` cannot say where the cursor is.
This scanner reads the text up to the cursor the way Python's tokenizer would (strings, comments,
brackets) and keeps, for every open bracket, the name called with it and the keyword being
filled in. That answers "a target type goes here", "a field of rpm_package goes here", "this is
the `packages` string of a disk_image" whatever follows the cursor.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

_IDENT_TAIL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_IDENT_HEAD = re.compile(r"^[A-Za-z0-9_]*")


@dataclass
class Frame:
    bracket: str
    callee: Optional[str]  # for `(`: the name before it
    keyword: Optional[str] = None  # the `kw=` being filled in this call
    keywords: tuple[str, ...] = ()  # every keyword given so far


@dataclass
class Context:
    kind: str  # "statement" | "argument" | "string" | "other"
    prefix: str  # the identifier or string text typed so far
    prefix_start: int  # offset where `prefix` starts
    call: Optional[Frame] = None  # the innermost call around the cursor
    in_string_quote: str = ""


def _call_frame(stack: list[Frame]) -> Optional[Frame]:
    for frame in reversed(stack):
        if frame.bracket == "(" and frame.callee:
            return frame
    return None


def scan(text: str, offset: int) -> Context:
    """The context at `offset`, from the text before it only (what follows may be unfinished)."""
    stack: list[Frame] = []
    i, n = 0, offset
    while i < n:
        c = text[i]
        if c == "#":
            newline = text.find("\n", i, n)
            if newline < 0:
                return Context("other", "", offset)
            i = newline + 1
            continue
        if c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            start = j = i + len(quote)
            closed = False
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    closed = True
                    break
                if text[j] == "\n" and len(quote) == 1:
                    break  # an unterminated one-line string: Python ends it here too
                j += 1
            if closed:
                i = j + len(quote)
            elif j >= n:  # still open at the cursor: the cursor is inside this string
                return Context("string", text[start:n], start, _call_frame(stack), quote)
            else:
                i = j + 1
            continue
        if c in "([{":
            callee = None
            if c == "(":
                head = text[max(0, i - 200) : i].rstrip(" \t")  # bounded: no quadratic scans
                match = _IDENT_TAIL.search(head)
                callee = match.group(0) if match else None
            stack.append(Frame(c, callee))
        elif c in ")]}":
            if stack:
                stack.pop()
        elif c == "," and stack and stack[-1].bracket == "(":
            stack[-1].keyword = None
        elif c == "=" and stack and stack[-1].bracket == "(" and text[i + 1 : i + 2] != "=" and text[i - 1 : i] not in "=!<>":
            match = _IDENT_TAIL.search(text[max(0, i - 200) : i].rstrip(" \t"))
            if match:
                stack[-1].keyword = match.group(0)
                stack[-1].keywords += (match.group(0),)
        i += 1

    word_match = _IDENT_TAIL.search(text[max(0, offset - 200) : offset])
    prefix = word_match.group(0) if word_match else ""
    start = offset - len(prefix)
    before = text[:start].rstrip(" \t")
    if not stack:
        if not before or before.endswith("\n"):
            return Context("statement", prefix, start)
        return Context("other", prefix, start)
    top = stack[-1]
    before_all = text[:start].rstrip()
    if top.bracket == "(" and top.callee and (before_all.endswith("(") or before_all.endswith(",")):
        return Context("argument", prefix, start, top)
    return Context("other", prefix, start, _call_frame(stack))


def word_at(text: str, offset: int) -> tuple[str, int, int]:
    """The identifier around `offset`: (word, start, end)."""
    left = _IDENT_TAIL.search(text[max(0, offset - 200) : offset])
    right = _IDENT_HEAD.match(text[offset:])
    start = offset - (len(left.group(0)) if left else 0)
    end = offset + (len(right.group(0)) if right else 0)
    return text[start:end], start, end


def string_at(text: str, offset: int) -> Optional[tuple[str, int, int, Optional[Frame]]]:
    """The one-line string literal around `offset`: (value, start, end, its call), or None."""
    context = scan(text, offset)
    if context.kind != "string":
        return None
    end = text.find(context.in_string_quote, offset)
    newline = text.find("\n", offset)
    if end < 0 or (newline >= 0 and newline < end and len(context.in_string_quote) == 1):
        end = offset
    return text[context.prefix_start : end], context.prefix_start, end, context.call
