"""The root of each toolchain stage, as an archive, its manifest, and what it provides.

bootstrap (a `seed`): the locked packages, fetched by sha256, made into a root by mmdebstrap;
its tools configured as the stage asks (`rpm_platform`, `bin_sh`, `remove_files`, `root_files`),
and a virtual package in its rpm database that provides what the seed supplies, found in the root
(scripts/root_provides.sh) and named by hand (`provides`).

a stage with a `base`: its `packages` built one by one (each in the base root plus the RPMs of
those before it, see build_root.py) or taken from its `prebuilt` RPMs, then all installed with
rpm, and its `macro_files` copied, into the base root, packed as a new archive: the worker root.
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
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import HydratedSources, HydrateSourcesRequest, WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from rules.core.failure import check_process
from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.origin import build_file_of
from rules.core.subsystems import HostSettings
from rules.core.zstd import host_zstd_command
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms, RpmBuildError, source_date_epoch
from rules.rpm.util_rules.rpmbuild_env import REPRODUCIBLE_MACROS
from rules.rpm.util_rules.spec_info import RpmSpecInfo, RpmSpecInfoRequest
from rules.sources.fetch import SourceFile, SpecSources, SpecSourcesRequest
from rules.sandbox.root import ARCHIVE_NAME, InRootProcess, InRootResult, RootArchive, succeeded
from rules.toolchain.target_types import RPM_CONFIG_DIR, ToolchainMacroFilesField, ToolchainRpmConfigFilesField
from rules.toolchain.util_rules.seed import PrebuiltPins, PrebuiltPinsRequest, Seed, SeedRequest
from rules.toolchain.util_rules.stages import ToolchainStage, ToolchainStageRequest

_SCRIPTS = Path(__file__).parent.parent / "scripts"
_MAKE_BOOTSTRAP = (_SCRIPTS / "make_bootstrap.sh").read_bytes()
_CONFIGURE_ROOT = (_SCRIPTS / "configure_root.sh").read_bytes()
_ROOT_PROVIDES = (_SCRIPTS / "root_provides.sh").read_bytes()
_INSTALL_PACKAGES = (_SCRIPTS / "install_packages.sh").read_bytes()
_RPM_FLAGS = (Path(__file__).parent.parent.parent / "rpm" / "scripts" / "rpm_flags.sh").read_bytes()
BOOTSTRAP_TOOLS = (
    "bash", "mmdebstrap", "apt-ftparchive", "apt-get", "dpkg", "dpkg-deb", "tar", "perl",
    "chroot", "mount", "umount", "ls", "zstd",
)
CAPABILITIES_NAME = "capabilities.txt"
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
    info, pins = await MultiGet(
        Get(RpmSpecInfo, RpmSpecInfoRequest(request.package)),
        Get(PrebuiltPins, PrebuiltPinsRequest(request.stage)),
    )
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
    # RPM capabilities the root holds without any target: what its seed provides (found in the
    # root and named by hand), and the packages and Provides of every RPM installed in it.
    capabilities: frozenset[str]


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


def _spec_globals(macros: tuple[tuple[str, str], ...]) -> bytes:
    return "".join(f"%global {name} {value}\n" for name, value in macros).encode()


async def bootstrap_root(stage: ToolchainStage, rpm: RpmSubsystem, host: HostSettings) -> StageRoot:
    seed = await Get(Seed, SeedRequest(stage.address))
    tools = await Get(HostTools, HostToolsRequest(BOOTSTRAP_TOOLS, host.search_path))
    files = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("make_bootstrap.sh", _MAKE_BOOTSTRAP, is_executable=True),
                FileContent("configure_root.sh", _CONFIGURE_ROOT),
                FileContent("root_provides.sh", _ROOT_PROVIDES),
                FileContent("files/macros.keel", _RPM_MACROS),
                FileContent("files/keel-lib64.conf", _LD_SO_CONF),
                FileContent(
                    "files/rpm_platform.tsv",
                    "".join(f"{k}\t{v}\n" for k, v in sorted(stage.rpm_platform.items())).encode(),
                ),
                # Named by hand, and the requirements the seed's Debian stand-ins were locked for.
                FileContent(
                    "files/provides.txt",
                    "".join(f"{p}\n" for p in (*stage.provides, *seed.lock.stand_ins)).encode(),
                ),
                FileContent("files/remove.txt", "".join(f"{p}\n" for p in stage.remove_files).encode()),
                *(
                    FileContent(f"files/root{path}", content.encode(), is_executable=content.startswith("#!"))
                    for path, content in sorted(stage.root_files.items())
                ),
                FileContent("files/reproducible.spec", _spec_globals(REPRODUCIBLE_MACROS)),
            ]
        ),
    )
    input_digest = await Get(Digest, MergeDigests([files, seed.digest]))
    names = sorted({p.name for p in seed.lock.packages})
    process = Process(
        argv=(tools["bash"], "make_bootstrap.sh", seed.lock.suite, *names),
        input_digest=input_digest,
        env={
            "PATH": host.path_env,
            "KEEL_COMPRESS": shlex.join(host_zstd_command(tools["zstd"])),
            "KEEL_BIN_SH": stage.bin_sh or "",
            "KEEL_HOST_TOOLS": tools.identity,
            "SOURCE_DATE_EPOCH": str(rpm.default_source_date_epoch),
            "LC_ALL": "C.UTF-8",
        },
        output_files=(ARCHIVE_NAME, CAPABILITIES_NAME),
        description=f"Make the bootstrap root of {stage.address} ({len(names)} seed packages)",
        level=LogLevel.INFO,
        timeout_seconds=None,
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        await check_process(
            result,
            process.description,
            f"Making the bootstrap root of {stage.address} from its seed failed: check the stage's "
            f"fields in {await build_file_of(stage.address)} (`bin_sh`, `root_files`, "
            "`remove_files`) and its seed lock; the seed's package scripts and mmdebstrap's "
            "messages are below.",
        )
    archive_digest, capabilities = await MultiGet(
        Get(Digest, DigestSubset(result.output_digest, PathGlobs([ARCHIVE_NAME]))),
        Get(DigestContents, DigestSubset(result.output_digest, PathGlobs([CAPABILITIES_NAME]))),
    )
    archive = await archive_of(archive_digest)
    packages = [
        {"kind": "deb", "name": p.name, "version": p.version, "arch": p.architecture, "sha256": p.sha256}
        for p in seed.lock.packages
    ]
    return StageRoot(
        stage.address,
        archive,
        manifest_json(stage.address, archive, packages),
        (),
        frozenset(capability_names(capabilities[0].content.decode())),
    )


def capability_names(listing: str) -> list[str]:
    """`perl(Carp) = 1.52` -> `perl(Carp)`: requirements are matched by name."""
    return [line.split(" ", 1)[0] for line in listing.splitlines() if line.strip()]


async def built_stage_root(stage: ToolchainStage, rpm: RpmSubsystem) -> StageRoot:
    base, wrapped = await MultiGet(
        Get(StageRoot, StageRootRequest(stage.base)),
        Get(WrappedTarget, WrappedTargetRequest(stage.address, description_of_origin="keel toolchain")),
    )
    # Each build's root holds the RPMs of the packages before it, so Pants runs them in order.
    built = await MultiGet(
        Get(StagePackage, StagePackageRequest(stage.address, a)) for a in stage.packages
    )
    infos = await MultiGet(Get(RpmSpecInfo, RpmSpecInfoRequest(a)) for a in stage.packages)
    macro_files, config_files = await MultiGet(
        Get(HydratedSources, HydrateSourcesRequest(wrapped.target[ToolchainMacroFilesField])),
        Get(HydratedSources, HydrateSourcesRequest(wrapped.target[ToolchainRpmConfigFilesField])),
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
    macro_entries, config_entries = await MultiGet(
        Get(DigestEntries, Digest, macro_files.snapshot.digest),
        Get(DigestEntries, Digest, config_files.snapshot.digest),
    )
    # rpm_config_files keep their path below the BUILD file's rpm-config/ (the target checks
    # they are there).
    config_prefix = os.path.join(stage.address.spec_path, RPM_CONFIG_DIR) + "/"
    inputs = await MultiGet(
        Get(Digest, AddPrefix(await Get(Digest, MergeDigests(rpm_digests)), "rpms")),
        Get(
            Digest,
            CreateDigest(
                [
                    *(
                        FileEntry(f"macros/{os.path.basename(e.path)}", e.file_digest)
                        for e in macro_entries
                        if isinstance(e, FileEntry)
                    ),
                    *(
                        FileEntry(f"rpmconfig/{e.path[len(config_prefix):]}", e.file_digest)
                        for e in config_entries
                        if isinstance(e, FileEntry) and e.path.startswith(config_prefix)
                    ),
                ]
            ),
        ),
    )
    epoch = max([b.source_date_epoch for b in built] or [rpm.default_source_date_epoch])
    process = InRootProcess(
        root=base.archive,
        argv=("/bin/bash", "install_packages.sh"),
        input_digest=await Get(Digest, MergeDigests([scripts, *inputs])),
        description=f"Install {len(built)} packages into the root of {stage.address}",
        source_date_epoch=epoch,
        pack=ARCHIVE_NAME,
    )
    result = succeeded(await Get(InRootResult, InRootProcess, process), process)
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
    installed = {
        name
        for info in infos
        for pkg in info.packages
        for name in (pkg.name, *(p.name for p in pkg.provides))
    }
    return StageRoot(
        stage.address,
        archive,
        manifest_json(stage.address, archive, packages),
        tuple(built),
        base.capabilities | installed,
    )


@rule(desc="Build a toolchain stage root", level=LogLevel.DEBUG)
async def stage_root(request: StageRootRequest, rpm: RpmSubsystem, host: HostSettings) -> StageRoot:
    stage = await Get(ToolchainStage, ToolchainStageRequest(request.address, "a toolchain root"))
    if stage.base is None:
        return await bootstrap_root(stage, rpm, host)
    return await built_stage_root(stage, rpm)


def rules():
    return collect_rules()
