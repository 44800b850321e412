"""build-support/build-lsp as an editor runs it: a subprocess spoken to in JSON-RPC over stdio,
on a workspace the test makes. Target help comes from a real `pants help-all` on that workspace
(run once, by the server, through the workspace's `./pants`). The package graph is a graph.json
the test writes in the contract of `./pants rpm-graph`: handed over by the workspace's launcher
standing in for that goal, or named by KEEL_LSP_GRAPH (the server then runs no Pants for it).
"""
from __future__ import annotations

import ast
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.lsp.client import LspClient
from tests.pants_workspace import Workspace

# The server's own modules, for reading help-all as it does (a hyphen keeps them off source roots).
sys.path.insert(0, str(Path.cwd() / "build-support" / "lsp"))
from keel_lsp import pants_help  # noqa: E402  # pants: no-infer-dep
from keel_lsp.kinds import ADDRESS, FILE, PACKAGE, Kinds  # noqa: E402  # pants: no-infer-dep

SERVER = Path.cwd() / "build-support" / "build-lsp"
NVIM_SCRIPT = Path.cwd() / "tests" / "lsp" / "nvim_definition.lua"


def spec(name: str, extra: str = "") -> str:
    return f"Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: {name}\nLicense: MIT\n{extra}%description\n{name}.\n%files\n"


FILES = {
    "specs/libkv/BUILD": "rpm_package()\n",
    "specs/libkv/libkv.spec": spec("libkv", "%package devel\nSummary: headers\n%description devel\nh.\n%files devel\n"),
    "specs/kvtool/BUILD": "rpm_package(\n    toolchain='//toolchain:official',\n    dependencies=['specs/libkv'],\n)\n",
    "specs/kvtool/kvtool.spec": spec("kvtool", "BuildRequires: libkv-devel\n"),
    "images/demo/BUILD": (
        'BASE = ["kvtool", "libkv"]\n'
        'disk_image(name="raw", format="raw", size="64M", packages=BASE + ["//specs/kvtool:kvtool"])\n'
        'container_image(name="oci", packages=["kv-provided"])\n'
    ),
    # Every kind of mistake the server reports, one per line.
    "broken/BUILD": (
        "rpm_pakage(name='typo')\n"
        "rpm_package(name='bad-field', spex='x.spec')\n"
        "rpm_package(name='bad-dep', dependencies=['//specs/nope', ':bad-field'])\n"
        "disk_image(name='bad-package', packages=['no-such-package', 'libkv'])\n"
    ),
    "broken/bad.spec": spec("bad"),
}


def graph_json() -> dict:
    """What `./pants rpm-graph ::` writes for FILES (its contract, version 1)."""
    nodes = [
        {"id": "specs/libkv:libkv", "kind": "rpm_package", "build_file": "specs/libkv/BUILD", "spec": "specs/libkv/libkv.spec", "stage": "toolchain:official", "packages": ["libkv", "libkv-devel"]},
        {"id": "specs/kvtool:kvtool", "kind": "rpm_package", "build_file": "specs/kvtool/BUILD", "spec": "specs/kvtool/kvtool.spec", "stage": "toolchain:official", "packages": ["kvtool"]},
        {"id": "toolchain:bootstrap", "kind": "toolchain_stage", "build_file": "toolchain/BUILD"},
        {"id": "toolchain:official", "kind": "toolchain_stage", "build_file": "toolchain/BUILD"},
        {"id": "toolchain:imager", "kind": "toolchain_stage", "build_file": "toolchain/BUILD"},
        {"id": "images/demo:raw", "kind": "disk_image", "build_file": "images/demo/BUILD"},
        {"id": "images/demo:oci", "kind": "container_image", "build_file": "images/demo/BUILD"},
    ]
    # kv-provided: a Provides of libkv's spec, which only rpmspec (so only the graph) knows.
    for name, target in [("libkv", "specs/libkv:libkv"), ("libkv-devel", "specs/libkv:libkv"), ("kvtool", "specs/kvtool:kvtool"), ("kv-provided", "specs/libkv:libkv")]:
        nodes.append({"id": f"package:{name}", "kind": "binary_package", "name": name, "target": target})
    edges = [
        {"from": "specs/kvtool:kvtool", "to": "specs/libkv:libkv", "kind": "BuildRequires"},
        {"from": "images/demo:raw", "to": "package:kvtool", "kind": "installs"},
        {"from": "images/demo:raw", "to": "package:libkv", "kind": "installs"},
        {"from": "images/demo:oci", "to": "package:kv-provided", "kind": "installs"},
        {"from": "specs/libkv:libkv", "to": "toolchain:official", "kind": "built_in"},
        {"from": "specs/kvtool:kvtool", "to": "toolchain:official", "kind": "built_in"},
        {"from": "toolchain:official", "to": "toolchain:bootstrap", "kind": "base"},
        {"from": "images/demo:raw", "to": "toolchain:imager", "kind": "assembled_in"},
    ]
    for name, target in [("libkv", "specs/libkv:libkv"), ("libkv-devel", "specs/libkv:libkv"), ("kvtool", "specs/kvtool:kvtool"), ("kv-provided", "specs/libkv:libkv")]:
        edges.append({"from": f"package:{name}", "to": target, "kind": "built_by"})
    return {"version": 1, "nodes": nodes, "edges": edges, "unresolved": [], "cycles": []}


