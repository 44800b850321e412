"""An image depends on the rpm_package targets its `packages` name, on its `base` image, on the
stage that assembles it and on the rpm_repository targets its `repos` name, so Pants' graph runs
spec -> RPM -> image (and toolchain -> image tools -> image, base image -> image).
An rpm_repository and a package_set, whose `packages` resolve as an image's do, depend on those
targets too; each depends on the package_sets it reaches, so a set's edit reaches its images."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import FieldSet, InferDependenciesRequest, InferredDependencies
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from rules.image.subsystems import ImageSubsystem
from rules.image.target_types import (
    DiskImagePackagesField,
    ImageDependenciesField,
    PackageSetDependenciesField,
    PackageSetPackagesField,
)
from rules.image.util_rules.image_root import ImagePackageRoots, ImagePackageRootsRequest
from rules.image.util_rules.repos import ImageRepos, ImageReposRequest
from rules.image.util_rules.settings import ImageSettings, ImageSettingsRequest
from rules.rpm.repository_target_types import (
    RpmRepositoryDependenciesField,
    RpmRepositoryPackagesField,
)


@dataclass(frozen=True)
class ImageInferenceFieldSet(FieldSet):
    required_fields = (DiskImagePackagesField, ImageDependenciesField)


class InferImageDependencies(InferDependenciesRequest):
    infer_from = ImageInferenceFieldSet


@rule(desc="Infer image dependencies from packages", level=LogLevel.DEBUG)
async def infer_image_dependencies(
    request: InferImageDependencies, image: ImageSubsystem
) -> InferredDependencies:
    address = request.field_set.address
    # The same resolution the build uses: an unknown name or two providers fail here too. The
    # base's packages are the image's too (it reaches the base as it reaches a package_set).
    settings = await Get(ImageSettings, ImageSettingsRequest(address))
    named = await Get(ImagePackageRoots, ImagePackageRootsRequest(address, settings.packages))
    imager, repos = await MultiGet(
        Get(
            Addresses,
            UnparsedAddressInputs([image.toolchain], owning_address=None, description_of_origin="`[image].toolchain`"),
        ),
        Get(ImageRepos, ImageReposRequest(address, settings.repos)),
    )
    return InferredDependencies(
        sorted({*(p.address for p in named.roots), *named.sets, *imager, *repos.addresses})
    )


async def packages_dependencies(address: Address, packages: tuple[str, ...] | None) -> InferredDependencies:
    """What a repository's or a set's `packages` name: the rpm_package targets and the sets."""
    named = await Get(ImagePackageRoots, ImagePackageRootsRequest(address, tuple(packages or ())))
    return InferredDependencies(sorted({*(p.address for p in named.roots), *named.sets}))


@dataclass(frozen=True)
class RepositoryInferenceFieldSet(FieldSet):
    required_fields = (RpmRepositoryPackagesField, RpmRepositoryDependenciesField)

    packages: RpmRepositoryPackagesField


class InferRepositoryDependencies(InferDependenciesRequest):
    infer_from = RepositoryInferenceFieldSet


@rule(desc="Infer rpm_repository dependencies from packages", level=LogLevel.DEBUG)
async def infer_repository_dependencies(request: InferRepositoryDependencies) -> InferredDependencies:
    return await packages_dependencies(request.field_set.address, request.field_set.packages.value)


@dataclass(frozen=True)
class PackageSetInferenceFieldSet(FieldSet):
    required_fields = (PackageSetPackagesField, PackageSetDependenciesField)

    packages: PackageSetPackagesField


class InferPackageSetDependencies(InferDependenciesRequest):
    infer_from = PackageSetInferenceFieldSet


@rule(desc="Infer package_set dependencies from packages", level=LogLevel.DEBUG)
async def infer_package_set_dependencies(request: InferPackageSetDependencies) -> InferredDependencies:
    return await packages_dependencies(request.field_set.address, request.field_set.packages.value)


def rules():
    return [
        *collect_rules(),
        UnionRule(InferDependenciesRequest, InferImageDependencies),
        UnionRule(InferDependenciesRequest, InferRepositoryDependencies),
        UnionRule(InferDependenciesRequest, InferPackageSetDependencies),
    ]
