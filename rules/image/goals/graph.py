"""`./pants rpm-graph`: the distribution as a picture: specs, the binary packages they build,
the toolchain stages they are built in, and the images that hold them.

Pants' own `dependencies` shows the same edges without saying what they are, and its transitive
walk fails on a cycle; a distribution has Requires cycles as a matter of course. This goal walks
the targets itself, keeps each edge's kind, marks cycles (strongly connected components of the
build-order edges) and requirements that nothing meets, and writes `dist/rpm-graph/graph.dot`,
`graph.svg` (Graphviz's `dot`, a host tool) and `graph.json`.

It lives with the image backend because images are the top of the graph; everything below them
(rpm_package, toolchain_stage) is registered there too.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass

from pants.core.util_rules.distdir import DistDir
from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.console import Console
from pants.engine.fs import AddPrefix, CreateDigest, Digest, FileContent, MergeDigests, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import Target, Targets, UnexpandedTargets
from pants.util.logging import LogLevel
from pants.option.option_types import IntOption
from pants.util.strutil import help_text

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.image.subsystems import ImageSubsystem
from rules.image.target_types import DiskImagePackagesField
from rules.image.util_rules.settings import ImageSettings, ImageSettingsRequest
from rules.image.util_rules.image_root import (
    ImagePackageRoots,
    ImagePackageRootsRequest,
    ImagePackagesError,
)
from rules.rpm.target_types import RpmSourcesField, RpmSpecField
from rules.rpm.util_rules.package_graph import (
    AmbiguousProviderError,
    RpmPackageGraph,
    TargetPackageGraphRequest,
)
from rules.sandbox.root import SpecRoot, SpecRootRequest
from rules.toolchain.target_types import ToolchainSeedField
from rules.toolchain.util_rules.stages import (
    ToolchainStage,
    ToolchainStageRequest,
    TargetStage,
    TargetStageRequest,
)

GRAPH_DIR = "rpm-graph"
# Edges whose target must be built first: the ones a cycle among specs is made of.
BUILD_ORDER = ("BuildRequires", "Requires")


class RpmGraphSubsystem(GoalSubsystem):
    name = "rpm-graph"
    help = help_text(
        f"""
        Write the graph of the given targets and everything they reach: rpm_package targets
        (specs), the binary packages they build, the toolchain stages they are built in, and the
        images that hold them, with each edge's kind (BuildRequires, Requires, built_in, base,
        stage_package, installs, built_by, assembled_in). Cycles among specs and requirements
        that neither a target nor the toolchain root meets are marked. Writes
        `dist/{GRAPH_DIR}/graph.dot`, `graph.svg` (with Graphviz's `dot`) and `graph.json`.
        """
    )


    svg_max_nodes = IntOption(
        default=2000,
        help=help_text(
            """
            Draw `graph.svg` only for graphs of at most this many nodes. Graphviz's layout
            takes minutes to hours at the size of a whole distribution (Azure Linux's SPECS
            tree makes about 10,000 nodes), where a picture is unreadable anyway: `graph.dot`
            and `graph.json` are still written, and a picture of part of the tree is one
            `./pants rpm-graph TARGETS` away. 0 draws every graph.
            """
        ),
    )


class RpmGraph(Goal):
    subsystem_cls = RpmGraphSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@dataclass(frozen=True)
class GraphEntryRequest:
    target: Target


@dataclass(frozen=True)
class GraphEntry:
    """One target's part of the graph: its node(s), its edges, what it leaves unmet, and the
    targets it points at (for the walk)."""

    nodes: tuple[str, ...]  # JSON objects, so the entry is hashable
    edges: tuple[tuple[str, str, str], ...]  # (from, to, kind): `from` depends on `to`
    unresolved: tuple[tuple[str, str, str], ...]  # (target, requirement, kind)
    reached: tuple[Address, ...]


def _package_node(name: str) -> str:
    return f"package:{name}"


def _build_file(address: Address) -> str:
    return os.path.join(address.spec_path, "BUILD")


def _entry(nodes: list[dict], edges: set, unresolved: list, reached: set[Address]) -> GraphEntry:
    return GraphEntry(
        tuple(json.dumps(n, sort_keys=True) for n in nodes),
        tuple(sorted(e for e in edges if e[0] != e[1])),
        tuple(unresolved),
        tuple(sorted(reached)),
    )


async def _rpm_package_entry(target: Target) -> GraphEntry:
    address = target.address
    node = str(address)
    stage, packages = await MultiGet(
        Get(TargetStage, TargetStageRequest(address)),
        Get(RpmPackageGraph, TargetPackageGraphRequest(address)),
    )
    reached = {stage.root_stage}
    edges = {(node, str(stage.root_stage), "built_in")}
    entry = {"id": node, "kind": "rpm_package", "build_file": _build_file(address), "stage": str(stage.stage)}
    if address in packages.unreadable:
        spec = os.path.join(address.spec_path, target[RpmSpecField].value or "")
        return _entry([{**entry, "spec": spec, "packages": [], "error": packages.unreadable[address]}], edges, [], reached)
    info = packages.info(address)
    nodes = [{**entry, "spec": info.spec_path, "packages": [p.name for p in info.packages]}]
    for pkg in info.packages:
        # Where several targets build one package name (a stage that chooses by version), the
        # package node is the chosen one's; the others' are nodes of their own, marked.
        builder = packages.builders.get(pkg.name, address)
        package_node = _package_node(pkg.name) if builder == address else f"{_package_node(pkg.name)} ({node})"
        extra = {} if builder == address else {"passed_over_for": str(builder)}
        nodes.append({"id": package_node, "kind": "binary_package", "name": pkg.name, "target": node, **extra})
        edges.add((package_node, node, "built_by"))
    root = await Get(SpecRoot, SpecRootRequest(address))
    unresolved = []
    sections = [("BuildRequires", info.build_requires)] + [("Requires", p.requires) for p in info.packages]
    for kind, requirements in sections:
        for requirement in requirements:
            if requirement.is_rpmlib:
                continue
            provider = packages.resolve(requirement, address)
            if provider is not None:
                reached.add(provider.address)
                edges.add((node, str(provider.address), kind))
            elif requirement.name not in root.capabilities:
                unresolved.append((node, str(requirement), kind))
    reached.discard(address)
    return _entry(nodes, edges, list(dict.fromkeys(unresolved)), reached)


@rule(desc="Place a target in the graph", level=LogLevel.DEBUG)
async def graph_entry(request: GraphEntryRequest, image: ImageSubsystem) -> GraphEntry:
    target = request.target
    address = target.address
    node = str(address)
    if target.has_field(RpmSourcesField):
        return await _rpm_package_entry(target)
    if target.has_field(ToolchainSeedField):
        stage = await Get(ToolchainStage, ToolchainStageRequest(address, "a toolchain_stage"))
        edges = {(node, str(p), "stage_package") for p in stage.packages}
        if stage.base:
            edges.add((node, str(stage.base), "base"))
        return _entry(
            [{"id": node, "kind": "toolchain_stage", "build_file": _build_file(address)}],
            edges, [], {*((stage.base,) if stage.base else ()), *stage.packages},
        )
    if target.has_field(DiskImagePackagesField):
        imager = await Get(
            Addresses,
            UnparsedAddressInputs([image.toolchain], owning_address=None, description_of_origin="`[image].toolchain`"),
        )
        edges = {(node, str(imager[0]), "assembled_in")}
        reached = {imager[0]}
        unresolved = []
        # Entry by entry: a name nothing provides is marked in the picture (building the image
        # fails on it with the same words), and the rest of the image is still drawn.
        settings = await Get(ImageSettings, ImageSettingsRequest(address))
        for entry in settings.packages:
            try:
                named = await Get(ImagePackageRoots, ImagePackageRootsRequest(address, (entry,)))
            except ImagePackagesError:
                unresolved.append((node, entry, "packages"))
                continue
            except AmbiguousProviderError:
                unresolved.append((node, entry, "packages (two providers)"))
                continue
            edges.update((node, _package_node(p.package), "installs") for p in named.roots)
            reached.update(p.address for p in named.roots)
        return _entry(
            [{"id": node, "kind": target.alias, "build_file": _build_file(address)}],
            edges, unresolved, reached,
        )
    return _entry([], set(), [], set())


def cycles(edges: list[tuple[str, str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one spec over the build-order edges (Tarjan),
    each as a closed path in name order: what cannot be built one spec after the other."""
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target, kind in edges:
        if kind in BUILD_ORDER:
            successors[source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        # Iterative: a distribution's chains are deeper than Python's recursion limit.
        work = [(node, iter(successors.get(node, ())))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors.get(child, ()))))
                elif child in on_stack:
                    low[current] = min(low[current], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[current])
            if low[current] == index[current]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == current:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(successors):
        if node not in index:
            connect(node)
    return sorted(found)