def write_pants_launcher(ws: Workspace) -> None:
    """The workspace's ./pants, which the server runs: this test's Pants for `help-all`, as
    tests.pants_workspace runs it (no daemon, the file's shared caches). `rpm-graph` is not on
    this branch yet: the launcher stands in for it, writing GRAPH_SOURCE where the goal writes
    (DIR/rpm-graph/graph.json for --pants-distdir=DIR) and logging each call in RPM_GRAPH_CALLS."""
    argv, env = ws.pants_command()
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    source, calls = ws.root.parent / "graph-source.json", ws.root.parent / "rpm-graph-calls.txt"
    source.write_text(json.dumps(graph_json()))
    launcher = ws.root / "pants"
    launcher.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" rpm-graph "*)\n'
        f'  echo "$*" >> {shlex.quote(str(calls))}\n'
        '  for arg in "$@"; do case "$arg" in --pants-distdir=*) dist="${arg#--pants-distdir=}" ;; esac; done\n'
        f'  mkdir -p "$dist/rpm-graph" && cp {shlex.quote(str(source))} "$dist/rpm-graph/graph.json"\n'
        "  exit 0 ;;\n"
        "esac\n"
        f"{exports}exec {' '.join(shlex.quote(a) for a in argv)} \"$@\"\n"
    )
    launcher.chmod(0o755)


def rpm_graph_calls(ws: Workspace) -> list[str]:
    calls = ws.root.parent / "rpm-graph-calls.txt"
    return calls.read_text().splitlines() if calls.exists() else []


def start(ws: Workspace, tmp: Path, name: str, **env: str) -> LspClient:
    environment = {**os.environ, "KEEL_LSP_LOG": str(tmp / f"{name}.log"), **env}
    client = LspClient([str(SERVER)], ws.root, environment, tmp / f"{name}.stderr")
    client.initialize(ws.root)
    return client


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("lsp"), FILES)
    write_pants_launcher(workspace)
    return workspace


@pytest.fixture(scope="module")
def lsp(ws: Workspace, tmp_path_factory) -> Iterator[LspClient]:
    """The server as an editor starts it: it runs `./pants help-all` and `./pants rpm-graph ::`
    in the background, one after the other."""
    client = start(ws, tmp_path_factory.mktemp("server"), "main")
    try:
        def reported(part: str) -> dict:
            return client.wait_for(lambda m: m.get("method") == "window/logMessage" and m["params"]["message"].startswith(f"keel-lsp: {part} "), 600)

        # The real help-all: tens of seconds on a cold Pants.
        assert "help loaded" in reported("help")["params"]["message"]
        assert "graph loaded (7 targets, 4 packages)" in reported("graph")["params"]["message"]
        yield client
    finally:
        client.close()


def where(path: Path, needle: str, delta: int = 0) -> tuple[int, int]:
    """(line, character) of `needle` in the file, `delta` characters in."""
    for number, line in enumerate(path.read_text().splitlines()):
        if needle in line:
            return number, line.index(needle) + delta
    raise AssertionError(f"{needle!r} not in {path}")


def labels(result: dict) -> list[str]:
    return [item["label"] for item in result["items"]]


