"""`NAME.signatures.json`: the sha256 of every source a spec uses, as Azure Linux keeps them."""
from __future__ import annotations

import json
import re

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class InvalidSignaturesError(Exception):
    pass


def parse_signatures(path: str, content: bytes) -> dict[str, str]:
    """Returns {file name: sha256}; raises one clear error for anything else."""
    fix = 'It must look like {"Signatures": {"file.tar.gz": "<64 hex digits of sha256>"}}.'
    try:
        data = json.loads(content)
    except ValueError as e:
        raise InvalidSignaturesError(f"{path} is not valid JSON ({e}). {fix}")
    # Azure Linux's toolkit reads these with Go's encoding/json, which matches keys without
    # regard to case: some of its files say "signatures".
    signatures = next(
        (v for k, v in data.items() if k.lower() == "signatures"), None
    ) if isinstance(data, dict) else None
    if not isinstance(signatures, dict):
        raise InvalidSignaturesError(f'{path} has no "Signatures" object. {fix}')
    for filename, sha256 in signatures.items():
        if not isinstance(sha256, str) or not _SHA256.match(sha256.lower()):
            raise InvalidSignaturesError(
                f"{path}: the signature of {filename!r} is not a sha256 ({sha256!r}). {fix}"
            )
    return {filename: sha256.lower() for filename, sha256 in signatures.items()}
