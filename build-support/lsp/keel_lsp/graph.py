"""The package graph `./pants rpm-graph` writes (graph.json, version 1), loaded for lookups.

Contract (the goal's, not this server's): nodes are targets (`rpm_package`, `toolchain_stage`,
image kinds; id = address as `./pants list` prints it) and binary packages (`package:NAME`);
an edge's `from` depends on its `to`. This module reads exactly that and keeps what the editor
asks for: which target builds a package name, a target's spec and stage, and its dependents.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from keel_lsp import addresses

# Where the server asks `rpm-graph` to write. Pants refuses a distdir outside the build root, and
# .pants.d/ is already ignored by Pants and git.
DISTDIR = ".pants.d/build-lsp/dist"
GRAPH_JSON = f"{DISTDIR}/rpm-graph/graph.json"


@dataclass
class Node:
    address: str  # canonical
    kind: str
    build_file: Optional[str] = None
    spec: Optional[str] = None
    stage: Optional[str] = None  # canonical address of the toolchain_stage that builds it
    packages: tuple[str, ...] = ()


@dataclass
class Graph:
    targets: dict[str, Node] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # binary package name -> target
    dependents: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # to -> [(from, kind)]
    unresolved: list[dict] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)


class GraphError(Exception):
    pass


def load(data: dict) -> Graph:
    if data.get("version") != 1:
        raise GraphError(f"graph.json version {data.get('version')!r}; this server reads version 1")
    graph = Graph()
    package_nodes: dict[str, str] = {}  # node id `package:NAME` -> NAME
    chosen: dict[str, str] = {}  # package name -> the target the graph chose for it
    for node in data.get("nodes", []):
        if node.get("kind") == "binary_package":
            package_nodes[node["id"]] = node["name"]
            # A package several targets build goes to the one the package graph chose (the
            # others' nodes say `passed_over_for`): it wins over the spec names read below.
            if node.get("target") and not node.get("passed_over_for"):
                chosen[node["name"]] = addresses.from_node_id(node["target"])
            continue
        address = addresses.from_node_id(node["id"])
        graph.targets[address] = Node(
            address,
            node.get("kind", "?"),
            node.get("build_file"),
            node.get("spec"),
            addresses.from_node_id(node["stage"]) if node.get("stage") else None,
            tuple(node.get("packages", ())),
        )
        for name in node.get("packages", ()):
            graph.packages.setdefault(name, address)

    graph.packages.update(chosen)

    def target_of(node_id: str) -> Optional[str]:
        if node_id in package_nodes:
            return graph.packages.get(package_nodes[node_id])
        return addresses.from_node_id(node_id)

    seen: set[tuple[str, str]] = set()
    for edge in data.get("edges", []):
        if edge.get("kind") == "built_by":
            continue  # a package and the target building it: not a dependent
        source, dest = edge["from"], edge["to"]
        if source in package_nodes:
            continue
        dependent, dependency = addresses.from_node_id(source), target_of(dest)
        if dependency is None or dependent == dependency or (dependent, dependency) in seen:
            continue
        seen.add((dependent, dependency))
        graph.dependents.setdefault(dependency, []).append((dependent, edge.get("kind", "")))
    graph.unresolved = list(data.get("unresolved", []))
    graph.cycles = [list(c) for c in data.get("cycles", [])]
    return graph


def read(path: Path) -> Graph:
    return load(json.loads(path.read_text()))


def produce(root: Path) -> Graph:
    """The one source of the graph. KEEL_LSP_GRAPH names a graph.json to read instead (tests,
    the benchmark); otherwise `./pants rpm-graph ::` writes it under .pants.d/. Slow (seconds to
    minutes): only ever called from the background worker, never on a request."""
    given = os.environ.get("KEEL_LSP_GRAPH")
    if given:
        return read(Path(given))
    # Without pantsd: the distdir is one of pantsd's own options, so running this through the
    # user's pantsd would make it re-initialise (tens of seconds) now and again at the user's
    # next command. A separate process costs its start-up; rpmspec results still come from the
    # local cache.
    result = run_pants(root, f"--pants-distdir={DISTDIR}", "rpm-graph", "::", PANTS_PANTSD="false")
    if result.returncode != 0:
        raise GraphError(f"./pants rpm-graph :: failed (exit {result.returncode}): {last_lines(result.stderr)}")
    return read(root / GRAPH_JSON)


def cached(root: Path) -> Optional[Graph]:
    """The graph the last run left on disk, to answer at once while a fresh one is made."""
    given = os.environ.get("KEEL_LSP_GRAPH")
    path = Path(given) if given else root / GRAPH_JSON
    try:
        return read(path)
    except (OSError, ValueError, KeyError, GraphError):
        return None


# The Pants run in flight, so the server can stop it when the editor goes away.
current_process: Optional[subprocess.Popen] = None


def last_lines(text: str, count: int = 6) -> str:
    """The end of a Pants run's stderr: where its error is (the start is its progress log)."""
    return "\n".join([line for line in text.splitlines() if line.strip()][-count:])


def run_pants(root: Path, *args: str, **options: str) -> subprocess.CompletedProcess:
    """`./pants ARGS` in the workspace, with the editor's environment (Pants finds its
    interpreter and caches as in a terminal). Options go in as PANTS_* environment variables,
    like PANTS_DYNAMIC_UI=false (no progress UI on a pipe): a launcher that passes the same flag
    itself would make Pants refuse it twice on the command line, while a flag beats a variable."""
    global current_process
    argv = [str(root / "pants"), *args]
    env = {**os.environ, "PANTS_DYNAMIC_UI": "false", **options}
    with subprocess.Popen(
        argv, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        current_process = process
        try:
            stdout, stderr = process.communicate()
        finally:
            current_process = None
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
