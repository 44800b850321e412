"""The root of each toolchain stage, as an archive, and its manifest.

bootstrap (a `seed`): the locked packages, fetched by sha256, made into a root by mmdebstrap,
with a virtual package in its rpm database that provides what the seed supplies.

a stage with a `base`: its `packages` built one by one (each in the base root plus the RPMs of
those before it, see build_root.py) or taken from its `prebuilt` RPMs, then all installed with rpm into the base root, packed as a
new archive: the worker root.
"""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from pants.engine.addresses import Address
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, Process, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.zstd import ZstdCompressor
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms, RpmBuildError, source_date_epoch
from rules.rpm.util_rules.package_graph import RpmPackageGraph
from rules.rpm.util_rules.virtual_package import VirtualPackage, VirtualPackageRequest
from rules.sources.fetch import SourceFile, SpecSources, SpecSourcesRequest
from rules.sandbox.root import ARCHIVE_NAME, InRootProcess, RootArchive
from rules.toolchain.util_rules.seed import PrebuiltPins, PrebuiltPinsRequest, Seed, SeedRequest
from rules.toolchain.util_rules.stages import ToolchainStage, ToolchainStageRequest

_SCRIPTS = Path(__file__).parent.parent / "scripts"
_MAKE_BOOTSTRAP = (_SCRIPTS / "make_bootstrap.sh").read_bytes()
_INSTALL_PACKAGES = (_SCRIPTS / "install_packages.sh").read_bytes()
_RPM_FLAGS = (Path(__file__).parent.parent.parent / "rpm" / "scripts" / "rpm_flags.sh").read_bytes()
BOOTSTRAP_TOOLS = (
    "bash", "mmdebstrap", "apt-ftparchive", "apt-get", "dpkg", "dpkg-deb", "tar", "perl",
    "chroot", "mount", "umount", "ls",
)
SEED_PROVIDES_PACKAGE = "keel-seed-provides"
# rpm keeps its database per user on Debian (~/.rpmdb); a root needs one in a fixed place.
_RPM_MACROS = b"%_dbpath /var/lib/rpm\n"
# RPM specs install libraries into %{_libdir} (/usr/lib64); a Debian seed's ld.so does not
# search it by default.
_LD_SO_CONF = b"/usr/lib64\n/lib64\n"


class ToolchainBuildError(Exception):
    pass


@dataclass(frozen=True)
class StagePackageRequest:
    stage: Address
    package: Address


@dataclass(frozen=True)
class StagePackage:
    """The binary RPMs (RPMS/<arch>/*.rpm) of one package of a stage, built or prebuilt."""

    address: Address
    digest: Digest
    source_date_epoch: int
    prebuilt: bool


@rule(desc="Build or fetch a toolchain package", level=LogLevel.DEBUG)
async def stage_package(request: StagePackageRequest, rpm: RpmSubsystem) -> StagePackage:
    graph, pins = await MultiGet(
        Get(RpmPackageGraph), Get(PrebuiltPins, PrebuiltPinsRequest(request.stage))
    )
    info = graph.infos[request.package]
    filenames = [p.filename for p in info.packages]  # arch/N-V-R.arch.rpm
    epoch = source_date_epoch(info, rpm)
    if pins.path and all(os.path.basename(f) in pins.pins for f in filenames):
        fetched = await Get(
            SpecSources,
            SpecSourcesRequest(
                owner=f"prebuilt RPMs of {request.package} (toolchain stage {request.stage})",
                signatures_path=pins.path,
                local_digest=pins.digest,
                wanted=tuple(SourceFile(os.path.basename(f), None) for f in filenames),
            ),
        )
        entries = await Get(DigestEntries, Digest, fetched.digest)
        by_name = {e.path: e for e in entries if isinstance(e, FileEntry)}
        digest = await Get(
            Digest,
            CreateDigest(
                FileEntry(f"RPMS/{f}", by_name[os.path.basename(f)].file_digest) for f in filenames
            ),
        )
        return StagePackage(request.package, digest, epoch, prebuilt=True)
    try:
        built = await Get(BuiltRpms, BuildRpmRequest(request.package))
    except RpmBuildError as e:
        raise ToolchainBuildError(f"Building toolchain stage {request.stage} failed: {e}") from e
    digest = await Get(Digest, DigestSubset(built.digest, PathGlobs(list(built.rpms))))
    return StagePackage(request.package, digest, epoch, prebuilt=False)


@dataclass(frozen=True)
class StageRootRequest:
    address: Address


@dataclass(frozen=True)
class StageRoot:
    address: Address
    archive: RootArchive
    manifest: str  # JSON: the root archive and every package in it
    packages: tuple[StagePackage, ...]  # built or prebuilt, in order


async def archive_of(digest: Digest) -> RootArchive:
    entries = await Get(DigestEntries, Digest, digest)
    entry = next(e for e in entries if isinstance(e, FileEntry) and e.path == ARCHIVE_NAME)
    # A FileDigest's fingerprint is the sha256 of the content.
    return RootArchive(digest, entry.file_digest.fingerprint, entry.file_digest.serialized_bytes_length)


def manifest_json(address: Address, archive: RootArchive, packages: list[dict]) -> str:
    return json.dumps(
        {
            "stage": str(address),
            "root": {"file": ARCHIVE_NAME, "sha256": archive.sha256, "size": archive.size},
            "packages": packages,
        },
        indent=2,
        sort_keys=True,
    ) + "\n"


