"""Host tools: where they are, and an identity of their bytes for cache keys.

Pants keys a Process by its argv, env and input digests, not by the contents of binaries at
absolute paths. A rpmbuild of another version on another machine would therefore share cache
entries with ours. Every keel action that runs host tools puts `HostTools.identity` (a sha256 over
the tools and the shared libraries they link) into its environment to close that hole.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pants.core.util_rules.system_binaries import BinaryPathRequest, BinaryPaths
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel


class MissingHostToolError(Exception):
    pass


@dataclass(frozen=True)
class HostToolsRequest:
    names: tuple[str, ...]
    search_path: tuple[str, ...]


@dataclass(frozen=True)
class HostTools:
    paths: FrozenDict[str, str]
    identity: str

    def __getitem__(self, name: str) -> str:
        return self.paths[name]


# Lists each tool and each library it links (as ldd resolves them), then hashes them all.
_IDENTITY_SCRIPT = r"""
for tool in "$@"; do
  echo "$tool"
  ldd "$tool" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p'
done | sort -u | xargs sha256sum
"""


@rule(desc="Find host tools", level=LogLevel.DEBUG)
async def find_host_tools(request: HostToolsRequest) -> HostTools:
    names = ("sh", *request.names)
    found = await MultiGet(
        Get(BinaryPaths, BinaryPathRequest(binary_name=name, search_path=request.search_path))
        for name in names
    )
    missing = [paths.binary_name for paths in found if not paths.first_path]
    if missing:
        raise MissingHostToolError(
            f"keel needs {', '.join(missing)} on the host (searched {':'.join(request.search_path)}). "
            "Run `build-support/host-tools check` (as root it installs them), or set "
            "`[rpm].search_path` to where they are."
        )
    paths = {paths.binary_name: paths.first_path.path for paths in found if paths.first_path}
    result = await Get(
        ProcessResult,
        Process(
            argv=(paths["sh"], "-c", _IDENTITY_SCRIPT, "sh", *sorted(set(paths.values()))),
            env={"PATH": ":".join(request.search_path)},
            description=f"Fingerprint host tools: {', '.join(request.names)}",
            level=LogLevel.DEBUG,
            # Like Pants' own binary search: re-checked once per pantsd run, never shared.
            cache_scope=ProcessCacheScope.PER_RESTART_SUCCESSFUL,
        ),
    )
    return HostTools(FrozenDict(paths), hashlib.sha256(result.stdout).hexdigest())


def rules():
    return collect_rules()