_SHAPES = {
    "rpm_package": 'shape=note, style=filled, fillcolor="#e8f0fe"',
    "binary_package": 'shape=box, style="rounded,filled", fillcolor="#f1f3f4"',
    "toolchain_stage": 'shape=cylinder, style=filled, fillcolor="#fef7e0"',
    "disk_image": 'shape=box3d, style=filled, fillcolor="#e6f4ea"',
    "iso_image": 'shape=box3d, style=filled, fillcolor="#e6f4ea"',
    "container_image": 'shape=box3d, style=filled, fillcolor="#e6f4ea"',
    "update_image": 'shape=box3d, style=filled, fillcolor="#e6f4ea"',
}


def _quoted(text: str) -> str:
    # Labels keep their `\n` (a line break to Graphviz); names hold no backslashes.
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(nodes: list[dict], edges: list[tuple[str, str, str]], unresolved: list[dict], loops: list[list[str]]) -> str:
    """Graphviz DOT, deterministic: nodes and edges in sorted order."""
    in_cycle = {n for loop in loops for n in loop}
    lines = ["digraph keel {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=8];']
    for node in nodes:
        label = node["id"]
        if node["kind"] == "rpm_package":
            label = f"{node['id']}\\n{node['spec']}"
        elif node["kind"] == "binary_package":
            label = node["name"]
        elif node["kind"] != "toolchain_stage":
            label = f"{node['id']}\\n({node['kind']})"
        style = _SHAPES.get(node["kind"], "shape=box")
        if node["id"] in in_cycle:
            style += ", color=red, penwidth=2"
        lines.append(f"  {_quoted(node['id'])} [label={_quoted(label)}, {style}];")
    for source, target, kind in edges:
        attributes = f"label={_quoted(kind)}"
        if kind in BUILD_ORDER and source in in_cycle and target in in_cycle:
            attributes += ", color=red"
        elif kind in ("built_in", "base", "assembled_in"):
            attributes += ", style=dashed"
        lines.append(f"  {_quoted(source)} -> {_quoted(target)} [{attributes}];")
    for entry in unresolved:
        missing = f"unresolved:{entry['requirement']}"
        lines.append(f'  {_quoted(missing)} [label={_quoted("NOTHING provides " + entry["requirement"])}, shape=octagon, color=red, fontcolor=red];')
        lines.append(f"  {_quoted(entry['target'])} -> {_quoted(missing)} [label={_quoted(entry['kind'])}, color=red, style=dotted];")
    lines.append("}")
    return "\n".join(lines) + "\n"


@goal_rule
async def rpm_graph(
    console: Console,
    subsystem: RpmGraphSubsystem,
    targets: Targets,
    workspace: Workspace,
    dist_dir: DistDir,
) -> RpmGraph:
    seen: set[Address] = set()
    entries: list[GraphEntry] = []
    frontier = sorted({t.address for t in targets})
    while frontier:
        seen.update(frontier)
        level = await Get(UnexpandedTargets, Addresses(frontier))
        found = await MultiGet(Get(GraphEntry, GraphEntryRequest(t)) for t in level)
        entries.extend(found)
        frontier = sorted({a for e in found for a in e.reached} - seen)
    nodes_by_id: dict[str, dict] = {}
    for entry in entries:
        for text in entry.nodes:
            node = json.loads(text)
            nodes_by_id[node["id"]] = node
    nodes = [nodes_by_id[k] for k in sorted(nodes_by_id)]
    edges = sorted({e for entry in entries for e in entry.edges})
    unresolved = [
        {"target": t, "requirement": r, "kind": k}
        for t, r, k in sorted({u for entry in entries for u in entry.unresolved})
    ]
    loops = cycles(edges)
    data = {
        "version": 1,
        "nodes": nodes,
        "edges": [{"from": s, "to": t, "kind": k} for s, t, k in edges],
        "unresolved": unresolved,
        "cycles": [[*loop, loop[0]] for loop in loops],
    }
    dot = to_dot(nodes, edges, unresolved, loops)
    outputs = await Get(
        Digest,
        CreateDigest(
            [
                FileContent(f"{GRAPH_DIR}/graph.dot", dot.encode()),
                FileContent(f"{GRAPH_DIR}/graph.json", (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()),
            ]
        ),
    )
    drawn = not subsystem.svg_max_nodes or len(nodes) <= subsystem.svg_max_nodes
    if drawn:
        host = await Get(HostSettings)
        tools = await Get(HostTools, HostToolsRequest(("dot",), host.search_path))
        rendered = await Get(
            ProcessResult,
            Process(
                argv=(tools["dot"], "-Tsvg", "-o", "graph.svg", "graph.dot"),
                input_digest=await Get(Digest, CreateDigest([FileContent("graph.dot", dot.encode())])),
                output_files=("graph.svg",),
                env={"KEEL_HOST_TOOLS": tools.identity},
                description=f"Draw the graph of {len(nodes)} nodes with Graphviz",
                level=LogLevel.DEBUG,
            ),
        )
        svg = await Get(Digest, AddPrefix(rendered.output_digest, GRAPH_DIR))
        outputs = await Get(Digest, MergeDigests([outputs, svg]))
    # A picture of an earlier, smaller run must not pass for this one's.
    stale_svg = os.path.join(str(dist_dir.relpath), GRAPH_DIR, "graph.svg")
    if not drawn and os.path.exists(stale_svg):
        os.unlink(stale_svg)
    workspace.write_digest(outputs, path_prefix=str(dist_dir.relpath))
    kinds = defaultdict(int)
    for node in nodes:
        kinds[node["kind"]] += 1
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    written = "dot,svg,json" if drawn else "dot,json"
    console.print_stdout(
        f"Wrote {dist_dir.relpath}/{GRAPH_DIR}/graph.{{{written}}}: {summary}; {len(edges)} edges, "
        f"{len(loops)} cycles, {len(unresolved)} unresolved requirements."
        + (
            ""
            if drawn
            else f" No graph.svg: {len(nodes)} nodes is more than `--rpm-graph-svg-max-nodes` "
            f"({subsystem.svg_max_nodes}); draw part of it with `./pants rpm-graph TARGETS`."
        )
    )
    return RpmGraph(exit_code=0)


def rules():
    return collect_rules()
