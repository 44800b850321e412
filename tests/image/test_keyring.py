"""The update keyring images hold: the `[rpm-sign]` key's public part, or nothing."""
from __future__ import annotations

import pytest
from pants.engine.fs import EMPTY_DIGEST, EMPTY_FILE_DIGEST, CreateDigest, Digest
from pants.engine.process import FallibleProcessResult, Process
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict

from rules.core.host_tools import HostTools, HostToolsRequest
from rules.core.subsystems import HostSettings
from rules.image.util_rules.keyring import KEYRING_PATH, UpdateKeyring, update_keyring
from rules.rpm.util_rules.signing import SigningKey, SigningKeyError

FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"
KEYRING_DIGEST = Digest("a" * 64, 1)


def keyring(key: SigningKey, exported: bytes = b"\x99public key packets") -> tuple[UpdateKeyring, list]:
    """The rule's result, and what it ran and wrote."""
    seen: list = []

    def run(process: Process) -> FallibleProcessResult:
        seen.append(process)
        return FallibleProcessResult(
            stdout=exported, stdout_digest=EMPTY_FILE_DIGEST, stderr=b"", stderr_digest=EMPTY_FILE_DIGEST,
            exit_code=0, output_digest=EMPTY_DIGEST, metadata=None,
        )

    def create(request: CreateDigest) -> Digest:
        seen.append(request)
        return KEYRING_DIGEST

    result = run_rule_with_mocks(
        update_keyring,
        rule_args=[HostSettings(("/usr/bin",))],
        mock_gets=[
            MockGet(output_type=SigningKey, input_types=(), mock=lambda: key),
            MockGet(
                output_type=HostTools,
                input_types=(HostToolsRequest,),
                mock=lambda _: HostTools(FrozenDict({"gpg": "/usr/bin/gpg"}), "gpg-identity"),
            ),
            MockGet(output_type=FallibleProcessResult, input_types=(Process,), mock=run),
            MockGet(output_type=Digest, input_types=(CreateDigest,), mock=create),
        ],
    )
    return result, seen


def test_without_a_key_images_hold_no_keyring() -> None:
    result, seen = keyring(SigningKey())
    assert result == UpdateKeyring(EMPTY_DIGEST) and seen == []


def test_with_a_key_images_hold_its_public_part() -> None:
    result, (process, created) = keyring(SigningKey(FINGERPRINT, 1, "/home/ci/gnupg"))
    assert result == UpdateKeyring(KEYRING_DIGEST, FINGERPRINT)
    # The public key, exported from the configured home; the fingerprint is in the key of the
    # action, the secret key is never read.
    assert process.argv[-2:] == ("--export", FINGERPRINT)
    assert ("--homedir", "/home/ci/gnupg") == process.argv[1:3]
    assert "--export-secret-keys" not in process.argv
    assert process.env["KEEL_SIGNING_KEY"] == FINGERPRINT
    assert [(f.path, f.content) for f in created] == [(f"extra{KEYRING_PATH}", b"\x99public key packets")]
    assert KEYRING_PATH == "/etc/keel/update-keyring.gpg"


def test_a_key_gpg_cannot_export_is_an_error() -> None:
    with pytest.raises(SigningKeyError, match=r"gave no public key for the update keyring of images"):
        keyring(SigningKey(FINGERPRINT, 1, "/home/ci/gnupg"), exported=b"")
