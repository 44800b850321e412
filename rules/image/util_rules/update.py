"""An update artifact from an image root: the root filesystem of an A/B disk's slot, compressed,
with a signed manifest (`NAME.update.tar`, read by keel-update), and the same pieces as a COSI
file (`NAME.cosi`).

Steps, each a cached action: the disk's pieces (scripts/make_update.sh in the imager root: the
filesystems and the primary GPT by make_disk.sh, without writing a disk; the root's os-release
and package list) -> zstd (the pinned library) with each image's sha384 and window log -> the
manifest signed with the `[rpm-sign]` key -> both tars (GNU tar, ustar, fixed owners, modes and
times, members in the order the formats require).
"""
from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from pants.engine.addresses import Address
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
)
from pants.engine.process import Process, ProcessResult, ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.failure import check_process
from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.core.zstd import ZstdCompressor
from rules.image.util_rules.cosi import (
    MARKER,
    METADATA,
    CosiImage,
    cosi_id,
    cosi_metadata,
    image_path,
    metadata_json,
    regions,
)
from rules.image.subsystems import ImageSubsystem
from rules.image.util_rules.disk import MAKE_DISK_SCRIPT, too_small_error
from rules.image.util_rules.image_root import ImagerRoot, ImageRoot
from rules.image.util_rules.layout import MIB, DiskLayout
from rules.image.util_rules.update_manifest import (
    MANIFEST,
    MEMBERS,
    ROOT_FILE,
    SIGNATURE,
    RootImage,
    RootPackage,
    os_release_version,
    parse_packages,
    update_manifest,
)
from rules.rpm.util_rules.signing import DetachedSignature, DetachedSignatureRequest, SigningKey
from rules.sandbox.root import InRootProcess, InRootResult

_SCRIPTS = Path(__file__).parent.parent / "scripts"
_MAKE_UPDATE = (_SCRIPTS / "make_update.sh").read_bytes()
_ZST_FACTS = (_SCRIPTS / "zst_facts.py").read_bytes()
UPDATE_NAME = "update.tar"
COSI_NAME = "image.cosi"


@dataclass(frozen=True)
class UpdatePartsRequest:
    root: ImageRoot
    layout: DiskLayout
    # The installed RPMs, when the root keeps no rpm database to list its packages from.
    rpms: Digest
    address: Address = dataclasses.field(compare=False, default=None)  # for messages only


@dataclass(frozen=True)
class UpdateParts:
    digest: Digest  # parts/NAME.img: the primary GPT and each filesystem, uncompressed
    os_release: str | None
    packages: tuple[RootPackage, ...]


@rule(desc="Make the pieces of an update", level=LogLevel.DEBUG)
async def update_parts(request: UpdatePartsRequest, image: ImageSubsystem) -> UpdateParts:
    imager = await Get(ImagerRoot)
    layout = request.layout
    scripts = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("make_update.sh", _MAKE_UPDATE, is_executable=True),
                FileContent("make_disk.sh", MAKE_DISK_SCRIPT, is_executable=True),
                FileContent("plan.tsv", layout.plan().encode()),
                FileContent("gpt.sfdisk", layout.sfdisk_script().encode()),
            ]
        ),
    )
    process = InRootProcess(
        root=imager.archive,
        argv=("/bin/bash", "make_update.sh", str(layout.size_mib)),
        input_digest=await Get(
            Digest, MergeDigests([scripts, request.root.digest, await Get(Digest, AddPrefix(request.rpms, "rpms"))])
        ),
        description=f"Make the filesystems of a {layout.size_mib} MiB A/B disk for an update",
        source_date_epoch=request.root.source_date_epoch,
        env=FrozenDict(image.assembly_env()),
        output_files=("os-release", "packages.tsv"),
        output_directories=("parts",),
    )
    result = (await Get(InRootResult, InRootProcess, process)).result
    too_small = too_small_error(result, request.address)
    if too_small:
        raise too_small
    await check_process(result, process.description, f"Making the update of {request.address} failed.")
    small = await Get(
        DigestContents, DigestSubset(result.output_digest, PathGlobs(["os-release", "packages.tsv"]))
    )
    texts = {f.path: f.content.decode() for f in small}
    return UpdateParts(
        result.output_digest, texts.get("os-release"), parse_packages(texts.get("packages.tsv", ""))
    )


@dataclass(frozen=True)
class CompressedPartsRequest:
    parts: Digest  # parts/NAME.img
    names: tuple[str, ...]


@dataclass(frozen=True)
class CompressedParts:
    digest: Digest  # images/NAME.rawzst
    images: FrozenDict[str, CosiImage]  # by name


