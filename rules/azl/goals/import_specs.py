"""`./pants azl-import`: bring spec directories of an Azure Linux checkout into the workspace.

The user brings the checkout; nothing of it is part of keel. Each spec directory (`SPECS/NAME`
or `SPECS-EXTENDED/NAME`) is copied unchanged under `azl/` with a BUILD file, and `azl/BUILD`
describes Azure Linux's build root for them (see `azl_build_file`): a toolchain stage on
`//toolchain/azl:bootstrap` that builds Azure Linux's macro packages from their imported spec
directory, with the toolkit's `--define`s, and `__defaults__` that build every imported spec in
it.
"""
from __future__ import annotations

import logging
import os
import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, collect_rules, goal_rule
from pants.option.option_types import ArgsListOption, BoolOption, DictOption, StrListOption, StrOption
from pants.util.strutil import help_text

from rules.azl.build_requires import build_requires_closure, describe_need
from rules.azl.checkout_graph import read_checkout_graph, read_tree
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.toolchain.target_types import RPM_CONFIG_DIR

logger = logging.getLogger(__name__)

SPEC_TREES = ("SPECS", "SPECS-EXTENDED")
STAGE_NAME = "buildroot"
MACROS_DIR = "rpm-macros"
# Azure Linux's toolchain holds packages whose rpm macros are generated from their source
# tarballs (systemd-bootstrap-rpm-macros, meson's macros.meson); Debian's packages of those
# tools carry none and the tarballs are not reachable here, so keel writes those definitions.
TOOLCHAIN_MACROS = Path(__file__).resolve().parent.parent / "toolchain_macros"
KEEL_MACROS = "keel's rules/azl/toolchain_macros"


class AzlImportError(Exception):
    pass


class AzlImportSubsystem(GoalSubsystem):
    name = "azl-import"
    help = help_text(
        """
        Copy spec directories of an Azure Linux checkout into the workspace, unchanged, with
        BUILD files: `./pants azl-import --checkout=PATH -- bzip2 zlib`, `--names-file=FILE`, or
        `--all`. They go to `azl/SPECS/NAME` (or `azl/SPECS-EXTENDED/NAME`), built in the
        toolchain stage `//azl:buildroot` that `azl/BUILD` defines: Azure Linux's build root.
        Importing again replaces those directories and rewrites `azl/BUILD`.
        """
    )

    checkout = StrOption(
        default=None,
        help="The Azure Linux checkout (a directory holding `SPECS/`), e.g. a clone of its 3.0 branch.",
    )
    args = ArgsListOption(
        example="bzip2 zlib",
        tool_name="azl-import",
        passthrough=True,
        extra_help=(
            "The names of the spec directories to import, looked up in `SPECS/`, then in "
            "`SPECS-EXTENDED/`."
        ),
    )
    names_file = StrOption(
        default=None,
        help="A file of spec directory names to import, one per line (`#` starts a comment).",
    )
    all = BoolOption(
        default=False,
        help="Import every spec directory of `SPECS/` (and of `SPECS-EXTENDED/` with `--extended`).",
    )
    extended = BoolOption(
        default=False,
        help=(
            "With `--all`: import `SPECS-EXTENDED/` too. With `--with-build-requires`: look for "
            "providers in `SPECS-EXTENDED/` too."
        ),
    )
    with_build_requires = BoolOption(
        default=False,
        help=help_text(
            """
            Also import the spec directories that building the named ones needs: the providers
            of their BuildRequires, of the Requires of the packages those pull in, and so on, as
            a build installs them (transitively), each chosen among the specs of `SPECS/` (and
            `SPECS-EXTENDED/` with `--extended`) as `//azl:buildroot` chooses (the highest
            version that meets the requirement). A requirement no spec of the checkout provides
            is left to the build root. Every spec of the checkout is read with rpmspec in the
            root of `--base` with the stage's macro files (cached: slow the first time only); a
            spec it cannot read is a warning. Prints why each directory was added.
            """
        ),
    )
    root_first = BoolOption(
        default=False,
        help=help_text(
            """
            With `--with-build-requires`: leave to the build root what it already provides (the
            seed, as rpmbuild checks a BuildRequires: by name and version), and import a spec
            directory only for what neither the root nor the directories being imported
            provide. Without it, the packages of the checkout's toolchain manifest (gcc, glibc,
            perl...) are left to the root, as the stage leaves them, and every other
            BuildRequires with a provider in the checkout brings that provider's directory,
            whether or not the seed has a package of that name.
            """
        ),
    )
    dest = StrOption(
        default="azl",
        help="The workspace directory imported spec directories go under.",
    )
    base = StrOption(
        default="//toolchain/azl:bootstrap",
        help="The bootstrap toolchain stage Azure Linux's build root is made on.",
    )
    macro_packages = StrListOption(
        default=["azurelinux-rpm-macros", "pyproject-rpm-macros"],
        help=help_text(
            """
            Spec directories of the distribution's rpm macro packages (Azure Linux's
            `azurelinux-rpm-macros` builds `azurelinux-rpm-macros` and
            `azurelinux-check-macros`; `pyproject-rpm-macros` the `%pyproject_*` macros and the
            scripts they run, which its toolchain holds and Debian does not). They are always
            imported and built first, in this order, by the stage, and installed in its root, as
            in Azure Linux's build root.
            """
        ),
    )
    defines = DictOption[str](
        default={"azl": "3", "dist": ".azl3", "with_check": "0", "distro_release_version": "3.0"},
        help=help_text(
            """
            Macros the stage defines for every imported spec, as the Azure Linux toolkit does
            on its command lines (`%{azl}`, `%{dist}` from `DIST_TAG`, `with_check` from
            `RUN_CHECK`). `%check` runs only if `with_check` is not "0".
            """
        ),
    )