def complete_in(lsp: LspClient, ws: Workspace, text: str, path: str = "scratch/BUILD") -> dict:
    """Complete at the end of `text`, as typed into an open BUILD file (never saved: the server
    reads an open file's text from the editor, not from disk)."""
    uri = lsp.open(ws.root / path, text)
    lines = text.split("\n")
    return lsp.at("textDocument/completion", uri, len(lines) - 1, len(lines[-1]))


def test_help_all_is_cached_on_disk_by_a_key(ws: Workspace, lsp: LspClient) -> None:
    cached = list((ws.root / ".pants.d/build-lsp/help").glob("help-all-*.json"))
    assert len(cached) == 1
    assert "rpm_package" in json.loads(cached[0].read_text())["name_to_target_type_info"]


def test_completes_target_types(lsp: LspClient, ws: Workspace) -> None:
    result = complete_in(lsp, ws, "rpm_package()\n")
    found = labels(result)
    # keel's target types and Pants' own (the workspace enables keel's backends only).
    assert {"rpm_package", "toolchain_stage", "disk_image", "iso_image", "container_image", "files", "target"} <= set(found)
    assert "python_tests" not in found
    assert labels(complete_in(lsp, ws, "# a comment\ndisk_")) == ["disk_image"]
    item = next(i for i in result["items"] if i["label"] == "rpm_package")
    assert "SPEC file" in item["documentation"]["value"]


def test_completes_fields_of_the_target_being_written(lsp: LspClient, ws: Workspace) -> None:
    found = labels(complete_in(lsp, ws, "rpm_package(\n    name='x',\n    "))
    assert {"spec", "toolchain", "defines", "dependencies", "sources", "output_path"} <= set(found)
    assert "name" not in found  # given already
    assert "format" not in found  # a disk_image field
    image = complete_in(lsp, ws, "disk_image(name='d', for")
    assert labels(image) == ["format"] and image["items"][0]["insertText"] == "format="
    assert "vhdx" in image["items"][0]["documentation"]["value"]  # Pants' help of the field


def test_completes_package_names_and_addresses(lsp: LspClient, ws: Workspace) -> None:
    packages = labels(complete_in(lsp, ws, "disk_image(name='d', packages=['kv"))
    assert packages[:2] == ["kv-provided", "kvtool"]  # from the graph, Provides included
    assert "libkv-devel" in labels(complete_in(lsp, ws, "container_image(name='c', packages=['libkv', \"libkv-"))
    addresses = labels(complete_in(lsp, ws, "rpm_package(dependencies=['specs/"))
    assert addresses == ["specs/kvtool", "specs/libkv"]
    relative = labels(complete_in(lsp, ws, "toolchain_stage(name='x', base=':", path="toolchain/BUILD.scratch"))
    assert relative == [":bootstrap", ":imager", ":official"]
    result = complete_in(lsp, ws, "toolchain_stage(name='x', base='//tool")
    assert {"//toolchain:official", "//toolchain:bootstrap"} <= set(labels(result))
    edit = result["items"][0]["textEdit"]
    assert edit["range"]["start"]["character"] == len("toolchain_stage(name='x', base='")


def test_hover(lsp: LspClient, ws: Workspace) -> None:
    kvtool = ws.root / "specs/kvtool/BUILD"
    uri = lsp.open(kvtool)
    address = lsp.at("textDocument/hover", uri, *where(kvtool, "specs/libkv", 3))["contents"]["value"]
    assert "**rpm_package** `specs/libkv`" in address
    assert "spec: `specs/libkv/libkv.spec`" in address
    assert "built in: `toolchain:official`" in address
    target_type = lsp.at("textDocument/hover", uri, *where(kvtool, "rpm_package", 2))["contents"]["value"]
    assert "A SPEC file and its sources" in target_type
    field = lsp.at("textDocument/hover", uri, *where(kvtool, "toolchain=", 2))["contents"]["value"]
    assert "toolchain_stage whose root this package is built in" in field
    toolchain = ws.root / "toolchain/BUILD"
    stage = lsp.at("textDocument/hover", lsp.open(toolchain), *where(toolchain, "'official'", 2))["contents"]["value"]
    assert "**toolchain_stage** `toolchain:official`" in stage and "dependents: 2" in stage  # libkv and kvtool, built in it
    image = ws.root / "images/demo/BUILD"
    uri = lsp.open(image)
    package = lsp.at("textDocument/hover", uri, *where(image, '"libkv"', 2))["contents"]["value"]
    assert "binary package `libkv`" in package and "`specs/libkv`" in package and "libkv.spec" in package


