"""Which Debian package supplies an RPM requirement, read from Debian's own package metadata.

A root is made of Debian packages, and rules/toolchain/scripts/root_provides.sh names what it
supplies the way RPM distributions do, from the files of the packages installed in it: a perl
module `Test/Exception.pm` is `perl(Test::Exception)` and `perl-Test-Exception`, a `-dev`
package is `NAME-devel`, `/usr/bin/doxygen` is itself. When a spec BuildRequires something
nothing in the root supplies, this module answers the reverse question by the same rules: which
Debian binary package would supply it. The files are not on the machine, so the rules are
applied to what the distribution publishes about every package: its Contents index (the files of
each package) and its Packages index (names, source packages, Provides), which
`seed_apt.sh index` fetches through the host's apt sources.

The answer is a guess by convention, like root_provides.sh's names: once the package is in the
root, root_provides.sh says what it really supplies, and rpmbuild's own check of the
BuildRequires has the last word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping

# The line of `seed_apt.sh index`'s output between the Packages stanzas and the Contents lines.
CONTENTS_SEPARATOR = "#contents"

# Debian's multiarch triplets (x86_64-linux-gnu, aarch64-linux-gnu, arm-linux-gnueabihf).
_TRIPLET = r"[a-z0-9_]+-linux-gnu[a-z0-9_]*"

# The Contents paths a rule of `DebianIndex.find` can match; the parser keeps only these, as
# Debian 12's Contents hold 7 million lines and most are documentation, icons and sources.
_KEPT = re.compile(
    # executables, by path and by name: usr/bin/x, usr/sbin/x, bin/x, sbin/x
    r"(?P<exe>(?:usr/)?s?bin/[^/]+)"
    # perl modules, relative to a directory of perl's @INC on Debian
    rf"|(?:usr/share/perl5|usr/share/perl/[0-9.]+|usr/lib/{_TRIPLET}/perl5?/[0-9.]+"
    rf"|usr/lib/{_TRIPLET}/perl-base)/(?P<pm>.+\.pm)"
    # pkg-config files, where pkg-config looks
    rf"|(?:usr/lib/(?:{_TRIPLET}/)?|usr/share/)pkgconfig/(?P<pc>[^/]+)\.pc"
    # python distributions: a dist-info or egg-info directory (or an egg-info file) names one
    r"|(?P<dist>usr/lib/python3/dist-packages/(?P<project>[^/]+)\.(?:dist|egg)-info)(?:/.*)?"
    # shared libraries by soname, in the directories the dynamic linker searches
    rf"|(?:usr/)?lib/(?:{_TRIPLET}/)?(?P<so>lib[^/]*\.so\.[^/]+)"
    # CMake package configuration files, where find_package() looks
    rf"|(?:usr/lib/(?:{_TRIPLET}/)?cmake|usr/share/cmake)/.+/"
    r"(?P<cmake>[^/]+(?:Config|-config)\.cmake)"
    # TeX files, by name
    r"|usr/share/(?:texlive|texmf)/.+/(?P<tex>[^/]+)"
)
# A cheap first test of a Contents line, before _KEPT's: every path _KEPT matches starts so.
_KEPT_PREFIXES = (
    "usr/bin/", "usr/sbin/", "bin/", "sbin/", "lib/", "usr/lib/", "usr/share/perl",
    "usr/share/pkgconfig/", "usr/share/cmake/", "usr/share/texlive/", "usr/share/texmf/",
)

# An extended regular expression (POSIX, as awk reads it; also Python's) matching at least the
# Contents lines _KEPT keeps, given to `seed_apt.sh index` so that it prints 340 thousand of
# Debian 12's 7 million lines. Kept in step with _KEPT: debian_index_test.py checks it keeps
# every line the parser would.
CONTENTS_PATTERN = (
    "^((usr/)?s?bin/[^/ \t]+[ \t]"
    "|(usr/)?lib/([^/ \t]+/)?lib[^/]*\\.so\\."
    "|usr/(share|lib/[^/ \t]+)/perl"
    "|usr/(lib/([^/ \t]+/)?|share/)(pkgconfig|cmake)/"
    "|usr/lib/python3/dist-packages/[^/]+\\.(dist|egg)-info"
    "|usr/share/(texlive|texmf)/)"
)

_PERL_MODULE = re.compile(r"perl\(([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z0-9_]+)*)\)")
_PERL_PACKAGE = re.compile(r"perl-([A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)")
_PKGCONFIG = re.compile(r"pkgconfig\(([^()\s]+)\)")
_PYTHON_DIST = re.compile(r"python3(?:\.\d+)?dist\(([^()\[\]\s]+)\)")
# elfdeps: `libz.so.1()(64bit)`, `libc.so.6(GLIBC_2.34)(64bit)`, and without `(64bit)` on
# 32-bit systems.
_SONAME = re.compile(r"(lib[^()/\s]*\.so(?:\.[^()/\s]+)?)(?:\([^()]*\))*")
_CMAKE = re.compile(r"cmake\(([^()\s]+)\)")
_TEX = re.compile(r"tex\(([^()/\s]+)\)")
# root_provides.sh's version suffix of a package or source name (libgcrypt20, glib2.0, slang2).
# A version ends a name in short numbers (libgcrypt20, glib2.0, lua5.4, gtk-3); a long number is
# part of the name itself (libbase16384, whose -dev package no ocaml-base-devel wants).
_VERSION_SUFFIX = re.compile(r"(?<![0-9.])-?[0-9]{1,3}(?:\.[0-9]{1,3})*$")
# Development packages of another ABI (lib32z1-dev, libx32ncurses-dev): never the answer for
# the native one when a package of the same source is.
_MULTILIB = ("lib32", "libx32", "lib64")


@dataclass(frozen=True)
class StandIn:
    """The Debian binary package that would supply `requirement`, and why it was chosen."""

    requirement: str
    package: str
    why: str


def _normalized_project(name: str) -> str:
    """A python project name as pythondistdeps.py writes it in python3dist() (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _unversioned(name: str) -> str:
    return _VERSION_SUFFIX.sub("", name)


def _version_of(name: str) -> str:
    """The version suffix of a name, written the same whatever its form: glib2.0, glib2 and
    gtk-2 all have version 2."""
    match = _VERSION_SUFFIX.search(name)
    version = match.group(0).lstrip("-") if match else ""
    while version.endswith(".0"):
        version = version[:-2]
    return version


def _newest_first(version: str) -> tuple[int, ...]:
    """A sort key putting higher versions (5.4 before 5.1) first."""
    return tuple(-int(part) for part in re.findall(r"[0-9]+", version))


def _sorted_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class DebianIndex:
    """What the rules of `find` read from Debian's Contents and Packages indexes.

    Contents paths have no leading slash, as in the index. Each name index maps a name to the
    paths that carry it, and `files` maps each of those paths to the packages that ship it.
    """

    files: Mapping[str, tuple[str, ...]]  # path -> binary packages
    perl_modules: Mapping[str, tuple[str, ...]]  # "Test/Exception.pm" -> paths
    pkgconfig: Mapping[str, tuple[str, ...]]  # "glib-2.0" -> paths of glib-2.0.pc
    python_projects: Mapping[str, tuple[str, ...]]  # normalized project -> dist-info paths
    sonames: Mapping[str, tuple[str, ...]]  # "libz.so.1" -> paths
    cmake_configs: Mapping[str, tuple[str, ...]]  # "FooConfig.cmake" -> paths
    tex_files: Mapping[str, tuple[str, ...]]  # "foo.sty" -> paths
    packages: frozenset[str]  # every binary package of the Packages index
    sources: Mapping[str, str]  # binary package -> its source package
    binaries: Mapping[str, tuple[str, ...]]  # source package -> its binary packages
    provided_by: Mapping[str, tuple[str, ...]]  # virtual package -> the packages providing it
    versions: Mapping[str, str]  # binary package -> version (the last stanza read)

    @classmethod
    def parse(cls, contents: str, packages: str) -> "DebianIndex":
        """Read Contents-index text (`PATH  SECTION/PACKAGE[,SECTION/PACKAGE...]` lines) and
        Packages-index stanzas; either may be several indexes one after the other."""
        return cls._parse(contents, 0, packages)

    @classmethod
    def _parse(cls, contents: str, start: int, packages: str) -> "DebianIndex":
        """parse() of the Contents lines from offset `start` of `contents` on, which spares
        parse_index_output a copy of them."""
        files: dict[str, tuple[str, ...]] = {}
        names: dict[str, dict[str, set[str]]] = {
            kind: {} for kind in ("pm", "pc", "project", "so", "cmake", "tex")
        }
        owners_of: dict[str, tuple[str, ...]] = {}  # the package column, parsed once
        match_kept = _KEPT.fullmatch
        # An optional free-text header ending in a `FILE  LOCATION` line needs no skipping: none
        # of its lines starts like a kept path.
        for line in _lines(contents, start):
            if not line.startswith(_KEPT_PREFIXES):
                continue
            fields = line.rsplit(None, 1)  # the path may hold spaces, the package column not
            if len(fields) != 2:
                continue
            path, column = fields
            match = match_kept(path)
            if match is None:
                continue
            owners = owners_of.get(column)
            if owners is None:
                owners = owners_of[column] = _sorted_tuple(
                    entry.rpartition("/")[2]
                    for entry in column.split(",")
                    if entry and not entry.endswith("-dbgsym")
                )
            if not owners:
                continue
            key_kind = next(
                (kind for kind in ("pm", "pc", "project", "so", "cmake", "tex") if match[kind]),
                None,
            )
            if key_kind == "project":
                # One entry for the directory, whatever files it holds.
                path = match["dist"]
                key = _normalized_project(match["project"].split("-", 1)[0])
            elif key_kind is not None:
                key = match[key_kind]
            known = files.get(path)
            # The same path in two indexes (a release and its updates): every package counts.
            if known is not None and known != owners:
                owners = _sorted_tuple(known + owners)
            files[path] = owners
            if key_kind is not None:
                names[key_kind].setdefault(key, set()).add(path)

        def frozen(kind: str) -> dict[str, tuple[str, ...]]:
            return {key: tuple(sorted(paths)) for key, paths in names[kind].items()}

        binary_names: set[str] = set()
        sources: dict[str, str] = {}
        versions: dict[str, str] = {}
        providers: dict[str, set[str]] = {}
        for stanza in _stanzas(packages):
            name = stanza.get("package", "")
            if not name or name.endswith("-dbgsym"):
                continue
            binary_names.add(name)
            # `Source: glib2.0 (2.74.6-2)` when the binary's version differs from the source's.
            sources[name] = stanza.get("source", "").split(" ", 1)[0] or name
            if "version" in stanza:
                versions[name] = stanza["version"]
            for provided in stanza.get("provides", "").split(","):
                provided = provided.strip().split(" ", 1)[0]
                if provided:
                    providers.setdefault(provided, set()).add(name)
        binaries: dict[str, set[str]] = {}
        for binary, source in sources.items():
            binaries.setdefault(source, set()).add(binary)

        return cls(
            files=files,
            perl_modules=frozen("pm"),
            pkgconfig=frozen("pc"),
            python_projects=frozen("project"),
            sonames=frozen("so"),
            cmake_configs=frozen("cmake"),
            tex_files=frozen("tex"),
            packages=frozenset(binary_names),
            sources=sources,
            binaries={source: _sorted_tuple(members) for source, members in binaries.items()},
            provided_by={virtual: _sorted_tuple(members) for virtual, members in providers.items()},
            versions=versions,
        )

    def find(self, requirement: str) -> StandIn | None:
        """The Debian binary package that supplies `requirement` (a bare RPM capability name,
        no version condition) by root_provides.sh's rules, or None if no rule finds one."""
        name = requirement.strip()
        if match := _PERL_MODULE.fullmatch(name):
            return self._perl(requirement, match.group(1))
        if match := _PKGCONFIG.fullmatch(name):
            return self._pkgconfig(requirement, match.group(1))
        if match := _PYTHON_DIST.fullmatch(name):
            return self._python(requirement, match.group(1))
        if match := _CMAKE.fullmatch(name):
            return self._cmake(requirement, match.group(1))
        if match := _TEX.fullmatch(name):
            return self._tex(requirement, match.group(1))
        if match := _SONAME.fullmatch(name):
            return self._soname(requirement, match.group(1))
        if "(" in name or not name:
            # perl(:VERSION), perl(:MODULE_COMPAT_5.38.0), font(x), ...: no rule reads these.
            return None
        if name.startswith("/"):
            return self._path(requirement, name)
        if name in self.packages:
            return StandIn(requirement, name, "is a Debian package of that name")
        if name.endswith("-devel"):
            return self._devel(requirement, name[: -len("-devel")])
        if match := _PERL_PACKAGE.fullmatch(name):
            return self._perl_package(requirement, match.group(1))
        if name.startswith("python3-"):
            return self._python(requirement, name[len("python3-"):])
        if name.startswith("python-") and not name.endswith("-macros"):
            # Fedora's unversioned name for the python 3 package (`python-flit-core`), which
            # Debian has no counterpart of under `python-`.
            return self._python(requirement, name[len("python-"):])
        return self._plain(requirement, name)

    # -- The rules, one per kind of name ---------------------------------------------------------

    def _owner(
        self, requirement: str, paths: Iterable[str], preferred: Callable[[str], int]
    ) -> StandIn | None:
        """The package shipping one of `paths`: lowest `preferred` rank first (0 for a package
        named by the rule of that kind), then alphabetical."""
        candidates = [(package, path) for path in paths for package in self.files.get(path, ())]
        if not candidates:
            return None
        package, path = min(candidates, key=lambda c: (preferred(c[0]), c[0], c[1]))
        return StandIn(requirement, package, f"ships /{path}")

    def _perl(self, requirement: str, module: str) -> StandIn | None:
        # Debian names a module's package libMODULE-NAME-perl (libtest-exception-perl).
        debian = "lib" + module.replace("::", "-").lower() + "-perl"
        found = self._owner(
            requirement,
            self.perl_modules.get(module.replace("::", "/") + ".pm", ()),
            lambda package: 0 if package == debian else 1,
        )
        if found is None and debian in self.packages:
            found = StandIn(requirement, debian, f"is Debian's name for the perl module {module}")
        return found

    def _perl_package(self, requirement: str, name: str) -> StandIn | None:
        # perl-Foo-Bar is the package of perl(Foo::Bar), as root_provides.sh names it.
        found = self._perl(requirement, name.replace("-", "::"))
        # A distribution named after its Debian package (perl-libwww-perl is libwww-perl).
        if found is None and name.lower().endswith("-perl") and name.lower() in self.packages:
            found = StandIn(requirement, name.lower(), "is a Debian perl package of that name")
        return found

    def _pkgconfig(self, requirement: str, name: str) -> StandIn | None:
        conventional = (f"lib{name}-dev", f"{name}-dev")
        return self._owner(
            requirement,
            self.pkgconfig.get(name, ()),
            lambda package: 0 if package in conventional else 1 if package.endswith("-dev") else 2,
        )

    def _python(self, requirement: str, project: str) -> StandIn | None:
        project = _normalized_project(project)
        debian = f"python3-{project}"
        if debian in self.packages:
            why = f"is Debian's package of the python project {project}"
            return StandIn(requirement, debian, why)
        return self._owner(
            requirement,
            self.python_projects.get(project, ()),
            lambda package: 0 if package.startswith("python3-") else 1,
        )

    def _soname(self, requirement: str, soname: str) -> StandIn | None:
        stem = soname.split(".so", 1)[0]  # libfoo: Debian names the package libfoo1 or so
        return self._owner(
            requirement,
            self.sonames.get(soname, ()),
            lambda package: 0 if package.startswith(stem) and not package.endswith("-dev") else 1,
        )

    def _cmake(self, requirement: str, name: str) -> StandIn | None:
        # find_package(Foo) reads FooConfig.cmake or foo-config.cmake.
        paths = self.cmake_configs.get(f"{name}Config.cmake", ()) + self.cmake_configs.get(
            f"{name.lower()}-config.cmake", ()
        )
        return self._owner(requirement, paths, lambda package: 0 if package.endswith("-dev") else 1)

    def _tex(self, requirement: str, name: str) -> StandIn | None:
        return self._owner(
            requirement,
            self.tex_files.get(name, ()),
            lambda package: 0 if package.startswith("texlive-") else 1,
        )

    def _path(self, requirement: str, path: str) -> StandIn | None:
        relative = path.lstrip("/")
        candidates = [relative]
        # Merged /usr: /bin/x is /usr/bin/x, and packages still ship some files under either.
        for short, long in (("bin/", "usr/bin/"), ("sbin/", "usr/sbin/")):
            if relative.startswith(short):
                candidates.append(long + relative[len(short):])
            elif relative.startswith(long):
                candidates.append(short + relative[len(long):])
        base = relative.rsplit("/", 1)[-1]
        for candidate in candidates:
            if found := self._owner(requirement, (candidate,), lambda p: 0 if p == base else 1):
                return found
        return None

    def _plain(self, requirement: str, name: str) -> StandIn | None:
        # An executable of that name (the package of /usr/bin/x), then a virtual package only
        # one package provides. Nothing else: RPM's x-libs or x-tools are no Debian name.
        for directory in ("usr/bin/", "usr/sbin/", "bin/", "sbin/"):
            if found := self._owner(
                requirement, (directory + name,), lambda package: 0 if package == name else 1
            ):
                return found
        providers = self.provided_by.get(name, ())
        if len(providers) == 1:
            return StandIn(requirement, providers[0], f"provides {name}")
        return None

    def _devel(self, requirement: str, name: str) -> StandIn | None:
        """NAME-devel, as root_provides.sh names a -dev package: under its own name less -dev,
        its source package's name, each also without a version suffix, and its .pc files."""
        names = list(dict.fromkeys((name, name.lower())))  # Debian's names are lowercase
        # RPM distributions split a library off as NAME-libs or NAME-lib (pulseaudio-libs,
        # alsa-lib); Debian's -dev package is the project's.
        for suffix in ("-libs", "-lib"):
            if name.endswith(suffix) and len(name) > len(suffix):
                names += dict.fromkeys((name[: -len(suffix)], name[: -len(suffix)].lower()))
                break
        if found := self._devel_of(requirement, names):
            return found
        # PROJECT-PART-devel, a part of a project packaged apart (elfutils-libelf-devel,
        # mesa-libGL-devel, libtool-ltdl-devel): PART-devel, once the whole name found nothing.
        project, _, part = name.partition("-")
        if part and (project in self.binaries or project in self.packages):
            return self._devel_of(requirement, list(dict.fromkeys((part, part.lower()))))
        return None

    def _devel_of(self, requirement: str, names: list[str]) -> StandIn | None:
        """The -dev package for the first of `names` (one NAME as it may be written) that a
        rule finds, the rules in order of how sure they are."""
        pc_names = {n for base in names for n in (base, f"lib{base}")}

        def ships_pc(package: str) -> bool:
            return any(
                package in self.files.get(path, ())
                for pc in pc_names
                for path in self.pkgconfig.get(pc, ())
            )

        def rank(package: str) -> tuple[int, int, int, str]:
            # Among several -dev packages of one source: the one shipping NAME.pc, then the
            # one named after NAME, then the native ABI's, then alphabetical.
            named = any(package.startswith((base, f"lib{base}")) for base in names)
            return (0 if ships_pc(package) else 1, 0 if named else 1,
                    1 if package.startswith(_MULTILIB) else 0, package)

        def dev_of_source(source: str) -> str | None:
            devs = [b for b in self.binaries.get(source, ()) if b.endswith("-dev")]
            return min(devs, key=rank) if devs else None

        def dev_package(candidate: str) -> str | None:
            if candidate in self.packages:
                return candidate
            # A virtual -dev package one package provides (libcairo-dev: libcairo2-dev).
            providers = self.provided_by.get(candidate, ())
            return providers[0] if len(providers) == 1 else None

        for base in names:  # NAME-dev
            if found := dev_package(f"{base}-dev"):
                return StandIn(requirement, found, f"is the -dev package of {base}")
        for base in names:  # libNAME-dev
            if found := dev_package(f"lib{base}-dev"):
                return StandIn(requirement, found, f"is the -dev package of lib{base}")
        for base in names:  # libuuid-devel: uuid-dev
            if base.startswith("lib") and (found := dev_package(f"{base[3:]}-dev")):
                return StandIn(requirement, found, f"is the -dev package of {base}")
        for base in names:  # the source package NAME's, or the source package of package NAME
            own = self.sources.get(base)
            ways = ((base, f"the Debian source {base}"), (own, f"{base}'s source {own}"))
            for source, how in ways:
                if source and (found := dev_of_source(source)):
                    return StandIn(requirement, found, f"is the -dev package of {how}")
        # The package shipping NAME.pc (nss-devel: nss.pc is in libnss3-dev).
        pcs = [path for pc in sorted(pc_names) for path in self.pkgconfig.get(pc, ())]
        if found := self._owner(requirement, pcs, lambda p: 0 if p.endswith("-dev") else 1):
            return found
        # Version suffixes: libgcrypt-devel is libgcrypt20-dev, glib2-devel libglib2.0-dev,
        # gtk3-devel libgtk-3-dev. A versioned NAME takes only a -dev package of its version; an
        # unversioned one the newest (lua-devel: liblua5.4-dev, not liblua5.1-dev).
        for base in names:
            unversioned, version = _unversioned(base), _version_of(base)
            if not unversioned:
                continue
            wanted = {unversioned, f"lib{unversioned}"}
            matches = [
                package
                for package in self._dev_packages_containing(unversioned)
                if _unversioned(package[:-4]) in wanted
                and (not version or _version_of(package[:-4]) == version)
            ]
            if matches:
                found = min(
                    matches,
                    key=lambda p: (rank(p)[0], _newest_first(_version_of(p[:-4])), rank(p)),
                )
                why = f"is the -dev package of {base}, by version suffix"
                return StandIn(requirement, found, why)
        # The source package of the package shipping the executable NAME (xz-devel: /usr/bin/xz
        # is in xz-utils, whose source also builds liblzma-dev).
        for base in names:
            for directory in ("usr/bin/", "bin/"):
                for package in self.files.get(directory + base, ()):
                    source = self.sources.get(package)
                    if source and (found := dev_of_source(source)):
                        return StandIn(
                            requirement, found,
                            f"is the -dev package of {source}, the source of /{directory}{base}",
                        )
        return None

    def _dev_packages_containing(self, text: str) -> list[str]:
        # A scan of the binary names: only for -devel names that every cheaper rule missed.
        return [p for p in self.packages if p.endswith("-dev") and text in p]


def _lines(text: str, start: int = 0, chunk: int = 1 << 20) -> Iterator[str]:
    """The lines of `text` from offset `start` on, split a megabyte at a time: the whole
    Contents index (670 MB for Debian 12) is never held a second time as a list of lines, nor
    as io.StringIO's four bytes a character."""
    while start < len(text):
        end = text.find("\n", start + chunk)
        if end < 0:
            end = len(text)
        yield from text[start:end].splitlines()
        start = end + 1


def _stanzas(text: str) -> Iterable[dict[str, str]]:
    """deb822 stanzas as field (lowercase) -> value; continuation lines joined by spaces.

    A `Package:` line also starts a stanza, so that two indexes run together without a blank
    line between them still read right.
    """
    stanza: dict[str, str] = {}
    field = ""
    for line in _lines(text):
        if line[:1] in (" ", "\t"):
            if field and line.strip():
                stanza[field] += " " + line.strip()
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza, field = {}, ""
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        field = key.strip().lower()
        if field == "package" and "package" in stanza:
            yield stanza
            stanza = {}
        stanza[field] = value.strip()
    if stanza:
        yield stanza


def parse_index_output(stdout: str) -> DebianIndex:
    """The index `seed_apt.sh index CONTENTS_PATTERN` printed: Packages stanzas, a `#contents`
    line, Contents lines."""
    marker = f"{CONTENTS_SEPARATOR}\n"
    at = 0 if stdout.startswith(marker) else stdout.find(f"\n{marker}") + 1
    if at == 0 and not stdout.startswith(marker):
        raise ValueError(
            f"Not the output of `seed_apt.sh index`: it has no `{CONTENTS_SEPARATOR}` line "
            "between the Packages stanzas and the Contents lines."
        )
    return DebianIndex._parse(stdout, at + len(marker), stdout[:at])