class AzlImport(Goal):
    subsystem_cls = AzlImportSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@dataclass(frozen=True)
class SpecDirectory:
    tree: str  # SPECS or SPECS-EXTENDED
    name: str

    @property
    def path(self) -> str:
        return f"{self.tree}/{self.name}"


def find_spec_directories(checkout: Path, names: list[str], all_: bool, extended: bool) -> list[SpecDirectory]:
    found: list[SpecDirectory] = []
    if all_:
        for tree in SPEC_TREES[: 2 if extended else 1]:
            root = checkout / tree
            if root.is_dir():
                found.extend(
                    SpecDirectory(tree, d.name)
                    for d in sorted(root.iterdir())
                    if d.is_dir() and any(d.glob("*.spec"))
                )
    unknown = []
    for name in names:
        tree = next((t for t in SPEC_TREES if (checkout / t / name).is_dir()), None)
        if tree is None:
            unknown.append(name)
        elif SpecDirectory(tree, name) not in found:
            found.append(SpecDirectory(tree, name))
    if unknown:
        raise AzlImportError(
            f"No spec directory named {', '.join(sorted(unknown))} in {checkout}/SPECS or "
            f"{checkout}/SPECS-EXTENDED. Check the names (they are directory names, e.g. `bzip2`)."
        )
    return found


def build_file(directory: Path) -> str:
    """The BUILD file of one imported spec directory: one rpm_package per spec."""
    specs = sorted(p.name for p in directory.glob("*.spec"))
    nested = any(p.is_dir() for p in directory.iterdir())
    header = "# Imported from an Azure Linux checkout by `./pants azl-import`.\n"
    if len(specs) == 1:
        # Files in subdirectories are sources too: rpmbuild sees every source flat.
        return header + ('rpm_package(sources=["**/*", "!BUILD"])\n' if nested else "rpm_package()\n")
    others = sorted(
        str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and p.suffix != ".spec"
    )
    return header + "".join(
        f"rpm_package(name={spec[:-len('.spec')]!r}, spec={spec!r}, sources={[spec, *others]!r})\n"
        for spec in specs
    )


def macro_files(checkout: Path, built_by_stage: set[str]) -> dict[str, str]:
    """`macros.*` files of the checkout's spec directories, but those of the macro packages the
    stage builds and installs itself: the rpm macro files of packages whose tools the seed
    supplies (Debian's perl or cmake carry none). Imported directories count too: a spec is read
    in the stage's root, which never holds an imported package's RPM (only a build that
    BuildRequires it does), so importing `perl` must not leave `%{perl_vendorlib}` undefined for
    every perl module that read before. Then keel's files for toolchain packages whose macros
    come out of their source tarballs (TOOLCHAIN_MACROS), where the checkout has none of that
    name. {file name: spec directory or KEEL_MACROS}, the first directory in sorted order for a
    repeated name."""
    found: dict[str, str] = {}
    for tree in SPEC_TREES:
        for path in sorted((checkout / tree).glob("*/macros.*")):
            directory = f"{tree}/{path.parent.name}"
            if directory not in built_by_stage and path.is_file():
                found.setdefault(path.name, directory)
    for path in sorted(TOOLCHAIN_MACROS.glob("macros.*")):
        found.setdefault(path.name, KEEL_MACROS)
    return found


