"""The `[rpm-sign]` key: looked up once per run, detached signatures made with it, and its
public part.

Everything keel signs (RPMs and repomd.xml of an rpm_repository, the manifest of an
update_image) uses this key, through the shell steps of scripts/gnupg.sh. The key never enters
the sandbox's inputs or the cache: signing runs in a copy of the GnuPG home, and only the key's
fingerprint is in the cache key. The public part is exported once per run, so a repository and
the images that carry it (`repos`) hold the same bytes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, DigestEntries, FileContent, FileEntry, MergeDigests
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from rules.core.failure import check_process
from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.rpm.subsystems.rpm_sign import RpmSignSubsystem

_SCRIPTS = Path(__file__).parent.parent / "scripts"
GNUPG_SH = (_SCRIPTS / "gnupg.sh").read_bytes()
_SIGN_FILE = (_SCRIPTS / "sign_file.sh").read_bytes()
SIGNING_TOOLS = ("gpg", "gpgconf", "gpg-agent", "cp", "mkdir")


class SigningKeyError(Exception):
    pass


@dataclass(frozen=True)
class SigningKey:
    """The key of `[rpm-sign]`, or no key (`fingerprint` empty)."""

    fingerprint: str = ""
    created: int = 0
    gnupg_home: str = ""

    def sign_time(self, source_date_epoch: int) -> int:
        """When signatures are dated: SOURCE_DATE_EPOCH, or the key's creation when later (gpg
        refuses to sign before its key was made)."""
        return max(source_date_epoch, self.created)


@rule(desc="Look up the signing key", level=LogLevel.DEBUG)
async def signing_key(sign: RpmSignSubsystem, host: HostSettings) -> SigningKey:
    if not sign.key:
        return SigningKey()
    home = os.path.abspath(os.path.expanduser(sign.gnupg_home or "~/.gnupg"))
    tools = await Get(HostTools, HostToolsRequest(("gpg",), host.search_path))
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=(tools["gpg"], "--homedir", home, "--batch", "--no-auto-check-trustdb",
                  "--with-colons", "--list-keys", "--", sign.key),
            env={"PATH": host.path_env, "KEEL_HOST_TOOLS": tools.identity},
            description=f"Look up the signing key {sign.key}",
            level=LogLevel.DEBUG,
            # The home is outside the sandbox and may change between runs: ask again each run.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    keys = []
    for line in result.stdout.decode().splitlines():
        fields = line.split(":")
        # Public keys only: listing secret keys would start a gpg-agent in the user's home.
        if fields[0] == "pub":
            keys.append([int(fields[5]), ""])
        elif fields[0] == "fpr" and keys and not keys[-1][1]:
            keys[-1][1] = fields[9]
    if result.exit_code != 0 or len(keys) != 1:
        found = "no key" if not keys else f"{len(keys)} keys"
        raise SigningKeyError(
            f"`[rpm-sign].key` is {sign.key!r}, which names {found} in the GnuPG home {home} "
            "(`[rpm-sign].gnupg_home`). Give the fingerprint of one key whose secret key is "
            "there (`gpg --homedir HOME --list-secret-keys` lists them), or unset the key to publish "
            f"unsigned.\n{result.stderr.decode(errors='replace')}"
        )
    return SigningKey(keys[0][1], keys[0][0], home)


def signing_env(host: HostSettings, tools: HostTools, key: SigningKey) -> dict[str, str]:
    """What a process running gnupg.sh's steps needs in its environment."""
    return {
        "PATH": host.path_env,
        "HOME": "{chroot}",
        "KEEL_HOST_TOOLS": tools.identity,
        # The key's identity: the home is read by absolute path, outside the cache key.
        "KEEL_SIGNING_KEY": key.fingerprint,
        "GPG": tools["gpg"],
        "GPGCONF": tools["gpgconf"],
    }


