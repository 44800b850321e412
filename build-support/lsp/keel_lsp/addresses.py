"""Pants addresses as strings, the way BUILD files write them and `./pants list` prints them.

One canonical form is used everywhere inside the server, `dir:name` (`:name` at the build root),
so that `specs/libkv`, `//specs/libkv:libkv` and `:libkv` (in specs/libkv/BUILD) are one key.
"""
from __future__ import annotations

import posixpath
from typing import Optional


def canonical(directory: str, name: str) -> str:
    return f"{directory}:{name}"


def split(address: str) -> tuple[str, str]:
    directory, _, name = address.partition(":")
    return directory, name


def display(address: str) -> str:
    """As `./pants list` prints it: the directory alone when the name is the directory's."""
    directory, name = split(address)
    if directory and name == posixpath.basename(directory):
        return directory
    return f"//:{name}" if not directory else address


def is_address_like(entry: str) -> bool:
    """keel's own rule for an image's `packages` entry (rules/image/util_rules/image_root.py):
    an address has a `/` or a `:`, a binary package name has neither."""
    return "/" in entry or ":" in entry


def parse(text: str, build_dir: str) -> Optional[str]:
    """The canonical address `text` names, written in a BUILD file of `build_dir`; None for what
    is not a target address (a file, a glob, an empty string). `!`-excludes and generated-target
    suffixes (`#...`) name the same target."""
    text = text.strip().lstrip("!")
    text = text.split("#", 1)[0]
    if not text or any(c in text for c in "*?[ \t\n"):
        return None
    absolute = text.startswith("//")
    if absolute:
        text = text[2:]
    elif text.startswith("./"):
        text = posixpath.normpath(posixpath.join(build_dir, text))
    if text.startswith(":"):
        directory, name = ("" if absolute else build_dir), text[1:]
    elif ":" in text:
        directory, name = text.split(":", 1)
    else:
        # A path without a target name: Pants reads a last component with a dot as a file address.
        if "." in posixpath.basename(text):
            return None
        directory, name = text, posixpath.basename(text)
    directory = directory.strip("/")
    if not name:
        return None
    return canonical(directory, name)


def from_node_id(node_id: str) -> str:
    """A graph node id (`specs/busybox:busybox` or `specs/busybox`) in canonical form."""
    return parse(node_id, "") or node_id