def macro_text(checkout: Path, name: str, origin: str) -> str:
    """The macro file `name` that macro_files found in `origin`, as the stage installs it: the
    placeholders its spec fills in when it builds filled the same way where keel can tell the
    value (`%cmake3` of cmake's file), the definitions holding any other left out."""
    if origin == KEEL_MACROS:
        return (TOOLCHAIN_MACROS / name).read_text()
    text = (checkout / origin / name).read_text(errors="replace")
    for placeholder, value in spec_placeholders(checkout / origin).items():
        text = text.replace(f"@@{placeholder}@@", value)
    return without_placeholders(text)


# A path below rpm's configuration directory in a macro file: `/usr/lib/rpm/azl/x.py`,
# `%{_rpmconfigdir}/x.sh`.
_RPM_CONFIG_PATH = re.compile(r"(?:/usr/lib/rpm|%\{?_rpmconfigdir\}?)/([A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*)")


def macro_helpers(checkout: Path, macros: dict[str, str]) -> dict[str, str]:
    """The helper scripts the macro files run that their spec directory holds ({path below
    rpm's configuration directory: spec directory}): `%ocaml_files` runs
    `/usr/lib/rpm/azl/ocaml_files.py`, which SPECS/ocaml holds and its spec installs there. The
    stage installs them as that package would (rpm_config_files)."""
    found: dict[str, str] = {}
    for name, origin in sorted(macros.items()):
        if origin == KEEL_MACROS:
            continue
        for path in _RPM_CONFIG_PATH.findall(macro_text(checkout, name, origin)):
            if (checkout / origin / Path(path).name).is_file() and ".." not in path.split("/"):
                found.setdefault(path, origin)
    return found


def helper_text(checkout: Path, path: str, origin: str) -> bytes:
    return (checkout / origin / Path(path).name).read_bytes()


_PLACEHOLDER = re.compile(r"@@[A-Z0-9_]+@@")
# `s|@@CMAKE_MAJOR_VERSION@@|%{major_version}|` in a spec's sed call (any delimiter).
_PLACEHOLDER_SUBSTITUTION = re.compile(r"s([|,#/])@@([A-Z0-9_]+)@@\1([^|,#/\s\"']*)\1")
_SPEC_DEFINITION = re.compile(r"^\s*%(?:global|define)\s+(\w+)\s+(\S+)\s*$", re.M)
_SPEC_TAG = re.compile(r"^(Name|Version):\s*(\S+)\s*$", re.M)
_MACRO_USE = re.compile(r"%\{(\w+)\}|%(\w+)")


def spec_placeholders(directory: Path) -> dict[str, str]:
    """The values the spec files of `directory` give the `@@NAME@@` placeholders of their macro
    files, as far as their own one-line definitions and Name/Version tags tell them
    (`%{major_version}` is `3` by `%global major_version 3`). A value that needs anything else
    (`%{release}`, a conditional, a shell command) is left out: its definitions stay out too."""
    values: dict[str, str] = {}
    for spec in sorted(directory.glob("*.spec")):
        text = spec.read_text(errors="replace")
        known: dict[str, str] = {}
        # The first of each: the preamble's, not a heredoc's `Name:` further down.
        for name, value in [*_SPEC_DEFINITION.findall(text), *((n.lower(), v) for n, v in _SPEC_TAG.findall(text))]:
            known.setdefault(name, value)
        for _, placeholder, value in _PLACEHOLDER_SUBSTITUTION.findall(text):
            for _ in range(5):  # definitions naming definitions, a few deep
                value = _MACRO_USE.sub(lambda m: known.get(m.group(1) or m.group(2), m.group(0)), value)
            if "%" not in value:
                values.setdefault(placeholder, value)
    return values


