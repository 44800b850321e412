"""What is already published, and the check that no RPM is published twice with other bytes.

A client that has seen an RPM's sha256 in a repository's metadata refuses a file of the same
name with other bytes ("checksum doesn't match"), and mirrors keep serving the old one. So an
RPM whose name, version, release and arch (NVRA) are published is either the same bytes, or a
new Release of its spec.

A published directory is read through its metadata (repodata/repomd.xml -> the primary
metadata createrepo_c wrote), not through its RPM files: primary.xml holds exactly the sha256
that clients have cached and compare downloads against; it names each package by the NEVRA of
its header, not by a file name that could be anything; and a CI job needs to fetch only
`repodata/` (kilobytes) from the server, not every RPM. Epochs are left out of the comparison:
an RPM's file name, which clients and mirrors store it under, has none.
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from pants.engine.fs import Digest, DigestContents
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.rpm.util_rules.seed import SEED_FORMAT

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# name-[epoch:]version-release.arch, as in a NEVRA or an RPM file name without `.rpm`.
_NEVRA = re.compile(r"^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-]+)\.(?P<arch>[^.-]+)$")


class PublishedError(Exception):
    pass


@dataclass(frozen=True)
class PublishedRpm:
    nvra: str  # name-version-release.arch
    sha256: str
    where: str  # the location that records it, for messages


@dataclass(frozen=True)
class PublishedRequest:
    locations: tuple[str, ...]  # absolute paths: repository directories or .json manifests
    origin: str  # the option or field that named them, for messages


@dataclass(frozen=True)
class Published:
    rpms: tuple[PublishedRpm, ...]


def nvra(key: str) -> str | None:
    """`name-version-release.arch` of an RPM file name (a path, `.rpm` or not) or a NEVRA;
    None when `key` is neither."""
    base = os.path.basename(key)
    match = _NEVRA.match(base[: -len(".rpm")] if base.endswith(".rpm") else base)
    if not match:
        return None
    return f"{match['name']}-{match['version']}-{match['release']}.{match['arch']}"


def _local(tag: str) -> str:
    # createrepo_c's elements are namespaced; only their local names matter here.
    return tag.rsplit("}", 1)[-1]


def primary_location(repomd: bytes, where: str) -> str:
    """The href of the primary metadata in repomd.xml."""
    try:
        root = ET.fromstring(repomd)
    except ET.ParseError as e:
        raise PublishedError(f"{where}: repodata/repomd.xml is not valid XML ({e}).") from e
    for data in root:
        if _local(data.tag) == "data" and data.get("type") == "primary":
            for child in data:
                if _local(child.tag) == "location" and child.get("href"):
                    return child.get("href")
    raise PublishedError(f"{where}: repodata/repomd.xml names no primary metadata (a `data` of type `primary`).")


def decompress(href: str, data: bytes, where: str) -> bytes:
    """primary.xml as createrepo_c may compress it (zstd is undone while reading the file)."""
    try:
        if href.endswith(".gz"):
            return gzip.decompress(data)
        if href.endswith(".bz2"):
            return bz2.decompress(data)
        if href.endswith(".xz"):
            return lzma.decompress(data)
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise PublishedError(f"{where}: {href} cannot be decompressed ({e}).") from e
    return data


def parse_primary(xml: bytes, where: str) -> list[PublishedRpm]:
    """Each package of a primary.xml: its NVRA and sha256."""
    rpms = []
    try:
        for _, element in ET.iterparse(io.BytesIO(xml)):
            if _local(element.tag) != "package":
                continue
            fields = {_local(child.tag): child for child in element}
            version, checksum = fields.get("version"), fields.get("checksum")
            if version is None or checksum is None or "name" not in fields or "arch" not in fields:
                raise PublishedError(f"{where}: a package of the primary metadata lacks name, arch, version or checksum.")
            if checksum.get("type") != "sha256":
                raise PublishedError(
                    f"{where}: the primary metadata records {checksum.get('type')} checksums, and keel "
                    "compares sha256: give a JSON manifest of sha256 instead, or re-make the "
                    "metadata with createrepo_c's default checksum (sha256)."
                )
            key = f"{fields['name'].text}-{version.get('ver')}-{version.get('rel')}.{fields['arch'].text}"
            rpms.append(PublishedRpm(key, (checksum.text or "").strip().lower(), where))
            element.clear()
    except ET.ParseError as e:
        raise PublishedError(f"{where}: the primary metadata is not valid XML ({e}).") from e
    return rpms


def parse_manifest(text: bytes, where: str) -> list[PublishedRpm]:
    """A JSON object: RPM file name or NEVRA -> sha256; or a keel repository's keel-seed.json,
    whose `Signatures` are that (the sha256 of each RPM as published)."""
    try:
        manifest = json.loads(text)
    except ValueError as e:
        raise PublishedError(f"{where} is not valid JSON ({e}).") from e
    if isinstance(manifest, dict) and manifest.get("format") == SEED_FORMAT:
        manifest = manifest.get("Signatures")
    if not isinstance(manifest, dict):
        raise PublishedError(f"{where}: expected a JSON object mapping RPM file names or NEVRAs to sha256.")
    rpms = []
    for key, sha256 in manifest.items():
        name = nvra(key)
        if name is None:
            raise PublishedError(
                f"{where}: {key!r} is neither an RPM file name (`foo-1.0-1.x86_64.rpm`) nor a "
                "NEVRA (`foo-0:1.0-1.x86_64`)."
            )
        if not isinstance(sha256, str) or not _SHA256.match(sha256.lower()):
            raise PublishedError(f"{where}: the sha256 of {key!r} is {sha256!r}, not 64 hex digits.")
        rpms.append(PublishedRpm(name, sha256.lower(), where))
    return rpms


@dataclass(frozen=True)
class Conflict:
    rpm: str  # the new RPM's file name
    new_sha256: str
    published: PublishedRpm


def conflicts(published: Iterable[PublishedRpm], new: Mapping[str, str]) -> list[Conflict]:
    """The new RPMs (file name -> sha256) whose NVRA is published with other bytes."""
    by_nvra: dict[str, list[PublishedRpm]] = defaultdict(list)
    for rpm in published:
        by_nvra[rpm.nvra].append(rpm)
    found = []
    for rpm_file, sha256 in sorted(new.items()):
        for old in by_nvra.get(nvra(rpm_file) or "", ()):
            if old.sha256 != sha256:
                found.append(Conflict(os.path.basename(rpm_file), sha256, old))
    return found


def conflict_message(target: str, found: list[Conflict], spec_of: Mapping[str, str]) -> str:
    """One error for every conflict: the RPM, both sha256, the spec whose Release to bump."""
    lines = [
        f"rpm_repository {target} would publish {len(found)} RPM(s) whose name-version-release is "
        "already published with other bytes. Clients that have the published metadata would "
        "refuse them (\"checksum doesn't match\"). Bump the Release of each spec below (or build "
        "the published bytes again):"
    ]
    for c in found:
        spec = spec_of.get(c.rpm, "its spec")
        lines.append(
            f"  {c.rpm}: published sha256 {c.published.sha256} ({c.published.where}), new sha256 "
            f"{c.new_sha256}: bump the Release in {spec}"
        )
    return "\n".join(lines)


def resolve_locations(paths: Iterable[str], base: str) -> tuple[str, ...]:
    """Absolute paths; relative ones are relative to `base`, `~` is the user's home."""
    return tuple(os.path.normpath(os.path.join(base, os.path.expanduser(p))) for p in paths)