@pytest.mark.parametrize(
    "path, needle, target, spec",
    [
        # toolchain/BUILD (tests.pants_workspace): bootstrap, official, imager on lines 0, 1, 2.
        ("specs/kvtool/BUILD", "//toolchain:official", ("toolchain/BUILD", 1), None),
        ("specs/kvtool/BUILD", "specs/libkv", ("specs/libkv/BUILD", 0), "specs/libkv/libkv.spec"),
        ("toolchain/BUILD", "':bootstrap'", ("toolchain/BUILD", 0), None),
        ("images/demo/BUILD", "//specs/kvtool:kvtool", ("specs/kvtool/BUILD", 0), "specs/kvtool/kvtool.spec"),
        ("images/demo/BUILD", '"libkv"', ("specs/libkv/BUILD", 0), "specs/libkv/libkv.spec"),  # via BASE
        ("images/demo/BUILD", "kv-provided", ("specs/libkv/BUILD", 0), "specs/libkv/libkv.spec"),
    ],
)
def test_definition(lsp: LspClient, ws: Workspace, path: str, needle: str, target: tuple[str, int], spec: str | None) -> None:
    file = ws.root / path
    uri = lsp.open(file)
    locations = lsp.at("textDocument/definition", uri, *where(file, needle, 2))
    found = [(Path(l["uri"][len("file://"):]).relative_to(ws.root).as_posix(), l["range"]["start"]["line"]) for l in locations]
    assert found == [target] + ([(spec, 0)] if spec else [])


def test_references_are_the_dependents(lsp: LspClient, ws: Workspace) -> None:
    libkv = ws.root / "specs/libkv/BUILD"
    uri = lsp.open(libkv)
    locations = lsp.at("textDocument/references", uri, 0, 3, context={"includeDeclaration": False})
    found = {(Path(l["uri"][len("file://"):]).relative_to(ws.root).as_posix(), l["range"]["start"]["line"]) for l in locations}
    # kvtool BuildRequires it; both images install its packages (oci through a Provides);
    # broken/BUILD's image lists libkv by name.
    assert found == {("specs/kvtool/BUILD", 0), ("images/demo/BUILD", 1), ("images/demo/BUILD", 2), ("broken/BUILD", 3)}


def test_diagnostics(lsp: LspClient, ws: Workspace) -> None:
    broken = ws.root / "broken/BUILD"
    mark = lsp.mark()
    uri = lsp.open(broken)
    by_line = {d["range"]["start"]["line"]: d["message"] for d in lsp.diagnostics_after(uri, mark)}
    assert by_line[0].startswith("Unknown target type `rpm_pakage`")
    assert by_line[1].startswith("Unrecognized field `spex` in target broken:bad-field")
    assert "'//specs/nope'" in by_line[2] and "does not exist" in by_line[2]
    assert by_line[3] == (
        "The `packages` field of broken:bad-package lists 'no-such-package', but no rpm_package builds or "
        "provides it. Check the name (`./pants list ::` shows the targets), or add a spec that provides it."
    )
    assert len(by_line) == 4  # `:bad-field` exists, `libkv` is built: no complaint
    hover = lsp.at("textDocument/hover", uri, *where(broken, "no-such-package", 2))["contents"]["value"]
    assert hover == "binary package `no-such-package`: no rpm_package builds or provides it"
    clean = ws.root / "specs/kvtool/BUILD"
    mark = lsp.mark()
    assert lsp.diagnostics_after(lsp.open(clean), mark) == []


def test_graph_comes_from_rpm_graph_and_is_refreshed_on_save(lsp: LspClient, ws: Workspace) -> None:
    assert rpm_graph_calls(ws) == ["--pants-distdir=.pants.d/build-lsp/dist rpm-graph ::"]
    assert (ws.root / ".pants.d/build-lsp/dist/rpm-graph/graph.json").exists()  # for the next start
    mark = lsp.mark()
    uri = lsp.open(ws.root / "specs/libkv/libkv.spec")
    lsp.save(uri)
    lsp.wait_for(lambda m: "graph loaded" in m.get("params", {}).get("message", ""), 120, mark)
    assert len(rpm_graph_calls(ws)) == 2


