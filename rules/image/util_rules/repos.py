"""An image's `repos`: the rpm_repository targets it names, and the files they put in its root.

Only a repository's settings (repo_id, base_url) and the `[rpm-sign]` key are used: an image
that updates from a repository does not need the repository built.
"""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, FileContent, FileEntry
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from rules.core.origin import TargetInputError
from rules.rpm.repository_target_types import RpmRepositoryBaseUrlField, RpmRepositoryIdField
from rules.rpm.util_rules.repository_client import image_key_path, image_repo_file
from rules.rpm.util_rules.signing import PublicKey, PublicKeyRequest


class ImageReposError(TargetInputError):
    pass


@dataclass(frozen=True)
class ImageReposRequest:
    address: Address
    repos: tuple[str, ...]


@dataclass(frozen=True)
class ImageRepos:
    """The rpm_repository targets an image names, and (repo_id, base_url) of each."""

    addresses: tuple[Address, ...]
    settings: tuple[tuple[str, str], ...]


@rule(desc="Resolve an image's repos", level=LogLevel.DEBUG)
async def image_repos(request: ImageReposRequest) -> ImageRepos:
    origin = f"the `repos` field of {request.address}"
    resolved = await MultiGet(
        Get(Addresses, UnparsedAddressInputs([entry], owning_address=request.address, description_of_origin=origin))
        for entry in request.repos
    )
    named = [(entry, address) for entry, addresses in zip(request.repos, resolved) for address in addresses]
    wrapped = await MultiGet(
        Get(WrappedTarget, WrappedTargetRequest(address, description_of_origin=origin)) for _, address in named
    )
    by_id: dict[str, Address] = {}
    settings = []
    for (entry, address), target in zip(named, (w.target for w in wrapped)):
        if not target.has_field(RpmRepositoryBaseUrlField):
            raise ImageReposError(
                f"The `repos` field of {request.address} lists {entry}, a `{target.alias}` target: "
                "list `rpm_repository` targets (`./pants list --filter-target-type=rpm_repository ::` "
                "shows them)."
            )
        repo_id = target[RpmRepositoryIdField].value or address.target_name
        if repo_id in by_id and by_id[repo_id] != address:
            raise ImageReposError(
                f"The `repos` field of {request.address} lists {by_id[repo_id]} and {address}, which "
                f"both have the repo_id `{repo_id}` (one /etc/yum.repos.d/{repo_id}.repo): give one "
                "of them another `repo_id`."
            )
        if repo_id not in by_id:
            by_id[repo_id] = address
            settings.append((repo_id, target[RpmRepositoryBaseUrlField].value))
    return ImageRepos(tuple(by_id.values()), tuple(settings))


@dataclass(frozen=True)
class ImageRepoFiles:
    """Files at their paths in the image (no leading /): .repo files and the public key."""

    digest: Digest
    paths: tuple[str, ...]


@rule(desc="Write an image's repository files", level=LogLevel.DEBUG)
async def image_repo_files(request: ImageReposRequest) -> ImageRepoFiles:
    repos = await Get(ImageRepos, ImageReposRequest, request)
    if not repos.settings:
        return ImageRepoFiles(EMPTY_DIGEST, ())
    public = await Get(PublicKey, PublicKeyRequest(armor=True))
    files: list[FileContent | FileEntry] = []
    for repo_id, base_url in repos.settings:
        path, text = image_repo_file(repo_id, base_url, public.file is not None)
        files.append(FileContent(path.lstrip("/"), text.encode()))
        if public.file is not None:
            files.append(FileEntry(image_key_path(repo_id).lstrip("/"), public.file.file_digest))
    digest = await Get(Digest, CreateDigest(files))
    return ImageRepoFiles(digest, tuple(f.path for f in files))


def rules():
    return collect_rules()
