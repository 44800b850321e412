"""Target types and fields with their help, as Pants itself documents them (`pants help-all`).

Taken from Pants rather than from keel's sources, so Pants' own targets (python_tests, files…)
are there too and the text is what `./pants help rpm_package` shows. `help-all` takes tens of
seconds, so its JSON is cached on disk under a key made of pants.toml and the plugin's sources
(rules/**/*.py): a new field in rules/ gives a new key and a fresh `help-all`.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from keel_lsp.graph import last_lines, run_pants

CACHE_DIR = ".pants.d/build-lsp/help"


@dataclass(frozen=True)
class FieldHelp:
    alias: str
    description: str
    type_hint: str
    required: bool
    default: Optional[str]


@dataclass(frozen=True)
class TargetHelp:
    alias: str
    summary: str
    description: str
    provider: str
    fields: dict[str, FieldHelp]


@dataclass
class Help:
    targets: dict[str, TargetHelp]
    symbols: frozenset[str]  # what else BUILD files may call: env(), parametrize(), __defaults__…
    default_toolchain: Optional[str]  # [rpm].toolchain as configured


def key(root: Path) -> str:
    digest = hashlib.sha256()
    for path in [root / "pants.toml", *sorted((root / "rules").glob("**/*.py"))]:
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_path(root: Path) -> Path:
    return root / CACHE_DIR / f"help-all-{key(root)}.json"


def parse(data: dict) -> Help:
    targets = {}
    for alias, info in data.get("name_to_target_type_info", {}).items():
        if alias.startswith("_"):
            continue  # Pants' internal target types
        fields = {
            f["alias"]: FieldHelp(f["alias"], f.get("description") or "", f.get("type_hint") or "", bool(f.get("required")), f.get("default"))
            for f in info.get("fields", [])
        }
        targets[alias] = TargetHelp(alias, info.get("summary") or "", info.get("description") or "", info.get("provider") or "", fields)
    default_toolchain = None
    for option in data.get("scope_to_help_info", {}).get("rpm", {}).get("basic", []):
        if option.get("config_key") == "toolchain":
            ranked = option.get("value_history", {}).get("ranked_values") or [{}]
            default_toolchain = ranked[-1].get("value") or option.get("default")
    return Help(targets, frozenset(data.get("name_to_build_file_info", {})), default_toolchain)


def cached(root: Path) -> tuple[Optional[Help], bool]:
    """The help on disk and whether it is current. A stale one (another key) still answers until
    the fresh one is made: a field added a minute ago is missing, the rest is right."""
    given = os.environ.get("KEEL_LSP_HELP")
    if given:
        return parse(json.loads(Path(given).read_text())), True
    current = cache_path(root)
    candidates = sorted((root / CACHE_DIR).glob("help-all-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in ([current] if current.exists() else []) + candidates:
        try:
            return parse(json.loads(path.read_text())), path == current
        except (OSError, ValueError):
            continue
    return None, False


def produce(root: Path) -> Help:
    """Run `./pants help-all` and cache its JSON. Slow: background worker only."""
    target = cache_path(root)
    result = run_pants(root, "help-all")
    if result.returncode != 0:
        raise RuntimeError(f"./pants help-all failed (exit {result.returncode}): {last_lines(result.stderr)}")
    data = json.loads(result.stdout)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    partial.write_text(result.stdout)
    partial.replace(target)  # never a half-written cache for the next start
    for old in target.parent.glob("help-all-*.json"):
        if old != target:
            old.unlink(missing_ok=True)
    return parse(data)