@rule(desc="Compress the pieces of an update", level=LogLevel.DEBUG)
async def compressed_parts(request: CompressedPartsRequest, host: HostSettings) -> CompressedParts:
    compressor, tools, script = await MultiGet(
        Get(ZstdCompressor),
        Get(HostTools, HostToolsRequest(("bash", "python3", "mkdir"), host.search_path)),
        Get(Digest, CreateDigest([FileContent("zst_facts.py", _ZST_FACTS)])),
    )
    paths = [image_path(name) for name in request.names]
    compress = shlex.join(compressor.command)
    command = "set -eu; mkdir -p images; " + "; ".join(
        f"{compress} < parts/{shlex.quote(name)}.img > {shlex.quote(path)}" for name, path in zip(request.names, paths)
    ) + f"; {shlex.quote(tools['python3'])} zst_facts.py {' '.join(map(shlex.quote, paths))} > facts.json"
    result = await Get(
        ProcessResult,
        Process(
            argv=(tools["bash"], "-c", command),
            input_digest=await Get(Digest, MergeDigests([request.parts, script, compressor.input_digest])),
            immutable_input_digests=compressor.immutable_input_digests,
            append_only_caches=compressor.append_only_caches,
            env={**compressor.env, "PATH": host.path_env, "KEEL_HOST_TOOLS": tools.identity},
            output_files=("facts.json", *paths),
            description=f"Compress {len(paths)} partition images with zstd",
            level=LogLevel.INFO,
        ),
    )
    facts_file, entries, raw_entries = await MultiGet(
        Get(DigestContents, DigestSubset(result.output_digest, PathGlobs(["facts.json"]))),
        Get(DigestEntries, Digest, result.output_digest),
        Get(DigestEntries, Digest, request.parts),
    )
    facts = json.loads(facts_file[0].content)
    sizes = {e.path: e.file_digest.serialized_bytes_length for e in (*entries, *raw_entries) if isinstance(e, FileEntry)}
    images = {
        name: CosiImage(
            path=path,
            compressed_size=sizes[path],
            uncompressed_size=sizes[f"parts/{name}.img"],
            sha384=facts[path]["sha384"],
            window_log=facts[path]["window_log"],
        )
        for name, path in zip(request.names, paths)
    }
    digest = await Get(Digest, DigestSubset(result.output_digest, PathGlobs(paths)))
    return CompressedParts(digest, FrozenDict(images))


@dataclass(frozen=True)
class UpdateArtifactRequest:
    root: ImageRoot
    layout: DiskLayout  # the A/B layout: the root goes into its first slot
    rpms: Digest  # the installed RPMs; only read when the root has no rpm database
    name: str  # the manifest's `name`
    key: SigningKey
    address: Address = dataclasses.field(compare=False, default=None)  # for messages only


@dataclass(frozen=True)
class UpdateArtifact:
    digest: Digest  # UPDATE_NAME and COSI_NAME
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)


@rule(desc="Make an update artifact", level=LogLevel.DEBUG)
async def update_artifact(request: UpdateArtifactRequest, host: HostSettings) -> UpdateArtifact:
    layout, origin = request.layout, str(request.address)
    parts = await Get(UpdateParts, UpdatePartsRequest(request.root, layout, request.rpms, request.address))
    version = os_release_version(parts.os_release, origin)
    names = regions(layout)
    compressed = await Get(CompressedParts, CompressedPartsRequest(parts.digest, names))
    slot = layout.root
    root_image = compressed.images[slot.name]
    raw_entries = await Get(DigestEntries, Digest, parts.digest)
    raw_root = next(e for e in raw_entries if isinstance(e, FileEntry) and e.path == f"parts/{slot.name}.img")
    zst_entries = await Get(DigestEntries, Digest, compressed.digest)
    zst_root = next(e for e in zst_entries if isinstance(e, FileEntry) and e.path == root_image.path)

    manifest = update_manifest(
        request.name,
        version,
        RootImage(
            size=raw_root.file_digest.serialized_bytes_length,
            sha256=raw_root.file_digest.fingerprint,
            zst_size=root_image.compressed_size,
            zst_sha256=zst_root.file_digest.fingerprint,
        ),
        parts.packages,
        slot_size=slot.size_mib * MIB,
    )
    metadata = cosi_metadata(
        layout=layout,
        images=compressed.images,
        os_release=parts.os_release or "",
        packages=parts.packages,
        image_id=cosi_id(request.name, *(compressed.images[n].sha384 for n in names)),
    )
    manifest_digest = await Get(Digest, CreateDigest([FileContent(f"update/{MANIFEST}", manifest.encode())]))
    signature = await Get(
        DetachedSignature,
        DetachedSignatureRequest(
            manifest_digest, f"update/{MANIFEST}", f"update/{SIGNATURE}", request.key,
            request.root.source_date_epoch, f"the update manifest of {origin}",
        ),
    )
    members = await Get(
        Digest,
        CreateDigest(
            [
                FileEntry(f"update/{ROOT_FILE}", zst_root.file_digest),
                FileContent(f"cosi/{MARKER}", b""),
                FileContent(f"cosi/{METADATA}", metadata_json(metadata).encode()),
                *(FileEntry(f"cosi/{e.path}", e.file_digest) for e in zst_entries if isinstance(e, FileEntry)),
            ]
        ),
    )
    tools = await Get(HostTools, HostToolsRequest(("bash", "tar"), host.search_path))
    # ustar: no extended headers, so the COSI file starts with the bytes "cosi-marker". Members
    # are named on the command line, in order, without a directory entry or a leading "./".
    tar = shlex.join(
        (tools["tar"], "--format=ustar", "--owner=0", "--group=0", "--numeric-owner", "--mode=0644",
         f"--mtime=@{request.root.source_date_epoch}")
    )
    cosi_members = (MARKER, METADATA, *(image_path(n) for n in names))
    command = (
        f"set -eu; {tar} -C update -cf {UPDATE_NAME} {' '.join(MEMBERS)}; "
        f"{tar} -C cosi -cf {COSI_NAME} {' '.join(cosi_members)}"
    )
    packed = await Get(
        ProcessResult,
        Process(
            argv=(tools["bash"], "-c", command),
            input_digest=await Get(Digest, MergeDigests([members, manifest_digest, signature.digest])),
            env={"KEEL_HOST_TOOLS": tools.identity},
            output_files=(UPDATE_NAME, COSI_NAME),
            description=f"Pack the update and COSI files of {request.name} {version}",
            level=LogLevel.INFO,
        ),
    )
    return UpdateArtifact(packed.output_digest, packed.metadata)


def rules():
    return collect_rules()
