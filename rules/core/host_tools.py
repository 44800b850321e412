"""Host tools: where they are, and an identity of their bytes for cache keys.

Pants keys a Process by its argv, env and input digests, not by the contents of binaries at
absolute paths. A rpmbuild of another version on another machine would therefore share cache
entries with ours. Every keel action that runs host tools puts `HostTools.identity` (a sha256 over
the tools and the shared libraries they link) into its environment to close that hole.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
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


# One process finds every tool on the search path (a "name<TAB>path" line each, "name<TAB>" when
# missing), then lists each tool and each library it links (as ldd resolves them) and prints
# their sha256. A single /bin/sh process instead of Pants' BinaryPathRequest (one find_binary.sh
# per tool): a burst of freshly written scripts exec'd at once from a multi-threaded process hit
# ETXTBSY ("Text file busy") on CI now and then.
_FIND_AND_FINGERPRINT = r"""
found=""
for name in "$@"; do
  path=""
  # The first executable file of that name on PATH (not a shell builtin of the same name).
  for dir in $(echo "$PATH" | tr ':' ' '); do
    if [ -f "$dir/$name" ] && [ -x "$dir/$name" ]; then path="$dir/$name"; break; fi
  done
  printf '%s\t%s\n' "$name" "$path"
  [ -n "$path" ] && found="$found $path"
done
echo "--"
for tool in $found; do
  echo "$tool"
  ldd "$tool" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p'
done | sort -u | xargs -r sha256sum
"""


@rule(desc="Find host tools", level=LogLevel.DEBUG)
async def find_host_tools(request: HostToolsRequest) -> HostTools:
    names = ("sh", *request.names)
    result = await Get(
        ProcessResult,
        Process(
            argv=("/bin/sh", "-c", _FIND_AND_FINGERPRINT, "sh", *names),
            env={"PATH": ":".join(request.search_path)},
            description=f"Find and fingerprint host tools: {', '.join(request.names)}",
            level=LogLevel.DEBUG,
            # Like Pants' own binary search: re-checked once per pantsd run, never shared.
            cache_scope=ProcessCacheScope.PER_RESTART_SUCCESSFUL,
        ),
    )
    listing, _, fingerprints = result.stdout.decode().partition("--\n")
    paths = dict(line.split("\t", 1) for line in listing.splitlines())
    missing = [name for name in names if not paths.get(name)]
    if missing:
        raise MissingHostToolError(
            f"keel needs {', '.join(missing)} on the host (searched {':'.join(request.search_path)}). "
            "Run `build-support/host-tools check` (as root it installs them), or set "
            "`[rpm].search_path` to where they are."
        )
    return HostTools(FrozenDict(paths), hashlib.sha256(fingerprints.encode()).hexdigest())


def rules():
    return collect_rules()
