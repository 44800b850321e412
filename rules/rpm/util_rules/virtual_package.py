"""A generated, empty noarch RPM whose only content is a list of Provides.

It tells a root's rpm database "this is present" for what a toolchain seed supplies (packages of
another distribution), so rpmbuild checks every BuildRequires without --nodeps.
"""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.fs import CreateDigest, Digest, FileContent, RemovePrefix
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.rpm.subsystems.rpm import RpmSubsystem
from rules.sandbox.bwrap import BUILD_DIR, sandboxed_argv
from rules.rpm.util_rules.rpmbuild_env import RPMBUILD_TOOLS, REPRODUCIBLE_MACROS, rpmbuild_env
from rules.rpm.util_rules.spec_info import macro_args


@dataclass(frozen=True)
class VirtualPackageRequest:
    name: str
    provides: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class VirtualPackage:
    digest: Digest  # RPMS/noarch/NAME-1-1.noarch.rpm
    path: str


def virtual_spec(request: VirtualPackageRequest) -> str:
    provides = "".join(f"Provides: {capability}\n" for capability in request.provides)
    return (
        f"Name: {request.name}\nVersion: 1\nRelease: 1\n"
        f"Summary: {request.description}\nLicense: NONE\nBuildArch: noarch\n{provides}"
        f"%description\n{request.description}\n%files\n"
    )


@rule(desc="Generate a virtual provides package", level=LogLevel.DEBUG)
async def virtual_package(request: VirtualPackageRequest, rpm: RpmSubsystem) -> VirtualPackage:
    tools = await Get(HostTools, HostToolsRequest(RPMBUILD_TOOLS, tuple(rpm.search_path)))
    spec = await Get(
        Digest, CreateDigest([FileContent("virtual.spec", virtual_spec(request).encode())])
    )
    result = await Get(
        ProcessResult,
        Process(
            argv=sandboxed_argv(
                tools["bwrap"],
                (
                    tools["rpmbuild"],
                    "-bb",
                    "--define",
                    f"_topdir {BUILD_DIR}/top",
                    *macro_args(REPRODUCIBLE_MACROS),
                    "virtual.spec",
                ),
            ),
            input_digest=spec,
            output_directories=("top/RPMS",),
            env=rpmbuild_env(tools, tuple(rpm.search_path), rpm.default_source_date_epoch),
            description=f"Generate virtual package {request.name}",
            level=LogLevel.DEBUG,
        ),
    )
    digest = await Get(Digest, RemovePrefix(result.output_digest, "top"))
    return VirtualPackage(digest, f"RPMS/noarch/{request.name}-1-1.noarch.rpm")


def rules():
    return collect_rules()