def without_placeholders(text: str) -> str:
    """A macro file less the definitions holding a placeholder (`@@CMAKE_VERSION@@`) that its
    spec fills in when it builds (`sed -e "s|@@VERSION@@|%{version}|"`): keel does not build
    that spec, and a raw placeholder makes a broken or recursive macro (`%ctest@@X@@ %ctest`
    defines `%ctest` as itself). A definition continued over several lines goes whole."""
    kept: list[str] = []
    definition: list[str] = []
    for line in text.splitlines(keepends=True):
        definition.append(line)
        if line.rstrip("\n").endswith("\\"):
            continue
        if not any(_PLACEHOLDER.search(part) for part in definition):
            kept.extend(definition)
        definition = []
    if definition and not any(_PLACEHOLDER.search(part) for part in definition):
        kept.extend(definition)
    return "".join(kept)


# Azure Linux's toolchain manifest: the RPMs its toolchain stage gives the package stage.
TOOLCHAIN_MANIFEST = "toolkit/resources/manifests/package/toolchain_{arch}.txt"


def toolchain_packages(checkout: Path, arch: str) -> list[str]:
    """The package names of the checkout's toolchain manifest (`gcc-13.2.0-7.azl3.x86_64.rpm`
    is gcc), sorted; none if the checkout has no manifest for `arch`."""
    manifest = checkout / TOOLCHAIN_MANIFEST.format(arch=arch)
    if not manifest.is_file():
        return []
    names = set()
    for line in manifest.read_text().splitlines():
        line = line.strip()
        if line.endswith(".rpm") and line.count("-") >= 2:
            names.add(line.rsplit("-", 2)[0])
    return sorted(names)


def azl_build_file(
    dest: str,
    base: str,
    defines: dict[str, str],
    macro_directories: list[str],
    macros: dict[str, str],
    toolchain: list[str] = (),
    manifest: str = "",
    helpers: dict[str, str] = {},
) -> str:
    """azl/BUILD: the stage that is Azure Linux's build root, and `__defaults__` that build
    every imported spec in it."""
    defines = dict(sorted(defines.items()))
    run_check = defines.get("with_check", "0") != "0"
    packages = "".join(f"        {f'{dest}/{d}'!r},\n" for d in macro_directories)
    # Eight names a line: the manifest has hundreds.
    toolchain = list(toolchain)
    toolchain_lines = "".join(
        "        " + " ".join(f"{n!r}," for n in toolchain[i:i + 8]) + "\n" for i in range(0, len(toolchain), 8)
    )
    files = "".join(f"        {f'{MACROS_DIR}/{name}'!r},  # {macros[name]}\n" for name in sorted(macros))
    config_files = "".join(f"        {f'{RPM_CONFIG_DIR}/{path}'!r},  # {helpers[path]}\n" for path in sorted(helpers))
    return f"""# Azure Linux's build root, for the spec directories imported here. Written by
# `./pants azl-import`: import again rather than editing it.
#
# The stage builds Azure Linux's macro packages from their spec directories and installs them
# on {base}, whose rpm reads them as Azure Linux's rpm does, and defines what the toolkit
# defines on its command lines. Its macro files are those of the checkout's other packages,
# whose tools the seed supplies without them (Debian's perl or cmake carry none), less the
# definitions holding a placeholder their spec would fill in (`@@VERSION@@`), and the helper
# scripts those files run that the same directories hold (`/usr/lib/rpm/azl/ocaml_files.py`).
# Where several specs build one package (golang and golang-1.23), a requirement goes to the
# highest version that meets it, as the toolkit resolves it. The toolchain packages are those
# of {manifest or "no toolchain manifest (the checkout has none)"}: the toolkit builds every
# other spec against its toolchain's RPMs, and here the root (its seed) stands in for them.
toolchain_stage(
    name={STAGE_NAME!r},
    base={base!r},
    packages=[
{packages}    ],
    macro_files=[
{files}    ],
    rpm_config_files=[
{config_files}    ],
    defines={defines!r},
    run_check={run_check!r},
    provider_choice="highest-version",
    toolchain_packages=[
{toolchain_lines}    ],
)

# Every rpm_package under this directory is built in that root.
__defaults__({{rpm_package: dict(toolchain="//{dest}:{STAGE_NAME}")}})
"""


