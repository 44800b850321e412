"""zstd compression: the host's `zstd` for build roots, the pinned `zstandard` library for images.

A build root is packed by an action that already runs host tools (tar, bash, ...) and has their
identity, `zstd` included, in its key (rules/core/host_tools.py): two machines share a root only
if their host tools are the same bytes, so the host's `zstd` gives the same archive wherever the
key is the same. It costs nothing to set up, whereas the PEX below is built (and Pants looks for
its interpreter) before the first root can even be looked up in a cache: seconds on the critical
path of every run without pantsd and of a new machine reading the remote cache.

Images are what users ship: their bytes must not depend on the host's `zstd` release. For them
keel builds a small PEX holding the pinned library and scripts/keel_zstd.py, and hands actions a
command prefix to pipe through.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pants.backend.python.target_types import EntryPoint
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules import pex
from pants.backend.python.util_rules.pex import Pex, PexProcess, PexRequest
from pants.backend.python.util_rules.pex_requirements import PexRequirements
from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.engine.process import Process
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

ZSTANDARD_REQUIREMENT = "zstandard==0.22.0"
# Measured on a 426 MB build root, one core: level 3 gives 137 MB in 1.4 s, level 10 121 MB in
# 7.5 s. Roots are rebuilt on every toolchain change and unpacked once per machine: favour speed.
COMPRESSION_LEVEL = 3



def host_zstd_command(zstd: str) -> tuple[str, ...]:
    """The host's `zstd` (path from HostTools, whose identity the action's key holds), reading
    stdin and writing one frame with a checksum to stdout. One thread: the same bytes however
    many cores the machine has."""
    return (zstd, "-q", "-c", "-T1", f"-{COMPRESSION_LEVEL}")


_SCRIPT = (Path(__file__).parent / "scripts" / "keel_zstd.py").read_bytes()


@dataclass(frozen=True)
class ZstdCompressor:
    """`argv + ("compress", level)` reads stdin and writes zstd to stdout, given the rest."""

    argv: tuple[str, ...]
    input_digest: Digest
    immutable_input_digests: FrozenDict[str, Digest]
    env: FrozenDict[str, str]
    append_only_caches: FrozenDict[str, str]

    @property
    def command(self) -> tuple[str, ...]:
        return (*self.argv, "compress", str(COMPRESSION_LEVEL))


@rule(desc="Build the zstd compressor", level=LogLevel.DEBUG)
async def zstd_compressor() -> ZstdCompressor:
    sources = await Get(Digest, CreateDigest([FileContent("keel_zstd.py", _SCRIPT)]))
    pex = await Get(
        Pex,
        PexRequest(
            output_filename="keel_zstd.pex",
            internal_only=True,
            requirements=PexRequirements([ZSTANDARD_REQUIREMENT]),
            interpreter_constraints=InterpreterConstraints(["CPython==3.9.*"]),
            sources=sources,
            main=EntryPoint("keel_zstd"),
            description=f"Build a PEX with {ZSTANDARD_REQUIREMENT}",
        ),
    )
    process = await Get(Process, PexProcess(pex, description="zstd"))
    return ZstdCompressor(
        argv=tuple(process.argv),
        input_digest=process.input_digest,
        immutable_input_digests=process.immutable_input_digests,
        env=process.env,
        append_only_caches=process.append_only_caches,
    )


def rules():
    # Pex building, so keel works without the Python backend enabled.
    return [*collect_rules(), *pex.rules()]
