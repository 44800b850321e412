"""`./pants package` for rpm_repository: RPMs, optionally signed, with createrepo_c's repodata.

The packages are resolved as an image's are (ImagePackageRoots, ImagePackages): one meaning of
"these packages" across keel. The signing key is rules/rpm/util_rules/signing.py's: looked up
once per run (a key may change between runs without any file of the repository changing); only
its fingerprint enters the cache key, never the key. What is already published is read once per
run and checked after signing (signing changes an RPM's bytes), before anything is written to
dist/.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pants.base.build_root import BuildRoot as WorkspaceRoot
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Addresses, UnparsedAddressInputs
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
    RemovePrefix,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.core.failure import check_process
from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.report import BuildReportEntry, BuildReportEntryRequest
from rules.core.subsystems import HostSettings
from rules.image.util_rules.image_root import (
    ImagePackageRoots,
    ImagePackageRootsRequest,
    ImagePackages,
    ImagePackagesRequest,
)
from rules.rpm.repository_target_types import (
    RpmRepositoryBaseUrlField,
    RpmRepositoryIdField,
    RpmRepositoryOutputPathField,
    RpmRepositoryPackagesField,
    RpmRepositoryPublishedField,
    RpmRepositoryWithRequiresField,
)
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.rpm.subsystems.rpm_publish import RpmPublishSubsystem
from rules.rpm.util_rules import published as published_rules
from rules.rpm.util_rules.build import BuildRpmRequest, BuiltRpms, source_date_epoch
from rules.rpm.util_rules.published import (
    Published,
    PublishedError,
    PublishedRequest,
    conflict_message,
    conflicts,
    published_request,
)
from rules.rpm.util_rules.repository_client import key_name, repo_file
from rules.rpm.util_rules.seed import SEED_MANIFEST, repository_seed_manifest
from rules.rpm.util_rules.signing import (
    GNUPG_SH,
    SIGNING_TOOLS,
    PublicKey,
    PublicKeyRequest,
    SigningKey,
    SigningKeyError,
    signing_env,
)

# Importable from here as before it moved to util_rules/repository_client.py.
__all__ = ["RepositoryFieldSet", "repo_file"]

_MAKE_REPOSITORY = (Path(__file__).parent.parent / "scripts" / "make_repository.sh").read_bytes()
_TOOLS = ("createrepo_c", "rpmsign", *SIGNING_TOOLS, "find", "touch")


@dataclass(frozen=True)
class RepositoryFieldSet(PackageFieldSet):
    required_fields = (RpmRepositoryPackagesField, RpmRepositoryBaseUrlField)

    packages: RpmRepositoryPackagesField
    with_requires: RpmRepositoryWithRequiresField
    repo_id: RpmRepositoryIdField
    base_url: RpmRepositoryBaseUrlField
    output_path: RpmRepositoryOutputPathField
    published: RpmRepositoryPublishedField


@dataclass(frozen=True)
class RepositoryRpms:
    digest: Digest  # RPMS/<arch>/*.rpm
    files: tuple[str, ...]
    source_date_epoch: int
    built: tuple[BuiltRpms, ...]


@rule(desc="Collect a repository's RPMs", level=LogLevel.DEBUG)
async def repository_rpms(field_set: RepositoryFieldSet, rpm: RpmSubsystem) -> RepositoryRpms:
    packages = tuple(field_set.packages.value or ())
    if field_set.with_requires.value:
        closure = await Get(ImagePackages, ImagePackagesRequest(field_set.address, packages))
        # What each RPM was built from, for keel-seed.json.
        targets = await Get(
            Addresses,
            UnparsedAddressInputs(
                sorted({rpm.target for rpm in closure.rpms}),
                owning_address=None,
                description_of_origin=f"the packages of {field_set.address}",
            ),
        )
        built = await MultiGet(Get(BuiltRpms, BuildRpmRequest(a)) for a in targets)
        return RepositoryRpms(closure.digest, closure.files, closure.source_date_epoch, tuple(built))
    named = await Get(ImagePackageRoots, ImagePackageRootsRequest(field_set.address, packages))
    addresses = sorted({p.address for p in named.roots})
    built = await MultiGet(Get(BuiltRpms, BuildRpmRequest(a)) for a in addresses)
    files = sorted(
        {f"RPMS/{named.graph.infos[p.address].package(p.package).filename}" for p in named.roots}
    )
    digest = await Get(Digest, DigestSubset(await Get(Digest, MergeDigests(b.digest for b in built)), PathGlobs(files)))
    epoch = max(source_date_epoch(b.info, rpm) for b in built)
    return RepositoryRpms(digest, tuple(files), epoch, tuple(built))


def spec_of(built: Iterable[BuiltRpms]) -> dict[str, str]:
    """RPM file name -> "SPEC (target ADDRESS)": the spec whose Release a conflict must bump."""
    return {os.path.basename(f): f"{b.info.spec_path} (target {b.address})" for b in built for f in b.rpms}


@rule(desc="Make a package repository", level=LogLevel.DEBUG)
async def package_repository(
    field_set: RepositoryFieldSet,
    rpm: RpmSubsystem,
    publish: RpmPublishSubsystem,
    host: HostSettings,
    workspace: WorkspaceRoot,
) -> BuiltPackage:
    repo_id = field_set.repo_id.value or field_set.address.target_name
    out_dir = (field_set.output_path.value or f"repos/{repo_id}").strip("/")
    published_locations = published_request(
        field_set.published.value, field_set.address.spec_path, publish.published,
        str(field_set.address), workspace.path,
    )
    rpms, key, public, published, tools = await MultiGet(
        Get(RepositoryRpms, RepositoryFieldSet, field_set),
        Get(SigningKey),
        Get(PublicKey, PublicKeyRequest(armor=True)),
        Get(Published, PublishedRequest, published_locations),
        Get(HostTools, HostToolsRequest(_TOOLS, host.search_path)),
    )
    script = await Get(
        Digest,
        CreateDigest(
            [FileContent("make_repository.sh", _MAKE_REPOSITORY, is_executable=True), FileContent("gnupg.sh", GNUPG_SH)]
        ),
    )
    inputs = await Get(Digest, MergeDigests([script, await Get(Digest, AddPrefix(rpms.digest, "rpms"))]))
    argv = [tools["sh"], "make_repository.sh", str(rpms.source_date_epoch)]
    if key.fingerprint:
        argv += [key.fingerprint, key.gnupg_home, str(key.sign_time(rpms.source_date_epoch))]
    process = Process(
        argv=tuple(argv),
        input_digest=inputs,
        env={
            **signing_env(host, tools, key),
            "CREATEREPO_C": tools["createrepo_c"],
            "RPMSIGN": tools["rpmsign"],
        },
        output_directories=("repo",),
        description=f"createrepo_c {repo_id}: {len(rpms.files)} RPMs" + (", signed" if key.fingerprint else ""),
        level=LogLevel.DEBUG,
    )
    result = await Get(FallibleProcessResult, Process, process)
    await check_process(result, process.description, f"Making the repository of {field_set.address} failed.")

    made = await Get(Digest, RemovePrefix(result.output_digest, "repo"))
    entries = await Get(DigestEntries, Digest, made)
    files = [e for e in entries if isinstance(e, FileEntry)]
    if not any(e.path == "repodata/repomd.xml" for e in files):
        raise SigningKeyError(f"createrepo_c wrote no repodata/repomd.xml for {field_set.address}.")
    # The RPMs as they will be served (signed): none may differ from a published one of its name.
    found = conflicts(
        published.rpms,
        {e.path: e.file_digest.fingerprint for e in files if e.path.startswith("Packages/")},
    )
    if found:
        raise PublishedError(conflict_message(str(field_set.address), found, spec_of(rpms.built)))
    repo = await Get(
        Digest,
        CreateDigest(
            [
                *files,
                *([FileEntry(key_name(repo_id), public.file.file_digest)] if public.file else []),
                FileContent(
                    f"{repo_id}.repo", repo_file(repo_id, field_set.base_url.value, bool(key.fingerprint)).encode()
                ),
                # What each RPM was built from: the repository can seed the package stage.
                FileContent(SEED_MANIFEST, repository_seed_manifest(rpms.built, files)),
            ]
        ),
    )
    digest = await Get(Digest, AddPrefix(repo, out_dir))
    report = await Get(
        BuildReportEntry, BuildReportEntryRequest("repository", str(field_set.address), (out_dir,), result.metadata)
    )
    signed = (
        f"signed with {key.fingerprint}"
        if key.fingerprint
        else "UNSIGNED (no `[rpm-sign].key`; its .repo says gpgcheck=0)"
    )
    checked = (
        f", checked against {len(published.rpms)} published RPMs" if published_locations.locations else ""
    )
    return BuiltPackage(
        digest,
        (
            BuiltPackageArtifact(
                out_dir, extra_log_lines=(f"{len(rpms.files)} RPMs, {signed}{checked}, {report.describe()}",)
            ),
        ),
    )


def rules():
    return [*collect_rules(), *published_rules.rules(), UnionRule(PackageFieldSet, RepositoryFieldSet)]