def test_save_reindexes_the_build_file(lsp: LspClient, ws: Workspace) -> None:
    new = ws.root / "specs/newpkg/BUILD"
    new.parent.mkdir(parents=True)
    new.write_text("rpm_package()\n")
    (new.parent / "newpkg.spec").write_text(spec("newpkg"))
    mark = lsp.mark()
    lsp.save(lsp.open(new))
    lsp.diagnostics_after(new.as_uri(), mark)
    assert "specs/newpkg" in labels(complete_in(lsp, ws, "rpm_package(dependencies=['specs/new"))
    assert "newpkg" in labels(complete_in(lsp, ws, "disk_image(packages=['newp"))  # its spec's name


def test_files_changed_outside_the_editor(lsp: LspClient, ws: Workspace) -> None:
    """A checkout adds a spec directory: the editor reports it (the server asked it to watch
    BUILD and spec files), and its address and names complete without a save."""
    registration = lsp.server_requests[0]["params"]["registrations"][0]
    assert registration["method"] == "workspace/didChangeWatchedFiles"
    assert {w["globPattern"] for w in registration["registerOptions"]["watchers"]} == {"**/BUILD", "**/BUILD.*", "**/*.spec"}
    new = ws.root / "specs/checkedout/BUILD"
    new.parent.mkdir(parents=True)
    new.write_text("rpm_package()\n")
    (new.parent / "checkedout.spec").write_text(spec("checkedout", "%package extras\nSummary: x\n%description extras\nx.\n%files extras\n"))
    mark = lsp.mark()
    lsp.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": new.as_uri(), "type": 1}, {"uri": (new.parent / "checkedout.spec").as_uri(), "type": 1}]})
    lsp.wait_for(lambda m: "graph loaded" in m.get("params", {}).get("message", ""), 120, mark)  # and a new graph asked for
    assert "specs/checkedout" in labels(complete_in(lsp, ws, "rpm_package(dependencies=['specs/check"))
    assert "checkedout-extras" in labels(complete_in(lsp, ws, "disk_image(packages=['checkedout-"))


def test_answers_from_build_files_before_the_graph(ws: Workspace, lsp: LspClient, tmp_path: Path) -> None:
    """No graph yet (rpm-graph still running, or not there): addresses and spec names work from
    the server's own reading; names only the graph knows are not reported as errors."""
    graph = tmp_path / "graph.json"  # not written yet
    client = start(ws, tmp_path, "fallback", KEEL_LSP_GRAPH=str(graph))
    try:
        assert "help cached" in client.notifications[0]["params"]["message"]  # no second help-all
        image = ws.root / "images/demo/BUILD"
        mark = client.mark()
        uri = client.open(image)
        assert client.diagnostics_after(uri, mark) == []  # kv-provided: unknown yet, not wrong
        locations = client.at("textDocument/definition", uri, *where(image, "//specs/kvtool:kvtool", 2))
        assert [l["uri"] for l in locations] == [(ws.root / "specs/kvtool/BUILD").as_uri(), (ws.root / "specs/kvtool/kvtool.spec").as_uri()]
        assert client.at("textDocument/definition", uri, *where(image, "kv-provided", 2)) == []
        hover = client.at("textDocument/hover", uri, *where(image, "kv-provided", 2))["contents"]["value"]
        assert "not loaded yet" in hover
        assert "libkv-devel" in labels(complete_in(client, ws, "disk_image(packages=['libkv-"))
        # The graph arrives; a save makes the server read it.
        graph.write_text(json.dumps(graph_json()))
        mark = client.mark()
        client.save(uri)
        client.diagnostics_after(uri, mark)
        locations = client.at("textDocument/definition", uri, *where(image, "kv-provided", 2))
        assert locations[0]["uri"] == (ws.root / "specs/libkv/BUILD").as_uri()
    finally:
        client.close()


# --- images/core/BUILD as it is: package_set, rpm_repository, loading, a real editor ----------

CORE_BUILD = Path("images/core/BUILD").read_text()  # a `files` dependency of these tests