async def bootstrap_root(stage: ToolchainStage, rpm: RpmSubsystem) -> StageRoot:
    seed = await Get(Seed, SeedRequest(stage.address))
    provides = tuple(sorted({p.name for p in seed.lock.packages} | set(stage.provides)))
    tools, compressor, virtual = await MultiGet(
        Get(HostTools, HostToolsRequest(BOOTSTRAP_TOOLS, tuple(rpm.search_path))),
        Get(ZstdCompressor),
        Get(
            VirtualPackage,
            VirtualPackageRequest(
                SEED_PROVIDES_PACKAGE, provides, f"What the seed of {stage.address} provides"
            ),
        ),
    )
    virtual_rpm = await Get(Digest, DigestSubset(virtual.digest, PathGlobs([virtual.path])))
    inputs = await MultiGet(
        Get(
            Digest,
            CreateDigest(
                [
                    FileContent("make_bootstrap.sh", _MAKE_BOOTSTRAP, is_executable=True),
                    FileContent("files/macros.keel", _RPM_MACROS),
                    FileContent("files/keel-lib64.conf", _LD_SO_CONF),
                ]
            ),
        ),
        Get(Digest, AddPrefix(virtual_rpm, "provides")),
    )
    input_digest = await Get(
        Digest, MergeDigests([*inputs, seed.digest, compressor.input_digest])
    )
    names = sorted({p.name for p in seed.lock.packages})
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=(tools["bash"], "make_bootstrap.sh", seed.lock.suite, *names),
            input_digest=input_digest,
            immutable_input_digests=compressor.immutable_input_digests,
            append_only_caches=compressor.append_only_caches,
            env={
                **compressor.env,
                "PATH": ":".join(rpm.search_path),
                "KEEL_COMPRESS": shlex.join(compressor.command),
                "KEEL_HOST_TOOLS": tools.identity,
                "SOURCE_DATE_EPOCH": str(rpm.default_source_date_epoch),
                "LC_ALL": "C.UTF-8",
            },
            output_files=(ARCHIVE_NAME,),
            description=f"Make the bootstrap root of {stage.address} ({len(names)} seed packages)",
            level=LogLevel.INFO,
            timeout_seconds=None,
        ),
    )
    if result.exit_code != 0:
        lines = (result.stdout + result.stderr).decode(errors="replace").splitlines()
        raise ToolchainBuildError(
            f"Making the bootstrap root of {stage.address} failed (exit {result.exit_code}):\n"
            + "\n".join(lines[-30:])
        )
    archive = await archive_of(result.output_digest)
    packages = [
        {"kind": "deb", "name": p.name, "version": p.version, "arch": p.architecture, "sha256": p.sha256}
        for p in seed.lock.packages
    ]
    return StageRoot(stage.address, archive, manifest_json(stage.address, archive, packages), ())


async def built_stage_root(stage: ToolchainStage, rpm: RpmSubsystem) -> StageRoot:
    base = await Get(StageRoot, StageRootRequest(stage.base))
    # Each build's root holds the RPMs of the packages before it, so Pants runs them in order.
    built = await MultiGet(
        Get(StagePackage, StagePackageRequest(stage.address, a)) for a in stage.packages
    )
    rpm_digests = [b.digest for b in built]
    scripts = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("install_packages.sh", _INSTALL_PACKAGES, is_executable=True),
                FileContent("rpm_flags.sh", _RPM_FLAGS),
            ]
        ),
    )
    rpms = await Get(Digest, AddPrefix(await Get(Digest, MergeDigests(rpm_digests)), "rpms"))
    epoch = max([b.source_date_epoch for b in built] or [rpm.default_source_date_epoch])
    process = await Get(
        Process,
        InRootProcess(
            root=base.archive,
            argv=("/bin/bash", "install_packages.sh"),
            input_digest=await Get(Digest, MergeDigests([scripts, rpms])),
            description=f"Install {len(built)} packages into the root of {stage.address}",
            source_date_epoch=epoch,
            pack=ARCHIVE_NAME,
        ),
    )
    result = await Get(ProcessResult, Process, process)
    archive = await archive_of(await Get(Digest, DigestSubset(result.output_digest, PathGlobs([ARCHIVE_NAME]))))
    entries = await MultiGet(Get(DigestEntries, Digest, d) for d in rpm_digests)
    packages = json.loads(base.manifest)["packages"]
    for b, digest_entries in zip(built, entries):
        for entry in digest_entries:
            if isinstance(entry, FileEntry):
                packages.append(
                    {
                        "kind": "rpm",
                        "file": Path(entry.path).name,
                        "sha256": entry.file_digest.fingerprint,
                        "target": str(b.address),
                        "prebuilt": b.prebuilt,
                    }
                )
    return StageRoot(stage.address, archive, manifest_json(stage.address, archive, packages), tuple(built))


@rule(desc="Build a toolchain stage root", level=LogLevel.DEBUG)
async def stage_root(request: StageRootRequest, rpm: RpmSubsystem) -> StageRoot:
    stage = await Get(ToolchainStage, ToolchainStageRequest(request.address, "a toolchain root"))
    if stage.base is None:
        return await bootstrap_root(stage, rpm)
    return await built_stage_root(stage, rpm)


def rules():
    return collect_rules()
