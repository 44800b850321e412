"""Seeding the package stage: RPMs taken from a published keel repository, or a copy of its
manifest, instead of being built, when they were built from what the build would use now.

Every rpm_repository holds `keel-seed.json` next to its `Packages/`:

    {"format": "keel-seed/1",
     "Signatures": {"greet-1.0-1.x86_64.rpm": "<sha256 of the file as published>"},
     "BuiltFrom": {"greet-1.0-1.x86_64.rpm": {"inputs": "<build inputs key>",
                                               "sha256": "<sha256 of the file as built>",
                                               "target": "specs/greet:greet"}}}

`Signatures` are pins in the format of a signatures file (what `toolchain_stage(prebuilt=...)`
and `build-support/source-cache import` read). `BuiltFrom` says what each RPM was built from:
the *build inputs key*, a sha256 over the rpmbuild action keel would run (its command, its
environment with the identity of the host tools, the toolchain root, the spec, the sources and
the BuildRequires RPMs, the last two by sha256), and the RPM's sha256 as rpmbuild wrote it (a
signed repository publishes other bytes: the signature is added to the header). Dependents name
their BuildRequires by the sha256 as built, so a signed seed still seeds them, and a package
whose rebuild gives byte-identical RPMs (a comment in its spec) does not unseed its dependents.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from pants.base.build_environment import get_buildroot
from pants.engine.fs import CreateDigest, Digest, FileContent, FileEntry
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.sources.fetch import fetch_candidates
from rules.sources.signatures import InvalidSignaturesError, parse_signatures
from rules.sources.subsystems import RpmSourcesSubsystem

SEED_MANIFEST = "keel-seed.json"
SEED_FORMAT = "keel-seed/1"
if TYPE_CHECKING:
    from rules.rpm.util_rules.build import BuiltRpms

_READ_SEED = (Path(__file__).parent.parent / "scripts" / "read_seed.py").read_bytes()
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SeedError(Exception):
    pass


@dataclass(frozen=True)
class SeededRpm:
    """One RPM of a seed: what it is and what it was built from."""

    sha256: str  # the file as published
    built_sha256: str  # the file as rpmbuild wrote it
    inputs: str  # the build inputs key of the rpmbuild that wrote it
    target: str  # the rpm_package it was built from, for people reading the manifest


def write_seed_manifest(rpms: Mapping[str, SeededRpm]) -> bytes:
    """keel-seed.json for RPMs by file name; the same RPMs give the same bytes."""
    data = {
        "format": SEED_FORMAT,
        "Signatures": {name: rpm.sha256 for name, rpm in rpms.items()},
        "BuiltFrom": {
            name: {"inputs": rpm.inputs, "sha256": rpm.built_sha256, "target": rpm.target}
            for name, rpm in rpms.items()
        },
    }
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def repository_seed_manifest(built: Iterable[BuiltRpms], files: Iterable[FileEntry]) -> bytes:
    """keel-seed.json of a repository: every RPM of its Packages/ (`files`, as published) and
    what it was built from (the BuiltRpms of the packages it holds)."""
    published = {
        os.path.basename(e.path): e.file_digest.fingerprint for e in files if e.path.startswith("Packages/")
    }
    records = {name: record for b in built for name, record in b.seed_records(published).items()}
    unknown = sorted(set(published) - set(records))
    if unknown:
        raise SeedError(f"keel cannot tell what {', '.join(unknown)} was built from.")
    return write_seed_manifest(records)


def parse_seed_manifest(path: str, content: bytes) -> dict[str, SeededRpm]:
    """{RPM file name: SeededRpm}; one clear error for anything else."""
    fix = (
        f"`[rpm].seed` names the directory of a repository that `./pants package` of an "
        f"rpm_repository wrote (it holds {SEED_MANIFEST}), or a copy of that file; write it again "
        "by packaging the repository, or unset `[rpm].seed` (`--rpm-seed=`) to build everything."
    )
    try:
        data = json.loads(content)
    except ValueError as e:
        raise SeedError(f"The package seed {path} is not valid JSON ({e}). {fix}")
    if not isinstance(data, dict) or data.get("format") != SEED_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise SeedError(
            f"The package seed {path} is not a keel seed manifest: its \"format\" is {found!r}, "
            f"keel reads {SEED_FORMAT!r}. {fix}"
        )
    try:
        pins = parse_signatures(path, content)
    except InvalidSignaturesError as e:
        raise SeedError(f"The package seed is not valid: {e} {fix}")
    built_from = data.get("BuiltFrom")
    if not isinstance(built_from, dict):
        raise SeedError(f'The package seed {path} has no "BuiltFrom" object. {fix}')
    rpms = {}
    for name, sha256 in sorted(pins.items()):
        record = built_from.get(name)
        valid = isinstance(record, dict) and all(
            isinstance(record.get(k), str) and _SHA256.match(record[k]) for k in ("inputs", "sha256")
        )
        if not valid:
            raise SeedError(
                f"The package seed {path} pins {name} but does not say what it was built from "
                f'(expected "BuiltFrom": {{"{name}": {{"inputs": "<sha256>", "sha256": "<sha256>"}}}}, '
                f"got {record!r}): keel cannot tell whether its spec, sources or BuildRequires "
                f"changed since. {fix}"
            )
        rpms[name] = SeededRpm(sha256, record["sha256"], record["inputs"], str(record.get("target", "")))
    unpinned = sorted(set(built_from) - set(pins))
    if unpinned:
        raise SeedError(
            f'The package seed {path} says what {", ".join(unpinned)} was built from, but pins no '
            f'sha256 for it under "Signatures". {fix}'
        )
    return rpms


def build_inputs_key(process: Process) -> str:
    """A sha256 over what a Process is keyed by in Pants' cache (its command, environment,
    input digests and outputs); not its description, level or named caches."""

    def digest(d: Digest) -> list:
        return [d.fingerprint, d.serialized_bytes_length]

    record = {
        "argv": list(process.argv),
        "env": dict(process.env),
        "input": digest(process.input_digest),
        "immutable": {path: digest(d) for path, d in process.immutable_input_digests.items()},
        "working_directory": process.working_directory,
        "output_files": sorted(process.output_files),
        "output_directories": sorted(process.output_directories),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PackageSeed:
    """`[rpm].seed`, read: no seed when `location` is empty."""

    location: str  # as the option says, for messages
    manifest: str  # the manifest's path or URL
    packages_dir: str  # where the repository keeps its RPMs (path or URL)
    rpms: FrozenDict[str, SeededRpm]

    def candidates(self, filename: str, sha256: str, sources: RpmSourcesSubsystem) -> tuple[str, ...]:
        """Where an RPM of the seed may be: the repository's Packages/, then, like any pinned
        file, the local source cache and the mirrors."""
        first = (
            f"{self.packages_dir}/{filename}"
            if "://" in self.packages_dir
            else os.path.join(self.packages_dir, filename)
        )
        return (first, *fetch_candidates(filename, sha256, None, sources))


def seed_locations(seed: str) -> tuple[str, str]:
    """(manifest, Packages directory) of `[rpm].seed`: a repository's directory or URL, or a
    manifest file (`.json`) with the repository's Packages/ next to it."""
    if "://" not in seed:
        seed = os.path.expanduser(seed)
        if not os.path.isabs(seed):
            seed = os.path.join(get_buildroot(), seed)
        if seed.endswith(".json"):
            return seed, os.path.join(os.path.dirname(seed), "Packages")
        return os.path.join(seed, SEED_MANIFEST), os.path.join(seed, "Packages")
    base = seed.rstrip("/")
    if base.endswith(".json"):
        return base, f"{base.rsplit('/', 1)[0]}/Packages"
    return f"{base}/{SEED_MANIFEST}", f"{base}/Packages"


