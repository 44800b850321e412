"""Host tools: where they are, and an identity of their bytes for cache keys.

Pants keys a Process by its argv, env and input digests, not by the contents of binaries at
absolute paths. A rpmbuild of another version on another machine would therefore share cache
entries with ours. Every keel action that runs host tools puts `HostTools.identity` (a sha256 over
the tools and the shared libraries they link) into its environment to close that hole.

Which tools keel may ask for, and the packages that bring them, is host-tools.txt next to this
file: the list build-support/host-tools (run by ./pants) and .ci/run install from.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from rules.core.subsystems import HostSettings, KeelHostSubsystem
from rules.rpm.subsystems.rpm import RpmSubsystem

HOST_TOOLS_LIST = "rules/core/host-tools.txt"


class MissingHostToolError(Exception):
    pass


@dataclass(frozen=True)
class HostTool:
    command: str
    debian_package: str
    rpm_package: str
    use: str  # build, graph, repository, image-test or ci


def parse_host_tools(text: str) -> tuple[HostTool, ...]:
    """host-tools.txt: `COMMAND DEBIAN RPM USE` lines; `#` starts a comment."""
    tools = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 4:
            raise ValueError(f"{HOST_TOOLS_LIST}:{number}: expected COMMAND DEBIAN RPM USE, got {line!r}")
        tools.append(HostTool(*fields))
    return tuple(tools)


# Every line; then by command (lines with "-", a package without a command, left out).
HOST_TOOL_LIST = parse_host_tools((Path(__file__).parent / "host-tools.txt").read_text())
HOST_TOOLS = {tool.command: tool for tool in HOST_TOOL_LIST if tool.command != "-"}
# What ./pants checks (and installs) on every start.
BUILD_TOOLS = frozenset(name for name, tool in HOST_TOOLS.items() if tool.use == "build")
# What keel's rules may ask for: those, and the tools of goals that only some users run.
RULE_TOOLS = BUILD_TOOLS | frozenset(name for name, tool in HOST_TOOLS.items() if tool.use in ("graph", "repository"))


@dataclass(frozen=True)
class HostToolsRequest:
    names: tuple[str, ...]
    search_path: tuple[str, ...]

    def __post_init__(self) -> None:
        unlisted = [name for name in self.names if name not in RULE_TOOLS]
        if unlisted:
            raise ValueError(
                f"keel asks for host tools that {HOST_TOOLS_LIST} does not list for `build`, `graph` or `repository`: "
                f"{', '.join(unlisted)}. Add them there, with the packages that bring them."
            )


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
        raise MissingHostToolError(missing_tools_message(missing, request.search_path))
    return HostTools(FrozenDict(paths), hashlib.sha256(fingerprints.encode()).hexdigest())


def missing_tools_message(missing: list[str], search_path: tuple[str, ...]) -> str:
    def packages(kind: str) -> str:
        return " ".join(sorted({getattr(HOST_TOOLS[name], kind) for name in missing if name in HOST_TOOLS}))

    uses = " ".join(sorted({HOST_TOOLS[name].use for name in missing if name in HOST_TOOLS})) or "build"

    return (
        f"keel needs {', '.join(missing)} on the host (searched {':'.join(search_path)}). "
        f"Install the packages {packages('debian_package')} (Debian) or {packages('rpm_package')} "
        f"(RPM-based hosts): `build-support/host-tools check {uses}` does it as root. Or set "
        "`[keel-host].search_path` to where they are."
    )


@rule(desc="Read the host settings", level=LogLevel.DEBUG)
def host_settings(host: KeelHostSubsystem, rpm: RpmSubsystem) -> HostSettings:
    search_path = host.search_path
    # `[rpm].search_path` is the deprecated name of `[keel-host].search_path`: set alone, it
    # still counts (Pants warns that it is deprecated).
    if host.options.is_default("search_path") and not rpm.options.is_default("search_path"):
        search_path = rpm.search_path
    return HostSettings(tuple(search_path))


def rules():
    return collect_rules()