def package_set_names(text: str) -> list[str]:
    """The binary package names the package_sets of a BUILD file list (not the addresses)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "package_set":
            for keyword in node.keywords:
                if keyword.arg == "packages" and isinstance(keyword.value, ast.List):
                    names += [e.value for e in keyword.value.elts if isinstance(e, ast.Constant) and not set("/:") & set(e.value)]
    return names


CORE_NAMES = package_set_names(CORE_BUILD)


def core_files() -> dict[str, str]:
    """images/core/BUILD and its motd as they are; a spec for each package name its sets list;
    a repository publishing from them; and a set naming `sh`, which only busybox's Provides
    gives (so only the package graph knows it)."""
    files = {"images/core/BUILD": CORE_BUILD, "images/core/motd": Path("images/core/motd").read_text()}
    for name in CORE_NAMES:
        files[f"specs/{name}/BUILD"] = "rpm_package()\n"
        files[f"specs/{name}/{name}.spec"] = spec(name)
    files["repos/BUILD"] = 'rpm_repository(name="updates", base_url="file:///srv/updates", packages=["zstd", "//images/core:base"])\n'
    files["images/shell/BUILD"] = 'package_set(name="shell", packages=["sh"])\n'
    return files


def core_graph_json() -> dict:
    """What `./pants rpm-graph ::` writes for core_files(): a target per spec, `sh` provided by busybox."""
    nodes, edges = [], []
    for name in CORE_NAMES:
        address = f"specs/{name}:{name}"
        nodes.append({"id": address, "kind": "rpm_package", "build_file": f"specs/{name}/BUILD", "spec": f"specs/{name}/{name}.spec", "packages": [name]})
        for package in [name] + (["sh"] if name == "busybox" else []):
            nodes.append({"id": f"package:{package}", "kind": "binary_package", "name": package, "target": address})
            edges.append({"from": f"package:{package}", "to": address, "kind": "built_by"})
    return {"version": 1, "nodes": nodes, "edges": edges, "unresolved": [], "cycles": []}


def write_gated_launcher(ws: Workspace, help_json: Path, gates: Path) -> None:
    """A ./pants whose `help-all` and `rpm-graph` answer only once the test opens their gate (a
    file in `gates`): a fresh clone's first minute, held for as long as the test needs it.
    help-all prints the real help of keel's backends; rpm-graph writes core_graph_json()."""
    graph = gates.parent / "core-graph.json"
    graph.write_text(json.dumps(core_graph_json()))
    launcher = ws.root / "pants"
    launcher.write_text(
        "#!/bin/sh\n"
        f'gate() {{ while [ ! -e {shlex.quote(str(gates))}/"$1" ]; do sleep 0.1; done; }}\n'
        'case " $* " in\n'
        f'  *" help-all "*) gate help; exec cat {shlex.quote(str(help_json))} ;;\n'
        '  *" rpm-graph "*) gate graph\n'
        '    for arg in "$@"; do case "$arg" in --pants-distdir=*) dist="${arg#--pants-distdir=}" ;; esac; done\n'
        f'    mkdir -p "$dist/rpm-graph" && exec cp {shlex.quote(str(graph))} "$dist/rpm-graph/graph.json" ;;\n'
        "esac\n"
        'echo "not in this test: ./pants $*" >&2; exit 1\n'
    )
    launcher.chmod(0o755)


def found_at(ws: Workspace, locations: list[dict]) -> list[tuple[str, int]]:
    return [(Path(l["uri"][len("file://"):]).relative_to(ws.root).as_posix(), l["range"]["start"]["line"]) for l in locations]


