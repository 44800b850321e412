"""The server's pure parts, without a server: BUILD parsing, addresses, spec names, graph.json."""
from __future__ import annotations

import sys
from pathlib import Path

# build-support/lsp is the server's own tree (a hyphen in its path keeps it off source roots).
sys.path.insert(0, str(Path.cwd() / "build-support" / "lsp"))

from keel_lsp import addresses, buildfile, context, graph, pants_help, specfile  # noqa: E402  # pants: no-infer-dep
from keel_lsp.index import Index  # noqa: E402  # pants: no-infer-dep

IMAGES_BUILD = """\
BASE = ["filesystem", "busybox"]
SYSTEM = dict(packages=BASE + ["kernel"], hostname="core")
disk_image(name="vhdx", format="vhdx", **SYSTEM)
container_image(name="container", **dict(SYSTEM, packages=BASE))
"""


def test_addresses_as_build_files_write_them() -> None:
    assert addresses.parse("//toolchain:official", "specs/x") == "toolchain:official"
    assert addresses.parse("specs/libkv", "images/core") == "specs/libkv:libkv"
    assert addresses.parse(":bootstrap", "toolchain") == "toolchain:bootstrap"
    assert addresses.parse("//specs/kvtool:kvtool", "") == "specs/kvtool:kvtool"
    assert addresses.parse("//:pants", "tests") == ":pants"
    assert addresses.parse("rules/rpm/target_types.py", "tests") is None  # a file, not a target
    assert addresses.display("specs/libkv:libkv") == "specs/libkv"
    assert addresses.display("toolchain:official") == "toolchain:official"
    assert addresses.from_node_id("specs/busybox") == addresses.from_node_id("specs/busybox:busybox")


def test_build_file_strings_keep_their_positions_through_variables() -> None:
    build = buildfile.parse("images/core/BUILD", IMAGES_BUILD)
    vhdx, container = build.targets
    assert (vhdx.type, vhdx.address) == ("disk_image", "images/core:vhdx")
    assert [s.value for s in vhdx.strings("packages")] == ["filesystem", "busybox", "kernel"]
    busybox = vhdx.strings("packages")[1]
    assert (busybox.span.line, IMAGES_BUILD.splitlines()[0][busybox.span.start : busybox.span.end]) == (0, '"busybox"')
    assert vhdx.fields["hostname"].key.line == 1  # the keyword in SYSTEM's dict(...)
    assert [s.value for s in container.strings("packages")] == ["filesystem", "busybox"]
    assert build.defined == {"BASE", "SYSTEM"}


def test_build_file_with_a_syntax_error_gives_the_error() -> None:
    build = buildfile.parse("specs/x/BUILD", "rpm_package(\n")
    assert build.targets == [] and build.error is not None


def test_spec_names() -> None:
    spec = "%global soname 1\nName: libkv\nVersion: 1.0\n%package devel\n%package -n kvtool-%{soname}\n%package -n %{undefined}x\n"
    assert specfile.package_names(spec) == ["libkv", "libkv-devel", "kvtool-1"]


def test_graph_contract(tmp_path: Path) -> None:
    data = {
        "version": 1,
        "nodes": [
            {"id": "specs/busybox:busybox", "kind": "rpm_package", "build_file": "specs/busybox/BUILD", "spec": "specs/busybox/busybox.spec", "stage": "toolchain:official", "packages": ["busybox", "busybox-initramfs"]},
            {"id": "toolchain:official", "kind": "toolchain_stage", "build_file": "toolchain/BUILD"},
            {"id": "images/core:vhdx", "kind": "disk_image", "build_file": "images/core/BUILD"},
            {"id": "package:busybox", "kind": "binary_package", "name": "busybox", "target": "specs/busybox:busybox"},
            {"id": "package:sh", "kind": "binary_package", "name": "sh", "target": "specs/busybox"},
        ],
        "edges": [
            {"from": "images/core:vhdx", "to": "package:busybox", "kind": "installs"},
            {"from": "package:busybox", "to": "specs/busybox:busybox", "kind": "built_by"},
            {"from": "specs/busybox:busybox", "to": "toolchain:official", "kind": "built_in"},
            {"from": "images/core:vhdx", "to": "toolchain:imager", "kind": "assembled_in"},
        ],
        "unresolved": [{"target": "specs/busybox:busybox", "requirement": "foo-devel", "kind": "BuildRequires"}],
        "cycles": [],
    }
    g = graph.load(data)
    assert g.packages == {"busybox": "specs/busybox:busybox", "busybox-initramfs": "specs/busybox:busybox", "sh": "specs/busybox:busybox"}
    assert g.targets["specs/busybox:busybox"].stage == "toolchain:official"
    assert g.dependents["specs/busybox:busybox"] == [("images/core:vhdx", "installs")]
    assert g.dependents["toolchain:official"] == [("specs/busybox:busybox", "built_in")]
    assert g.unresolved[0]["requirement"] == "foo-devel"


def test_index_reads_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "specs/libkv").mkdir(parents=True)
    (tmp_path / "specs/libkv/BUILD").write_text("rpm_package()\n")
    (tmp_path / "specs/libkv/libkv.spec").write_text("Name: libkv\n%package devel\n")
    (tmp_path / "toolchain").mkdir()
    (tmp_path / "toolchain/BUILD").write_text("toolchain_stage(name='official', packages=['specs/libkv'])\n")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist/BUILD").write_text("rpm_package()\n")  # outputs are not the workspace
    index = Index(tmp_path)
    index.scan()
    assert set(index.targets) == {"specs/libkv:libkv", "toolchain:official"}
    assert index.packages == {"libkv": "specs/libkv:libkv", "libkv-devel": "specs/libkv:libkv"}
    assert index.stage_of == {"specs/libkv:libkv": "toolchain:official"}
    assert index.exists("specs/nope:nope") is False
    assert index.dependents("specs/libkv:libkv", index.packages.get) == [("toolchain:official", "packages")]


def test_cursor_context_in_text_being_typed() -> None:
    def at_end(text: str) -> context.Context:
        return context.scan(text, len(text))

    assert (at_end("# rpm_package(\nrpm_").kind, at_end("# rpm_package(\nrpm_").prefix) == ("statement", "rpm_")
    argument = at_end("rpm_package(\n    name='x',  # a comment, with (\n    to")
    assert (argument.kind, argument.prefix, argument.call.callee, argument.call.keywords) == ("argument", "to", "rpm_package", ("name",))
    string = at_end('disk_image(name="a\\"b", packages=BASE + ["kv')
    assert (string.kind, string.prefix, string.call.callee, string.call.keyword) == ("string", "kv", "disk_image", "packages")
    assert at_end("rpm_package(spec='x.spec')\n").kind == "statement"
    assert at_end("x = [\n").kind == "other"
    assert context.string_at('f(dependencies=[":a", "specs/b"])', 25)[:3] == ("specs/b", 23, 30)


def test_help_cache_key_follows_pants_toml_and_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "pants.toml").write_text("[GLOBAL]\n")
    first = pants_help.key(tmp_path)
    (tmp_path / "rules/rpm").mkdir(parents=True)
    (tmp_path / "rules/rpm/target_types.py").write_text("# a new field\n")
    second = pants_help.key(tmp_path)
    (tmp_path / "pants.toml").write_text("[GLOBAL]\nbackend_packages = []\n")
    assert len({first, second, pants_help.key(tmp_path)}) == 3
    assert pants_help.cache_path(tmp_path).name == f"help-all-{pants_help.key(tmp_path)}.json"