# Copies one file of the published location into the sandbox; zstd-compressed metadata is
# decompressed on the way (Python 3.9 has no zstd; the other compressions are undone in Python).
_READ = 'case "$1" in *.zst) zstd -q -d -c -- "$1" > published ;; *) cp -- "$1" published ;; esac'


async def _read(path: str, tools: HostTools, host: HostSettings, origin: str, what: str) -> bytes:
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=(tools["sh"], "-c", _READ, "sh", path),
            env={"PATH": host.path_env, "KEEL_HOST_TOOLS": tools.identity},
            output_files=("published",),
            description=f"Read {path}",
            level=LogLevel.DEBUG,
            # Outside the workspace, and changed by every publication: read again each run.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    if result.exit_code != 0:
        raise PublishedError(
            f"{origin} names {what}, which cannot be read: "
            f"{result.stderr.decode(errors='replace').strip()}. Give a directory holding the "
            "published repository's repodata/, or a .json file mapping RPM file names to sha256."
        )
    contents = await Get(DigestContents, Digest, result.output_digest)
    return contents[0].content


@rule(desc="Read what is already published", level=LogLevel.DEBUG)
async def read_published(request: PublishedRequest, host: HostSettings) -> Published:
    if not request.locations:
        return Published(())
    tools = await Get(HostTools, HostToolsRequest(("cp", "zstd"), host.search_path))
    rpms: list[PublishedRpm] = []
    for location in request.locations:
        if location.endswith(".json"):
            rpms += parse_manifest(await _read(location, tools, host, request.origin, location), location)
            continue
        repomd = await _read(
            os.path.join(location, "repodata", "repomd.xml"), tools, host, request.origin,
            f"{location} (a repository directory, since it does not end in .json; its repodata/repomd.xml)",
        )
        href = primary_location(repomd, location)
        primary = await _read(os.path.join(location, href), tools, host, request.origin, f"{location}/{href}")
        rpms += parse_primary(decompress(href, primary, location), location)
    return Published(tuple(rpms))


def published_request(
    field_value: Iterable[str] | None, spec_path: str, option_value: Iterable[str], target: str, build_root: str
) -> PublishedRequest:
    """A target's `published` field (paths relative to its BUILD file) or, when it is unset, the
    option (paths relative to the build root)."""
    if field_value is not None:
        return PublishedRequest(
            resolve_locations(field_value, os.path.join(build_root, spec_path)), f"The `published` field of {target}"
        )
    return PublishedRequest(resolve_locations(option_value, build_root), "`[rpm-publish].published`")


def rules():
    return collect_rules()
