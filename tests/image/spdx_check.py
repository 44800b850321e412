"""SBOMs checked by the SPDX project's own tools (spdx-tools from the package registry): parsed as
SPDX 2.3 JSON and validated in full (required fields, identifiers, relationships, checksums,
license expressions)."""
from __future__ import annotations

from pathlib import Path

from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document


def spdx_problems(path: Path) -> list[str]:
    """What the validator finds wrong in the document at `path` (a parse error raises)."""
    document = parse_file(str(path))
    return [message.validation_message for message in validate_full_spdx_document(document)]
