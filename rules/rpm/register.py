"""The package stage: `rpm_package` targets, built by rpmbuild into RPMs.

Reading order: target_types (what users write), util_rules/spec_info (rpmspec),
util_rules/package_graph (who provides what), util_rules/build (rpmbuild), goals/.
"""
from rules.core import host_tools, report
from rules.rpm import dependency_inference
from rules.image.util_rules import image_root
from rules.rpm.goals import compat, package, repository, requires, tailor
from rules.rpm.repository_target_types import RpmRepositoryTarget
from rules.rpm.target_types import RpmPackageTarget
from rules.rpm.util_rules import build, package_graph, seed, signing, spec_info, stand_in_needs
from rules.sources import fetch
from rules.toolchain import register as toolchain


def target_types():
    # Packages are built in toolchain roots: stage 2 brings stage 1 along.
    return [RpmPackageTarget, RpmRepositoryTarget, *toolchain.target_types()]


def rules():
    return [
        *toolchain.rules(),
        *host_tools.rules(),
        *report.rules(),
        *spec_info.rules(),
        *package_graph.rules(),
        *stand_in_needs.rules(),
        *build.rules(),
        *seed.rules(),
        *fetch.rules(),
        *dependency_inference.rules(),
        *package.rules(),
        *tailor.rules(),
        *requires.rules(),
        *compat.rules(),
        # A repository's packages are resolved as an image's are.
        *image_root.rules(),
        *signing.rules(),
        *repository.rules(),
    ]
