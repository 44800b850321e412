"""An OCI image layout from an image root: zstd layers, their config, manifest and index.

A container without a container base has one layer, its root. One on a `base` container_image
has the base's layers, byte for byte (the same compression of the same root gives the same
blob: registries and runtimes store it once), and one more: what its root changes
(scripts/layer_diff.py). The JSON documents are small and written here; layers are compressed
in actions with the pinned zstandard library, and the layout is packed by GNU tar with fixed
names, owners and times. Digests come from Pants' own content digests (sha256), so no large
file is read into memory.
"""
from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestEntries, FileContent, FileEntry, MergeDigests
from pants.engine.process import Process, ProcessResult, ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.core.zstd import ZstdCompressor
from rules.image.util_rules.image_root import ImageRoot

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYOUT_NAME = "image.oci.tar"
ROOTFS_NAME = "rootfs.tar.zst"


_LAYER_DIFF = (Path(__file__).parent.parent / "scripts" / "layer_diff.py").read_bytes()
ROOT_LAYER = "keel: rpm -i of the image's packages"


@dataclass(frozen=True)
class LayerTar:
    """An uncompressed layer: `path` in `digest`, its sha256 (the OCI diff_id) and history line."""

    digest: Digest
    path: str
    sha256: str
    created_by: str


def root_layer(root: ImageRoot) -> LayerTar:
    return LayerTar(root.digest, "rootfs.tar", root.sha256, ROOT_LAYER)


@dataclass(frozen=True)
class LayerDiffRequest:
    base: ImageRoot
    root: ImageRoot


@rule(desc="Compute a container layer", level=LogLevel.DEBUG)
async def layer_diff(request: LayerDiffRequest, host: HostSettings) -> LayerTar:
    tools = await Get(HostTools, HostToolsRequest(("python3",), host.search_path))
    inputs = await MultiGet(
        Get(Digest, AddPrefix(request.base.digest, "base")),
        Get(Digest, AddPrefix(request.root.digest, "image")),
        Get(Digest, CreateDigest([FileContent("layer_diff.py", _LAYER_DIFF)])),
    )
    result = await Get(
        ProcessResult,
        Process(
            argv=(tools["python3"], "layer_diff.py", "base/rootfs.tar", "image/rootfs.tar", "layer.tar"),
            input_digest=await Get(Digest, MergeDigests(inputs)),
            env={"KEEL_HOST_TOOLS": tools.identity},
            output_files=("layer.tar",),
            description="Compute what a container adds to its base's layers",
            level=LogLevel.INFO,
        ),
    )
    entries = await Get(DigestEntries, Digest, result.output_digest)
    entry = next(e for e in entries if isinstance(e, FileEntry))
    return LayerTar(
        result.output_digest, "layer.tar", entry.file_digest.fingerprint, "keel: what the image adds to its base"
    )


@dataclass(frozen=True)
class OciImageRequest:
    root: ImageRoot
    ref_name: str
    # Bottom first; empty: one layer, the root.
    layers: tuple[LayerTar, ...] = ()


@dataclass(frozen=True)
class OciImage:
    digest: Digest  # LAYOUT_NAME and ROOTFS_NAME
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)


def _blob(data: bytes) -> tuple[str, int]:
    import hashlib

    return hashlib.sha256(data).hexdigest(), len(data)


def _json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class CompressedLayer:
    entry: FileEntry
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)

    @property
    def sha256(self) -> str:
        return self.entry.file_digest.fingerprint

    @property
    def size(self) -> int:
        return self.entry.file_digest.serialized_bytes_length


@rule(desc="Compress a container layer", level=LogLevel.DEBUG)
async def compress_layer(layer: LayerTar, host: HostSettings) -> CompressedLayer:
    compressor, tools = await MultiGet(
        Get(ZstdCompressor), Get(HostTools, HostToolsRequest(("bash",), host.search_path))
    )
    compressed = await Get(
        ProcessResult,
        Process(
            argv=(tools["bash"], "-c", f"{shlex.join(compressor.command)} < {layer.path} > {layer.path}.zst"),
            input_digest=await Get(Digest, MergeDigests([layer.digest, compressor.input_digest])),
            immutable_input_digests=compressor.immutable_input_digests,
            append_only_caches=compressor.append_only_caches,
            env={**compressor.env, "KEEL_HOST_TOOLS": tools.identity},
            output_files=(f"{layer.path}.zst",),
            description="Compress an image root with zstd" if layer.path == "rootfs.tar" else "Compress a container layer with zstd",
            level=LogLevel.INFO,
        ),
    )
    entries = await Get(DigestEntries, Digest, compressed.output_digest)
    return CompressedLayer(next(e for e in entries if isinstance(e, FileEntry)), compressed.metadata)


@rule(desc="Make an OCI image", level=LogLevel.DEBUG)
async def oci_image(request: OciImageRequest, host: HostSettings) -> OciImage:
    tools = await Get(HostTools, HostToolsRequest(("bash", "tar"), host.search_path))
    root = root_layer(request.root)
    layers = request.layers or (root,)
    # The root compressed is the `.rootfs.tar.zst` next to the layout, and the bottom layer of
    # a container without a base: one action either way.
    unique = tuple(dict.fromkeys((root, *layers)))
    by_layer = dict(zip(unique, await MultiGet(Get(CompressedLayer, LayerTar, layer) for layer in unique)))

    created = datetime.fromtimestamp(request.root.source_date_epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer.sha256}" for layer in layers]},
            "history": [{"created": created, "created_by": layer.created_by} for layer in layers],
        }
    )
    config_sha, config_size = _blob(config)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": f"sha256:{config_sha}", "size": config_size},
            "layers": [
                {"mediaType": OCI_LAYER_ZSTD, "digest": f"sha256:{by_layer[layer].sha256}", "size": by_layer[layer].size}
                for layer in layers
            ],
        }
    )
    manifest_sha, manifest_size = _blob(manifest)
    index = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": f"sha256:{manifest_sha}",
                    "size": manifest_size,
                    "annotations": {"org.opencontainers.image.ref.name": request.ref_name},
                }
            ],
        }
    )
    layout = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("layout/oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
                FileContent("layout/index.json", index),
                FileContent(f"layout/blobs/sha256/{manifest_sha}", manifest),
                FileContent(f"layout/blobs/sha256/{config_sha}", config),
                *(
                    FileEntry(f"layout/blobs/sha256/{by_layer[layer].sha256}", by_layer[layer].entry.file_digest)
                    for layer in layers
                ),
            ]
        ),
    )
    packed = await Get(
        ProcessResult,
        Process(
            argv=(
                tools["tar"], "--sort=name", "--format=posix",
                "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
                "--owner=0", "--group=0", "--numeric-owner", "--mode=u+rw,go+r,go-w",
                f"--mtime=@{request.root.source_date_epoch}", "-C", "layout", "-cf", LAYOUT_NAME, ".",
            ),
            input_digest=layout,
            env={"KEEL_HOST_TOOLS": tools.identity},
            output_files=(LAYOUT_NAME,),
            description="Pack an OCI image layout",
            level=LogLevel.INFO,
        ),
    )
    rootfs = await Get(Digest, CreateDigest([FileEntry(ROOTFS_NAME, by_layer[root].entry.file_digest)]))
    return OciImage(await Get(Digest, MergeDigests([packed.output_digest, rootfs])), by_layer[layers[-1]].process)


def rules():
    return collect_rules()
