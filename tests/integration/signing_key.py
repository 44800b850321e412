"""Throw-away GnuPG signing keys for tests that sign (repositories, update artifacts)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def make_key(home: Path, name: str) -> str:
    """A throw-away signing key without passphrase; its fingerprint."""
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"{name} <t@localhost>", "rsa2048", "sign", "never"],
        env=env, check=True, capture_output=True,
    )
    listing = subprocess.run(["gpg", "--with-colons", "--list-keys"], env=env, check=True, capture_output=True, text=True)
    return next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:"))


def kill_agent(home: Path) -> None:
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


def signing_env(home: Path, fingerprint: str) -> dict[str, str]:
    """The key handed to Pants as CI does: through the environment."""
    return {"PANTS_RPM_SIGN_KEY": fingerprint, "PANTS_RPM_SIGN_GNUPG_HOME": str(home)}


def export_key(home: Path, fingerprint: str) -> bytes:
    """The armored public key, as `gpg --armor --export` writes it."""
    return subprocess.run(
        ["gpg", "--armor", "--export", fingerprint], env={**os.environ, "GNUPGHOME": str(home)},
        check=True, capture_output=True,
    ).stdout
