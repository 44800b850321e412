"""An OCI image layout from an image root: one zstd layer, its config, manifest and index.

The JSON documents are small and written here; the layer is compressed in an action with the
pinned zstandard library, and the layout is packed by GNU tar with fixed names, owners and times.
Digests come from Pants' own content digests (sha256), so no large file is read into memory.
"""
from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone

from pants.engine.fs import CreateDigest, Digest, DigestEntries, FileContent, FileEntry, MergeDigests
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


@dataclass(frozen=True)
class OciImageRequest:
    root: ImageRoot
    ref_name: str


@dataclass(frozen=True)
class OciImage:
    digest: Digest  # LAYOUT_NAME and ROOTFS_NAME
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)


def _blob(data: bytes) -> tuple[str, int]:
    import hashlib

    return hashlib.sha256(data).hexdigest(), len(data)


def _json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@rule(desc="Make an OCI image", level=LogLevel.DEBUG)
async def oci_image(request: OciImageRequest, host: HostSettings) -> OciImage:
    compressor, tools = await MultiGet(
        Get(ZstdCompressor), Get(HostTools, HostToolsRequest(("bash", "tar"), host.search_path))
    )
    compressed = await Get(
        ProcessResult,
        Process(
            argv=(tools["bash"], "-c", f"{shlex.join(compressor.command)} < rootfs.tar > {ROOTFS_NAME}"),
            input_digest=await Get(Digest, MergeDigests([request.root.digest, compressor.input_digest])),
            immutable_input_digests=compressor.immutable_input_digests,
            append_only_caches=compressor.append_only_caches,
            env={**compressor.env, "KEEL_HOST_TOOLS": tools.identity},
            output_files=(ROOTFS_NAME,),
            description="Compress an image root with zstd",
            level=LogLevel.INFO,
        ),
    )
    entries = await Get(DigestEntries, Digest, compressed.output_digest)
    layer = next(e for e in entries if isinstance(e, FileEntry))
    layer_sha, layer_size = layer.file_digest.fingerprint, layer.file_digest.serialized_bytes_length

    created = datetime.fromtimestamp(request.root.source_date_epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{request.root.sha256}"]},
            "history": [{"created": created, "created_by": "keel: rpm -i of the image's packages"}],
        }
    )
    config_sha, config_size = _blob(config)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": f"sha256:{config_sha}", "size": config_size},
            "layers": [{"mediaType": OCI_LAYER_ZSTD, "digest": f"sha256:{layer_sha}", "size": layer_size}],
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
                FileEntry(f"layout/blobs/sha256/{layer_sha}", layer.file_digest),
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
    return OciImage(
        await Get(Digest, MergeDigests([packed.output_digest, compressed.output_digest])), compressed.metadata
    )


def rules():
    return collect_rules()
