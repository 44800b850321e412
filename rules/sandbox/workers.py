"""Where build actions run: on this machine, or on the workers of a remote execution server.

`[keel-execution].environment` names a `remote_environment` (REAPI remote execution). Build
actions (InRootProcess with `on_workers`) then run there, and so does the fingerprint of the host
tools they call: the paths and the identity in their cache key are the worker's, not this
machine's. Everything else (fetching sources, the seed's package-manager fetch, reading specs,
Pants' own tools) stays here: those need this machine or are too small to send away.

A remote run first checks that the server accepts a connection: Pants 2.17 would otherwise retry
each action until `remote_execution_overall_deadline_secs` (an hour by default) before failing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from pants.core.util_rules.environments import (
    EnvironmentNameRequest,
    EnvironmentTarget,
    RemotePlatformField,
)
from pants.engine.environment import EnvironmentName
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.option.global_options import GlobalOptions
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings, KeelExecutionSubsystem

logger = logging.getLogger(__name__)


class RemoteExecutionUnreachable(Exception):
    pass


@dataclass(frozen=True)
class BuildEnvironment:
    """The environment build actions run in. `name` None: where Pants runs, this machine."""

    name: EnvironmentName | None
    remote: bool
    server: str = ""  # the remote execution address, when remote


LOCAL = BuildEnvironment(None, False)


def server_host_port(address: str) -> tuple[str, int]:
    """grpc://HOST:PORT or grpcs://HOST:PORT (Pants' `remote_execution_address`)."""
    parts = urlsplit(address)
    if parts.scheme not in ("grpc", "grpcs") or not parts.hostname:
        raise RemoteExecutionUnreachable(
            f"`[GLOBAL].remote_execution_address` is {address!r}: expected grpc://HOST:PORT or grpcs://HOST:PORT."
        )
    return parts.hostname, parts.port or (443 if parts.scheme == "grpcs" else 80)


@rule(desc="Choose where build actions run", level=LogLevel.DEBUG)
async def build_environment(
    execution: KeelExecutionSubsystem, global_options: GlobalOptions, host: HostSettings
) -> BuildEnvironment:
    if not execution.environment:
        return LOCAL
    origin = "the option `[keel-execution].environment`"
    # Applies the environment's fallback_environment when remote execution is off.
    name = await Get(EnvironmentName, EnvironmentNameRequest(execution.environment, description_of_origin=origin))
    target = await Get(EnvironmentTarget, EnvironmentName, name)
    if not (global_options.remote_execution and target.val is not None and target.val.has_field(RemotePlatformField)):
        return BuildEnvironment(name, False)

    address = global_options.remote_execution_address or ""
    server, port = server_host_port(address)
    bash = await Get(HostTools, HostToolsRequest(("bash", "timeout"), host.search_path))
    probe = await Get(
        FallibleProcessResult,
        Process(
            argv=(bash["timeout"], str(execution.probe_timeout), bash["bash"], "-c", 'exec 3<>"/dev/tcp/$1/$2"', "probe", server, str(port)),
            description=f"Check that the remote execution server {address} answers",
            level=LogLevel.DEBUG,
            # Every run asks again: the server may have gone since the last one.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    if probe.exit_code == 0:
        return BuildEnvironment(name, True, address)
    reason = probe.stderr.decode(errors="replace").strip() or f"no connection within {execution.probe_timeout} s"
    if execution.fallback_to_local:
        logger.warning(
            f"keel: the remote execution server {address} does not answer ({reason}); build actions "
            "run on this machine instead (`[keel-execution].fallback_to_local`)."
        )
        return LOCAL
    raise RemoteExecutionUnreachable(
        f"The remote execution server {address} does not answer ({reason}), and "
        f"`[keel-execution].environment` sends build actions to it ({execution.environment!r}). "
        "Start it (build-support/remote-exec start), point `[GLOBAL].remote_execution_address` "
        "at a running one, build here with `--no-remote-execution`, or set "
        "`[keel-execution].fallback_to_local = true` to build here whenever it is down."
    )


def rules():
    return collect_rules()