def eventually(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture(scope="module")
def help_json(lsp: LspClient, ws: Workspace) -> Path:
    """The real `pants help-all` of keel's backends, as the main server cached it."""
    return next((ws.root / ".pants.d/build-lsp/help").glob("help-all-*.json"))


@pytest.fixture(scope="module")
def core_ws(tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("core"), core_files())


def no_pants(help_json: Path, tmp: Path) -> dict[str, str]:
    """A server environment that runs no Pants: the help given, no graph (the specs' names answer)."""
    return {"KEEL_LSP_HELP": str(help_json), "KEEL_LSP_GRAPH": str(tmp / "no-graph.json")}


@pytest.fixture(scope="module")
def core_lsp(core_ws: Workspace, help_json: Path, tmp_path_factory) -> Iterator[LspClient]:
    tmp = tmp_path_factory.mktemp("core-server")
    client = start(core_ws, tmp, "core", **no_pants(help_json, tmp))
    try:
        yield client
    finally:
        client.close()


def test_field_kinds_come_from_help_all(help_json: Path) -> None:
    """What keel's fields hold, read from `pants help-all` as the server reads it: the server has
    no list of target types, so a change in a field's help that hides its kind shows here."""
    parsed = pants_help.parse(json.loads(help_json.read_text()))
    kinds = Kinds(parsed)
    for target_type in ("disk_image", "iso_image", "container_image", "update_image", "package_set", "rpm_repository"):
        assert kinds.fields[target_type]["packages"] == PACKAGE, target_type
        # Declared by the field's type (rules/core/field_kinds.py), not guessed from its help.
        packages = parsed.targets[target_type].fields["packages"]
        assert "Iterable[PackageEntry]" in packages.type_hint, target_type
    stage = kinds.fields["toolchain_stage"]
    assert (stage["packages"], stage["base"]) == (ADDRESS, ADDRESS)  # rpm_package targets, not names
    # Names of the host's packages, capabilities, paths in a root: nothing in the workspace.
    assert not {"seed_packages", "toolchain_packages", "provides", "remove_files", "root_files"} & set(stage)
    image = kinds.fields["disk_image"]
    assert [image[f] for f in ("base", "repos", "dependencies", "files", "post_install")] == [ADDRESS] * 3 + [FILE] * 2
    rpm = kinds.fields["rpm_package"]
    assert [rpm[f] for f in ("toolchain", "dependencies", "sources", "spec")] == [ADDRESS] * 2 + [FILE] * 2


def test_package_names_in_package_sets_lead_to_their_specs(core_lsp: LspClient, core_ws: Workspace) -> None:
    core = core_ws.root / "images/core/BUILD"
    uri = core_lsp.open(core)
    assert {"busybox", "kernel"} <= set(CORE_NAMES)
    for name in CORE_NAMES:
        line, character = where(core, f'"{name}"', 2)
        assert "package_set(" in CORE_BUILD.splitlines()[line]
        locations = found_at(core_ws, core_lsp.at("textDocument/definition", uri, line, character))
        assert locations == [(f"specs/{name}/BUILD", 0), (f"specs/{name}/{name}.spec", 0)], name


def test_package_set_and_rpm_repository_as_images_are(core_lsp: LspClient, core_ws: Workspace) -> None:
    """Completion, hover, references, checks and files in images/core/BUILD and a repository."""
    result = complete_in(core_lsp, core_ws, 'package_set(name="s", packages=["busy')
    assert labels(result) == ["busybox"] and result["isIncomplete"] is False
    assert labels(complete_in(core_lsp, core_ws, 'rpm_repository(name="r", packages=["zs')) == ["zstd"]
    scratch = "images/core/BUILD.scratch"
    assert {":base", ":system"} <= set(labels(complete_in(core_lsp, core_ws, 'package_set(name="s", packages=[":', path=scratch)))
    assert labels(complete_in(core_lsp, core_ws, 'disk_image(name="d", files={"/etc/motd": "mo', path=scratch)) == ["motd"]
    core = core_ws.root / "images/core/BUILD"
    mark = core_lsp.mark()
    uri = core_lsp.open(core)
    assert core_lsp.diagnostics_after(uri, mark) == []
    hover = core_lsp.at("textDocument/hover", uri, *where(core, '"busybox"', 2))["contents"]["value"]
    assert hover.startswith("binary package `busybox`") and "spec: `specs/busybox/busybox.spec`" in hover
    assert found_at(core_ws, core_lsp.at("textDocument/definition", uri, *where(core, '"motd"', 2))) == [("images/core/motd", 0)]
    base_line = where(core, 'package_set(name="base"')[0]
    zstd = core_ws.root / "specs/zstd/BUILD"
    references = core_lsp.at("textDocument/references", core_lsp.open(zstd), 0, 3, context={"includeDeclaration": False})
    assert set(found_at(core_ws, references)) == {("images/core/BUILD", base_line), ("repos/BUILD", 0)}
    repos = core_ws.root / "repos/BUILD"
    locations = core_lsp.at("textDocument/definition", core_lsp.open(repos), *where(repos, "//images/core:base", 2))
    assert found_at(core_ws, locations) == [("images/core/BUILD", base_line)]


def test_neovim_goes_to_the_spec_of_a_package_name(core_ws: Workspace, help_json: Path, tmp_path: Path) -> None:
    """The server in a real editor: a headless Neovim opens images/core/BUILD, starts
    build-support/build-lsp, waits until it is ready and follows the definition of "busybox"
    with its own handler (tests/lsp/nvim_definition.lua)."""
    nvim = shutil.which("nvim")
    if nvim is None:
        # CI (CI is set) installs it (.ci/run, rules/core/host-tools.txt): a skip there hides a gap.
        (pytest.fail if os.environ.get("CI") else pytest.skip)("needs Neovim on PATH (Debian package `neovim`) to try the server in a real editor")
    result = tmp_path / "nvim.json"
    env = {
        **os.environ, **no_pants(help_json, tmp_path), "KEEL_LSP_LOG": str(tmp_path / "nvim-server.log"),
        "KEEL_NVIM_SERVER": str(SERVER), "KEEL_NVIM_ROOT": str(core_ws.root), "KEEL_NVIM_FILE": "images/core/BUILD",
        "KEEL_NVIM_NEEDLE": '"busybox"', "KEEL_NVIM_RESULT": str(result),
    }
    argv = [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {NVIM_SCRIPT}"]
    run = subprocess.run(argv, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    outcome = json.loads(result.read_text()) if result.exists() else {}
    assert outcome.get("ok"), f"{outcome} (exit {run.returncode}) {run.stdout[-2000:]} {run.stderr[-2000:]}"
    # Neovim jumps to the first location and lists both in the quickfix window.
    assert (outcome["file"], outcome["line"]) == ("specs/busybox/BUILD", 0)
    assert outcome["locations"] == ["specs/busybox/BUILD", "specs/busybox/busybox.spec"]


def test_while_loading_answers_say_so(core_ws: Workspace, help_json: Path, tmp_path: Path) -> None:
    """A fresh clone: help-all, then rpm-graph, still running. Completion gives what the server
    has and says it is incomplete, so editors ask again; hover says what is loading; definition
    finds nothing yet and the editor is told why. Runs last: it leaves a help cache in core_ws."""
    gates = tmp_path / "gates"
    gates.mkdir()
    write_gated_launcher(core_ws, help_json, gates)
    client = start(core_ws, tmp_path, "loading")
    try:
        core = core_ws.root / "images/core/BUILD"
        uri = client.open(core)
        busybox = where(core, '"busybox"', 2)
        typed = 'package_set(name="s", packages=["busy'
        assert complete_in(client, core_ws, typed)["isIncomplete"] is True
        target_types = complete_in(client, core_ws, "package_")
        assert target_types["isIncomplete"] is True and labels(target_types) == ["package_set"]  # from the BUILD files
        assert "loading the target types' help" in client.at("textDocument/hover", uri, *busybox)["contents"]["value"]
        mark = client.mark()
        assert client.at("textDocument/definition", uri, *busybox) == []
        shown = client.wait_for(lambda m: m.get("method") == "window/showMessage", 10, mark)
        assert "loading" in shown["params"]["message"]

        (gates / "help").touch()
        client.log_message("help loaded", 60)
        assert ("specs/busybox/busybox.spec", 0) in found_at(core_ws, client.at("textDocument/definition", uri, *busybox))
        names = complete_in(client, core_ws, typed)
        assert labels(names) == ["busybox"] and names["isIncomplete"] is True  # rpm-graph still running
        shell = core_ws.root / "images/shell/BUILD"
        shell_uri, sh = client.open(shell), where(shell, '"sh"', 2)
        assert "loading the package graph" in client.at("textDocument/hover", shell_uri, *sh)["contents"]["value"]

        (gates / "graph").touch()
        client.log_message("graph loaded", 60)
        assert eventually(lambda: complete_in(client, core_ws, typed)["isIncomplete"] is False)
        assert found_at(core_ws, client.at("textDocument/definition", shell_uri, *sh))[0] == ("specs/busybox/BUILD", 0)
    finally:
        client.close()
