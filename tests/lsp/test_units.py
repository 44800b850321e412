"""The server's pure parts, without a server: BUILD parsing, addresses, spec names, graph.json."""
from __future__ import annotations

import sys
from pathlib import Path

# build-support/lsp is the server's own tree (a hyphen in its path keeps it off source roots).
sys.path.insert(0, str(Path.cwd() / "build-support" / "lsp"))

from keel_lsp import addresses, buildfile, context, graph, pants_help, specfile  # noqa: E402  # pants: no-infer-dep
from keel_lsp.index import Index  # noqa: E402  # pants: no-infer-dep
from keel_lsp.kinds import ADDRESS, FILE, PACKAGE, Kinds, field_kind  # noqa: E402  # pants: no-infer-dep
from keel_lsp.pants_help import FieldHelp, Help, TargetHelp  # noqa: E402  # pants: no-infer-dep

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
    stage_packages = lambda target_type, field, value: ADDRESS if field == "packages" else None  # noqa: E731
    assert index.dependents("specs/libkv:libkv", index.packages.get, stage_packages) == [("toolchain:official", "packages")]


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


def field(alias: str, type_hint: str, description: str = "") -> FieldHelp:
    return FieldHelp(alias, description, type_hint, False, None)


def help_of(targets: dict[str, list[FieldHelp]]) -> Help:
    return Help({t: TargetHelp(t, "", "", "", {f.alias: f for f in fs}) for t, fs in targets.items()}, frozenset(), None)


def test_field_kinds_declared_by_type() -> None:
    """The strongest signal: the element type a field class gives its values, as help-all
    prints it, whatever its help says."""
    assert field_kind(field("things", "Iterable[PackageEntry] | None")) == PACKAGE
    assert field_kind(field("things", "Iterable[PackageEntry]", "Addresses of anything.")) == PACKAGE
    assert field_kind(field("stage", "TargetAddress | None")) == ADDRESS
    assert field_kind(field("config", "WorkspaceFile | None")) == FILE


def test_field_kinds_from_pants_conventions_and_help_text() -> None:
    assert field_kind(field("dependencies", "Iterable[str] | None")) == ADDRESS
    assert field_kind(field("sources", "Iterable[str]")) == FILE
    names = "The set's packages: `rpm_package` addresses and binary package names, e.g. `\"//x\"`."
    assert field_kind(field("packages", "Iterable[str]", names)) == PACKAGE
    built = "`rpm_package` targets built by this stage, in order."
    assert field_kind(field("packages", "Iterable[str] | None", built), ["rpm_package"]) == ADDRESS
    assert field_kind(field("packages", "Iterable[str] | None", built)) is None  # not a target type here
    assert field_kind(field("stage", "str | None", "The stage, e.g. `//toolchain:official`.")) == ADDRESS
    assert field_kind(field("base", "str | None", "The address of an image this one builds on.")) == ADDRESS
    assert field_kind(field("files", "Dict[str, str] | None", "Maps a path to a file relative to the BUILD file.")) == FILE
    host = "Packages of the build host's distribution, by name.\n\nNot package names of the workspace."
    assert field_kind(field("seed_packages", "Iterable[str] | None", host)) is None  # only the first paragraph counts
    assert field_kind(field("format", "'raw' | 'vhdx' | None", "binary package names")) is None


def test_kinds_by_target_type_and_for_dict_fields() -> None:
    names = field("packages", "Iterable[PackageEntry] | None")
    kinds = Kinds(help_of({
        "package_set": [names],
        "disk_image": [names, field("base", "TargetAddress | None")],
        "toolchain_stage": [field("packages", "Iterable[TargetAddress] | None")],
    }))
    assert kinds.role("package_set", "packages", "busybox") == PACKAGE
    assert kinds.role("package_set", "packages", ":base") == ADDRESS  # keel's rule: an address has / or :
    assert kinds.role("package_set", "packages", "") == PACKAGE  # nothing typed yet: names first
    assert kinds.role("toolchain_stage", "packages", "m4") == ADDRESS
    assert kinds.role("package_set", "hostname", "x") is None
    # `SYSTEM = dict(packages=[...])`: the field of the target types the file calls, if they agree.
    assert kinds.role("dict", "packages", "busybox", {"disk_image", "package_set"}) == PACKAGE
    assert kinds.role("dict", "packages", "busybox", {"disk_image", "toolchain_stage"}) is None
    assert kinds.role("dict", "base", "//images/core:vhdx") == ADDRESS  # one target type has it


def test_kinds_before_help_all_has_answered() -> None:
    kinds = Kinds(None)
    assert kinds.role("python_tests", "dependencies", "x") == ADDRESS
    assert kinds.role("package_set", "packages", "busybox") is None  # unknown, not guessed
