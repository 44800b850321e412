"""The package graph of a whole Azure Linux checkout, read before any of it is imported.

`azl-import --with-build-requires` must know what every spec of the checkout provides and
requires to choose what to import, but Pants only knows the targets of BUILD files that exist:
the specs are not targets yet, nor is the stage they will be read in. So the goal builds, for
each spec, the RpmSpecInput its target will have once imported (the same address, repo paths,
local files and defines), and reads them with the same batched rpmspec queries as targets
(spec_info.py), in a root that stands in for the stage `azl-import` writes:

- the root of the stage's base (`--base`), which exists before the import;
- with the files the stage adds loaded by rpmspec (`--load`), in the order rpm reads them in
  the stage's root: the `macros.*` files of the macro packages (installed to rpm's macros.d)
  and the stage's `macro_files` by name, then each macro package's `macros` file (the vendor
  file, read after macros.d);
- with the macro packages' Lua modules (`require "azl.srpm.python"`, in
  `%python_provide`) on the Lua path, since rpm finds modules only in its own directory.

Always this root, even when the workspace already has the stage: the answers are then the same
whatever was imported before, and cached (a second import reads nothing again). On Azure
Linux's 3.0 tree the stand-in and the stage the import then writes read the same BuildRequires
for every spec compared (the 107 directories `perl-Try-Tiny` brings).

With `--root-first`, the base root's rpm database is listed too (every Provides, with its
version): what rpmbuild checks a BuildRequires against.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.rules import Get, MultiGet
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.azl.build_requires import RootProvides

from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.util_rules.package_graph import RpmPackageGraph
from rules.rpm.util_rules.spec_info import (
    InvalidSpecError,
    RpmSpecInfo,
    RpmSpecInput,
    SpecQueryBatch,
    SpecQueryBatchResult,
    parse_query_output,
    query_bucket,
)
from rules.sandbox.bwrap import BUILD_DIR
from rules.sandbox.root import InRootProcess, InRootResult, succeeded
from rules.toolchain.util_rules.roots import StageRoot, StageRootRequest
from rules.toolchain.util_rules.stages import (
    AllToolchainStages,
    ToolchainStage,
    ToolchainStageRequest,
    stage_build_env,
    stage_defines,
)

# Beside the specs' repo paths in the sandbox; no imported path starts with a dot.
_STAGE_FILES = ".azl-import"
# Every Provides of every package in a root's rpm database (one line each).
_PROVIDES_QF = "[%{PROVIDENAME}\t%{PROVIDEFLAGS:depflags}\t%{PROVIDEVERSION}\n]"
_REQUIRE = re.compile(r"""\brequire\s*\(?\s*["']([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)["']""")


def read_tree(source: Path, dest: str) -> list[FileContent]:
    """Every file under `source`, at `dest/RELATIVE`, with its executable bit."""
    contents = []
    for path in sorted(source.rglob("*")):
        if path.is_file():
            contents.append(
                FileContent(
                    f"{dest}/{path.relative_to(source)}",
                    path.read_bytes(),
                    is_executable=os.access(path, os.X_OK),
                )
            )
    return contents


def spec_targets(directory: Path) -> dict[str, str | None]:
    """{spec file: the name of its rpm_package} as `build_file` writes them: the directory's
    default target for its only spec, one target per spec named after it otherwise."""
    specs = sorted(p.name for p in directory.glob("*.spec"))
    if len(specs) == 1:
        return {specs[0]: None}
    return {spec: spec[: -len(".spec")] for spec in specs}


def lua_modules(files: dict[str, str]) -> dict[str, str]:
    """{module path under rpm's Lua directory: file name} for the modules that macro files and
    Lua files `require` and that are among `files` ({file name: text}): `azl.srpm.python` is
    `azl/srpm/python.lua`, made of `python.lua`. Modules rpm itself has are not among them."""
    found: dict[str, str] = {}
    pending = [text for name, text in sorted(files.items()) if name.startswith("macros") or name.endswith(".lua")]
    while pending:
        for module in _REQUIRE.findall(pending.pop(0)):
            parts = module.split(".")
            name = f"{parts[-1]}.lua"
            path = "/".join(parts) + ".lua"
            if name in files and path not in found:
                found[path] = name
                pending.append(files[name])  # a module may require others
    return dict(sorted(found.items()))


def load_order(package_macros: Iterable[str], stage_macros: Iterable[str]) -> list[str]:
    """The macro file names rpmspec loads, in the order rpm reads them in the stage's root:
    macros.d's files by name (the macro packages' `macros.*` and the stage's `macro_files`),
    then the vendor's `macros` of the macro packages."""
    package_macros = set(package_macros)
    named = sorted({*(n for n in package_macros if n != "macros"), *stage_macros})
    return [*named, *(["macros"] if "macros" in package_macros else [])]


def first_error(stderr: str) -> str:
    """rpm's first `error:` line, else its last line: one line per unreadable spec."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "no output")


@dataclass(frozen=True)
class CheckoutGraph:
    graph: RpmPackageGraph
    # Each target's spec, relative to the checkout: `SPECS/x/x-1.spec`.
    specs: FrozenDict[Address, str]
    # Specs rpmspec could not read: their first error line.
    unreadable: FrozenDict[Address, str]
    root_description: str
    # What the base root provides, when asked for (`--root-first`).
    root_provides: RootProvides | None = None
    # Spec directories with several specs (one target each).
    several: frozenset[str] = frozenset()

    def directory(self, address: Address) -> str:
        return self.specs[address].rsplit("/", 1)[0]

    def where(self, address: Address) -> str:
        """The spec directory of a target, or its spec when the directory has several."""
        directory = self.directory(address)
        return self.specs[address] if directory in self.several else directory


async def read_checkout_graph(
    checkout: Path,
    directories: list[str],
    dest: str,
    base: str,
    defines: dict[str, str],
    macro_directories: list[str],
    stage_macros: dict[str, bytes],
    rpm: RpmSubsystem,
    root_first: bool = False,
    toolchain_packages: tuple[str, ...] = (),
) -> CheckoutGraph:
    """Read every spec of `directories` (paths under the checkout, `SPECS/x`) as if imported
    under `dest`, in the stand-in root described in the module docstring, and make their
    package graph, choosing providers by version as `//{dest}:buildroot` does. `defines` are
    the stage's; `stage_macros` its `macro_files` ({name: content, as imported}). With
    `root_first`, also what the base root's rpm database provides. `toolchain_packages` (the
    checkout's toolchain manifest) are left to the root, as in the stage."""
    base_address = (
        await Get(
            Addresses,
            UnparsedAddressInputs([base], owning_address=None, description_of_origin="`[azl-import].base`"),
        )
    )[0]
    chain: list[ToolchainStage] = []
    current: Address | None = base_address
    while current is not None:
        stage = await Get(ToolchainStage, ToolchainStageRequest(current, "`[azl-import].base`"))
        chain.append(stage)
        current = stage.base
    stages = AllToolchainStages(chain)
    root = await Get(StageRoot, StageRootRequest(base_address))
    # As read_spec_input orders them: `[rpm].defines`, the stage chain's, the stage's own.
    all_defines = tuple(sorted({**rpm.defines, **dict(stage_defines(stages, base_address)), **defines}.items()))

    # The macro packages' macro files and Lua modules ({file name: content}; the first
    # directory's for a name two have).
    package_files: dict[str, bytes] = {}
    for directory in macro_directories:
        for path in sorted((checkout / directory).iterdir()):
            if path.is_file() and (path.name == "macros" or path.name.startswith("macros.") or path.suffix == ".lua"):
                package_files.setdefault(path.name, path.read_bytes())
    package_macros = [n for n in package_files if not n.endswith(".lua")]
    modules = lua_modules({n: c.decode(errors="replace") for n, c in package_files.items()})
    order = load_order(package_macros, stage_macros)
    stage_files = [
        # A stage macro file is installed after the packages: it wins a name both have.
        *(FileContent(f"{_STAGE_FILES}/macros/{n}", stage_macros.get(n, package_files.get(n, b""))) for n in order),
        *(FileContent(f"{_STAGE_FILES}/lua/{path}", package_files[name]) for path, name in modules.items()),
    ]
    rpmspec_args: list[str] = []
    if modules:
        # rpm's Lua looks for modules only under its own directory; the macro packages' come
        # first. (--eval prints an empty line before the query's output, which parsing skips.)
        rpmspec_args += ["--eval", f'%{{lua: package.path = "{BUILD_DIR}/{_STAGE_FILES}/lua/?.lua;" .. package.path}}']
    for name in order:
        rpmspec_args += ["--load", f"{BUILD_DIR}/{_STAGE_FILES}/macros/{name}"]
    shared = await Get(Digest, CreateDigest(stage_files))

    trees = await MultiGet(
        Get(Digest, CreateDigest(read_tree(checkout / directory, f"{dest}/{directory}"))) for directory in directories
    )
    snapshots = await MultiGet(Get(Digest, MergeDigests([tree, shared])) for tree in trees)
    description = f"the root of {base_address} with the checkout's macro files loaded (as //{dest}:buildroot has them)"
    inputs: list[RpmSpecInput] = []
    specs: dict[Address, str] = {}
    for directory, snapshot in zip(directories, snapshots):
        files = sorted(
            f"{dest}/{directory}/{p.relative_to(checkout / directory)}"
            for p in (checkout / directory).rglob("*")
            if p.is_file() and p.suffix != ".spec"
        )
        for spec, target_name in spec_targets(checkout / directory).items():
            address = Address(f"{dest}/{directory}", target_name=target_name)
            specs[address] = f"{directory}/{spec}"
            inputs.append(
                RpmSpecInput(
                    address=address,
                    spec_path=f"{dest}/{directory}/{spec}",
                    source_dir=f"{dest}/{directory}",
                    snapshot_digest=snapshot,
                    local_files=tuple(files),
                    defines=all_defines,
                    root=root.archive,
                    root_description=description,
                    root_env=stage_build_env(stages, base_address),
                    rpmspec_args=tuple(rpmspec_args),
                )
            )

    # In the batches targets are read in (a hash of the address), so one spec changed in the
    # checkout reads only its batch again.
    buckets: dict[int, list[RpmSpecInput]] = {}
    for spec_input in inputs:
        buckets.setdefault(query_bucket(spec_input.address), []).append(spec_input)
    batches = [tuple(sorted(b, key=lambda i: i.address)) for _, b in sorted(buckets.items())]
    answers = await MultiGet(Get(SpecQueryBatchResult, SpecQueryBatch(batch)) for batch in batches)

    infos: dict[Address, RpmSpecInfo] = {}
    unreadable: dict[Address, str] = {}
    for batch, answer in zip(batches, answers):
        for spec_input in batch:
            result = answer.results[spec_input.address]
            if result.exit_code != 0:
                unreadable[spec_input.address] = first_error(result.stderr)
                continue
            try:
                infos[spec_input.address] = parse_query_output(spec_input, result.stdout)
            except InvalidSpecError as e:  # no Get inside: nothing of the engine's is caught
                unreadable[spec_input.address] = str(e)
    graph = RpmPackageGraph.create(
        infos, {}, unreadable, by_version=True, toolchain_packages=frozenset(toolchain_packages)
    )
    provides = None
    if root_first:
        process = InRootProcess(
            root=root.archive,
            argv=("/bin/sh", "-c", 'exec rpm -qa --qf "$1"', "sh", _PROVIDES_QF),
            input_digest=EMPTY_DIGEST,
            description=f"List what the root of {base_address} provides",
            source_date_epoch=rpm.default_source_date_epoch,
            env=stage_build_env(stages, base_address),
            # Not read-only: rpm's sqlite database cannot be opened on a read-only root.
            level=LogLevel.DEBUG,
            on_workers=False,
        )
        listing = succeeded(await Get(InRootResult, InRootProcess, process), process).stdout
        provides = RootProvides.parse(listing.decode(errors="replace"))
    counts = Counter(spec.rsplit("/", 1)[0] for spec in specs.values())
    return CheckoutGraph(
        graph,
        FrozenDict(sorted(specs.items())),
        FrozenDict(sorted(unreadable.items())),
        description,
        provides,
        frozenset(d for d, n in counts.items() if n > 1),
    )
