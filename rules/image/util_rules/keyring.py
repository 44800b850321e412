"""The update keyring an image holds: the public part of the `[rpm-sign]` key, which signs
update artifacts (`update_image`), at /etc/keel/update-keyring.gpg, where keel-update looks.

Without a key there is no keyring, and keel-update refuses every artifact. The key is exported
on each run (the GnuPG home is outside the sandbox); the exported bytes are an input of the
image root, so the root's cache key holds the public key, never the secret one.
"""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, FileContent
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.rpm.util_rules.signing import SigningKey, SigningKeyError

# Where keel-update (specs/core-init/keel-update) reads the keys it trusts.
KEYRING_PATH = "/etc/keel/update-keyring.gpg"


@dataclass(frozen=True)
class UpdateKeyring:
    """`extra/etc/keel/update-keyring.gpg` (an image's extra files), or nothing without a key."""

    digest: Digest
    fingerprint: str = ""


@rule(desc="Export the update keyring", level=LogLevel.DEBUG)
async def update_keyring(host: HostSettings) -> UpdateKeyring:
    key = await Get(SigningKey)
    if not key.fingerprint:
        return UpdateKeyring(EMPTY_DIGEST)
    tools = await Get(HostTools, HostToolsRequest(("gpg",), host.search_path))
    result = await Get(
        FallibleProcessResult,
        Process(
            # Binary OpenPGP packets: what `gpgv --keyring FILE` reads.
            argv=(tools["gpg"], "--homedir", key.gnupg_home, "--batch", "--no-auto-check-trustdb",
                  "--export", key.fingerprint),
            env={"PATH": host.path_env, "KEEL_HOST_TOOLS": tools.identity, "KEEL_SIGNING_KEY": key.fingerprint},
            description=f"Export the public key {key.fingerprint}",
            level=LogLevel.DEBUG,
            # The home is outside the sandbox and may change between runs: ask again each run.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    if result.exit_code != 0 or not result.stdout:
        raise SigningKeyError(
            f"`gpg --export {key.fingerprint}` in {key.gnupg_home} (`[rpm-sign].gnupg_home`) gave no "
            "public key for the update keyring of images. Check the key with `gpg --homedir HOME "
            f"--list-keys`.\n{result.stderr.decode(errors='replace')}"
        )
    digest = await Get(Digest, CreateDigest([FileContent(f"extra{KEYRING_PATH}", result.stdout)]))
    return UpdateKeyring(digest, key.fingerprint)


def rules():
    return collect_rules()