@dataclass(frozen=True)
class DetachedSignatureRequest:
    """A binary detached signature of `path` (in `digest`) by `key`, written to `output`, dated
    `key.sign_time(source_date_epoch)`."""

    digest: Digest
    path: str
    output: str
    key: SigningKey
    source_date_epoch: int
    description_of_origin: str  # e.g. "the update manifest of images/core:update"


@dataclass(frozen=True)
class DetachedSignature:
    digest: Digest  # `output` alone


@rule(desc="Sign a file", level=LogLevel.DEBUG)
async def detached_signature(request: DetachedSignatureRequest, host: HostSettings) -> DetachedSignature:
    key = request.key
    if not key.fingerprint:
        raise SigningKeyError(f"No `[rpm-sign].key` to sign {request.description_of_origin} with.")
    tools, scripts = await MultiGet(
        Get(HostTools, HostToolsRequest(SIGNING_TOOLS, host.search_path)),
        Get(Digest, CreateDigest([FileContent("gnupg.sh", GNUPG_SH), FileContent("sign_file.sh", _SIGN_FILE)])),
    )
    process = Process(
        argv=(
            tools["sh"], "sign_file.sh", key.fingerprint, key.gnupg_home,
            str(key.sign_time(request.source_date_epoch)), request.path, request.output,
        ),
        input_digest=await Get(Digest, MergeDigests([scripts, request.digest])),
        env=signing_env(host, tools, key),
        output_files=(request.output,),
        description=f"Sign {request.description_of_origin} with {key.fingerprint}",
        level=LogLevel.DEBUG,
    )
    result = await Get(FallibleProcessResult, Process, process)
    await check_process(result, process.description, f"Signing {request.description_of_origin} failed.")
    return DetachedSignature(result.output_digest)


@dataclass(frozen=True)
class PublicKeyRequest:
    armor: bool = True  # ASCII armour, as dnf and tdnf read a `gpgkey=`; False: binary (gpgv's keyring)


@dataclass(frozen=True)
class PublicKey:
    """The public part of the `[rpm-sign]` key: `digest` holds the one file `public-key`.
    Without a key, `fingerprint` is empty, `digest` empty and `file` None."""

    fingerprint: str
    digest: Digest
    file: FileEntry | None


# The export reads only the public keyring, from a copy: the user's home is never written.
_EXPORT = r"""
home="$PWD/gnupg"; mkdir -m 0700 "$home"
for entry in pubring.kbx pubring.gpg; do
  if [ -e "$1/$entry" ]; then cp "$1/$entry" "$home/"; fi
done
"$GPG" --homedir "$home" --batch --no-auto-check-trustdb $3 --export "$2" > public-key
[ -s public-key ]
"""


@rule(desc="Export the signing key's public part", level=LogLevel.DEBUG)
async def public_key(request: PublicKeyRequest, host: HostSettings) -> PublicKey:
    key = await Get(SigningKey)
    if not key.fingerprint:
        return PublicKey("", EMPTY_DIGEST, None)
    tools = await Get(HostTools, HostToolsRequest(("gpg", "cp", "mkdir"), host.search_path))
    process = Process(
        argv=(tools["sh"], "-c", _EXPORT, "sh", key.gnupg_home, key.fingerprint, "--armor" if request.armor else ""),
        env={"PATH": host.path_env, "KEEL_HOST_TOOLS": tools.identity, "GPG": tools["gpg"]},
        output_files=("public-key",),
        description=f"Export the public key {key.fingerprint}",
        level=LogLevel.DEBUG,
        # Read from outside the sandbox: a key's public part changes when its expiry is extended.
        cache_scope=ProcessCacheScope.PER_SESSION,
    )
    result = await Get(FallibleProcessResult, Process, process)
    await check_process(result, process.description, f"Exporting the public part of `[rpm-sign].key` {key.fingerprint} failed.")
    entries = await Get(DigestEntries, Digest, result.output_digest)
    return PublicKey(key.fingerprint, result.output_digest, next(e for e in entries if isinstance(e, FileEntry)))


def rules():
    return collect_rules()