async def with_build_requires(
    console: Console,
    subsystem: AzlImportSubsystem,
    rpm: RpmSubsystem,
    checkout: Path,
    dest: str,
    directories: list[SpecDirectory],
) -> list[SpecDirectory]:
    """`directories` and the spec directories their builds need (see build_requires.py),
    after printing why each was added."""
    universe = find_spec_directories(checkout, [], True, subsystem.extended)
    # A named directory of SPECS-EXTENDED is read even without --extended: its own needs count.
    universe += [d for d in directories if d not in universe]
    if set(universe) <= set(directories):
        console.print_stderr("--with-build-requires: every spec directory it would look in is imported already.")
        return directories
    macro_directories = [d.path for d in directories if d.name in subsystem.macro_packages]
    stage_macros = {
        name: macro_text(checkout, name, origin).encode()
        for name, origin in macro_files(checkout, set(macro_directories)).items()
    }
    trees = " and ".join(t for t in SPEC_TREES if any(d.tree == t for d in universe))
    console.print_stderr(
        f"--with-build-requires: reading the specs of {len(universe)} spec directories of {checkout} "
        f"({trees}) with rpmspec, in the root of {subsystem.base}. Pants caches the answers: "
        "only the first import, and specs changed since, take time."
    )
    read = await read_checkout_graph(
        checkout,
        [d.path for d in universe],
        dest,
        subsystem.base,
        subsystem.defines,
        macro_directories,
        stage_macros,
        rpm,
        root_first=subsystem.root_first,
        toolchain_packages=tuple(toolchain_packages(checkout, platform.machine())),
    )
    if read.unreadable:
        logger.warning(
            f"--with-build-requires: rpmspec cannot read {len(read.unreadable)} spec(s) of {checkout} "
            f"in {read.root_description}. What they provide is unknown, so a requirement only they "
            "meet is left to the build root; a named one's requirements are not followed:\n"
            + "\n".join(f"  {read.specs[a]}: {error}" for a, error in read.unreadable.items())
        )
    named_paths = {d.path for d in directories}
    # The macro packages are built by the stage, in its base root, not in the stage's root:
    # what they need is not what a build in the stage installs.
    roots = [a for a in read.specs if read.directory(a) in named_paths - set(macro_directories)]
    imported = [a for a in read.specs if read.directory(a) in named_paths]
    root_provides = read.root_provides
    found = build_requires_closure(
        read.graph, roots, imported, root_provides.meets if root_provides is not None else None
    )
    if found.unreadable_roots:
        logger.warning(
            "--with-build-requires: rpmspec cannot read these named specs, so what their builds "
            "need is not imported (import it by name, or fix the spec): "
            + ", ".join(read.specs[a] for a in found.unreadable_roots)
        )
    if found.ties:
        logger.warning(
            "--with-build-requires: these requirements are met at the same version by two specs, "
            "so neither is imported for them (name the one you mean):\n"
            + "\n".join(f"  {t.message}" for t in found.ties)
        )
    by_path = {d.path: d for d in universe}
    reasons: dict[str, str] = {}
    for need in found.needs:
        directory = read.directory(need.provider.address)
        if directory not in named_paths and directory not in reasons:
            reasons[directory] = describe_need(need, read.graph, read.where)
    named = len(directories) - len(macro_directories)
    left = " (what the root provides left to it)" if subsystem.root_first else ""
    console.print_stdout(
        f"--with-build-requires: {len(reasons)} more spec directories, for the builds of the "
        f"{named} named{left} ({len(read.specs)} specs read, {len(read.unreadable)} unreadable):"
        + "".join(f"\n  {line}" for line in reasons.values())
    )
    return [*directories, *(by_path[d] for d in reasons)]


