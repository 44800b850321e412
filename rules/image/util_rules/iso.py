"""A UEFI-bootable ISO from an image root (scripts/make_iso.sh, inside the imager root)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.process import ProcessResultMetadata
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from rules.image.util_rules.image_root import ImagerRoot, ImageRoot
from rules.sandbox.root import InRootProcess, InRootResult, succeeded

_MAKE_ISO = (Path(__file__).parent.parent / "scripts" / "make_iso.sh").read_bytes()
ISO_NAME = "image.iso"


@dataclass(frozen=True)
class IsoRequest:
    root: ImageRoot
    volume_id: str


@dataclass(frozen=True)
class Iso:
    digest: Digest  # ISO_NAME
    process: ProcessResultMetadata = dataclasses.field(compare=False, default=None)
    worker: str | None = dataclasses.field(compare=False, default=None)  # InRootResult.worker


@rule(desc="Make an ISO", level=LogLevel.DEBUG)
async def make_iso(request: IsoRequest) -> Iso:
    imager = await Get(ImagerRoot)
    script = await Get(Digest, CreateDigest([FileContent("make_iso.sh", _MAKE_ISO, is_executable=True)]))
    process = InRootProcess(
        root=imager.archive,
        argv=("/bin/bash", "make_iso.sh", request.volume_id),
        input_digest=await Get(Digest, MergeDigests([script, request.root.digest])),
        description=f"Make an ISO ({request.volume_id})",
        source_date_epoch=request.root.source_date_epoch,
        output_files=(ISO_NAME,),
    )
    ran = await Get(InRootResult, InRootProcess, process)
    result = succeeded(ran, process)
    return Iso(result.output_digest, result.metadata, ran.worker)


def rules():
    return collect_rules()