@rule(desc="Read the package seed", level=LogLevel.DEBUG)
async def package_seed(rpm: RpmSubsystem, host: HostSettings) -> PackageSeed:
    if not rpm.seed:
        return PackageSeed("", "", "", FrozenDict())
    manifest, packages_dir = seed_locations(rpm.seed)
    tools, script = await MultiGet(
        Get(HostTools, HostToolsRequest(("python3",), host.search_path)),
        Get(Digest, CreateDigest([FileContent("read_seed.py", _READ_SEED)])),
    )
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=(tools["python3"], "read_seed.py", manifest),
            input_digest=script,
            env={"KEEL_HOST_TOOLS": tools.identity},
            description=f"Read the package seed {manifest}",
            level=LogLevel.DEBUG,
            # Outside the sandbox, and it may change between runs: read it again each run.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    reason = result.stderr.decode(errors="replace").strip()
    if result.exit_code == 2:
        raise SeedError(
            f"`[rpm].seed` is {rpm.seed!r}, but there is no {manifest} ({reason}). Name the "
            f"directory of a repository that `./pants package` of an rpm_repository wrote (it "
            f"holds {SEED_MANIFEST} and Packages/), or a copy of its {SEED_MANIFEST}; or unset "
            "`[rpm].seed` (`--rpm-seed=`) to build every package."
        )
    if result.exit_code != 0:
        raise SeedError(f"`[rpm].seed` is {rpm.seed!r}, but {manifest} cannot be read: {reason}")
    rpms = parse_seed_manifest(manifest, result.stdout)
    return PackageSeed(rpm.seed, manifest, packages_dir, FrozenDict(rpms))


def rules():
    return collect_rules()