@goal_rule
async def azl_import(
    console: Console, subsystem: AzlImportSubsystem, workspace: Workspace, rpm: RpmSubsystem
) -> AzlImport:
    if not subsystem.checkout:
        console.print_stderr(
            "azl-import needs `--checkout=PATH`, an Azure Linux checkout (a directory with SPECS/)."
        )
        return AzlImport(exit_code=1)
    checkout = Path(os.path.expanduser(subsystem.checkout)).resolve()
    if not (checkout / "SPECS").is_dir():
        console.print_stderr(f"{checkout} has no SPECS/ directory: `--checkout` must be an Azure Linux checkout.")
        return AzlImport(exit_code=1)
    names = [*subsystem.args]
    if subsystem.names_file:
        for line in Path(subsystem.names_file).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line)
    if subsystem.root_first and not subsystem.with_build_requires:
        console.print_stderr(
            "`--root-first` chooses what `--with-build-requires` imports: add `--with-build-requires`, "
            "or leave `--root-first` out."
        )
        return AzlImport(exit_code=1)
    if not names and not subsystem.all:
        console.print_stderr(
            "Name the spec directories to import (`./pants azl-import --checkout=PATH -- bzip2 "
            "zlib`, or `--names-file=FILE`), or import every one with `--all`."
        )
        return AzlImport(exit_code=1)
    # A macro package the checkout lacks (an older branch) is left out of the stage, said once;
    # a name the user gave must be there.
    present = [m for m in subsystem.macro_packages if any((checkout / t / m).is_dir() for t in SPEC_TREES)]
    absent = [m for m in subsystem.macro_packages if m not in present]
    if absent:
        console.print_stderr(
            f"No spec directory of the macro packages {', '.join(absent)} in {checkout}: the stage "
            "builds without them (`--azl-import-macro-packages`)."
        )
    try:
        directories = find_spec_directories(
            checkout, [*present, *names], subsystem.all, subsystem.extended
        )
    except AzlImportError as e:
        console.print_stderr(str(e))
        return AzlImport(exit_code=1)

    dest = subsystem.dest.strip("/")
    # The "Next:" commands name a directory the user named, not one brought for it.
    last_named = directories[-1]
    if subsystem.with_build_requires:
        directories = await with_build_requires(console, subsystem, rpm, checkout, dest, directories)
    files: list[FileContent] = []
    for directory in directories:
        source = checkout / directory.path
        files.extend(read_tree(source, f"{dest}/{directory.path}"))
        files.append(FileContent(f"{dest}/{directory.path}/BUILD", build_file(source).encode()))
    # Built in the option's order: a later macro package may BuildRequire an earlier one.
    macro_directories = sorted(
        (d.path for d in directories if d.name in subsystem.macro_packages),
        key=lambda path: subsystem.macro_packages.index(path.rsplit("/", 1)[-1]),
    )
    macros = macro_files(checkout, set(macro_directories))
    for name, origin in macros.items():
        files.append(FileContent(f"{dest}/{MACROS_DIR}/{name}", macro_text(checkout, name, origin).encode()))
    helpers = macro_helpers(checkout, macros)
    for path, origin in helpers.items():
        files.append(FileContent(f"{dest}/{RPM_CONFIG_DIR}/{path}", helper_text(checkout, path, origin)))
    arch = platform.machine()
    toolchain = toolchain_packages(checkout, arch)
    manifest = TOOLCHAIN_MANIFEST.format(arch=arch) if toolchain else ""
    build = azl_build_file(
        dest, subsystem.base, subsystem.defines, macro_directories, macros, toolchain, manifest, helpers
    )
    files.append(FileContent(f"{dest}/BUILD", build.encode()))

    # A re-imported directory becomes exactly the checkout's: files it no longer has go.
    for directory in directories:
        shutil.rmtree(Path(dest) / directory.path, ignore_errors=True)
    shutil.rmtree(Path(dest) / MACROS_DIR, ignore_errors=True)
    shutil.rmtree(Path(dest) / RPM_CONFIG_DIR, ignore_errors=True)
    workspace.write_digest(await Get(Digest, CreateDigest(files)))

    from_extended = sum(d.tree == "SPECS-EXTENDED" for d in directories)
    console.print_stdout(
        f"Imported {len(directories)} spec directories from {checkout} into {dest}/ "
        f"({len(directories) - from_extended} from SPECS, {from_extended} from SPECS-EXTENDED), "
        f"with {len(macros)} macro files, {len(helpers)} helper scripts they run and "
        f"{len(toolchain)} toolchain packages; wrote "
        f"{dest}/BUILD (the stage //{dest}:{STAGE_NAME}).\n"
        f"Next: `build-support/source-cache from-host --specs {dest}` fills the source cache, "
        f"`./pants package {dest}/{last_named.path}` builds, "
        f"`./pants rpm-requires {dest}/{last_named.path}` shows what meets its BuildRequires."
    )
    return AzlImport(exit_code=0)


def rules():
    return collect_rules()
