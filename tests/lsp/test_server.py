"""build-support/build-lsp as an editor runs it: a subprocess spoken to in JSON-RPC over stdio,
on a workspace the test makes. Target help comes from a real `pants help-all` on that workspace
(run once, by the server, through the workspace's `./pants`). The package graph is a graph.json
the test writes in the contract of `./pants rpm-graph`: handed over by the workspace's launcher
standing in for that goal, or named by KEEL_LSP_GRAPH (the server then runs no Pants for it).
"""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Iterator

import pytest

from tests.lsp.client import LspClient
from tests.pants_workspace import Workspace

SERVER = Path.cwd() / "build-support" / "build-lsp"


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
