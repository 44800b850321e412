"""An SPDX 2.3 JSON SBOM for an image: the image, every RPM in it (name, version-release, arch,
license, sha256) and the sources each RPM was built from (file name, sha256). An image with a
`base`: the base image too, the image DESCENDANT_OF it, and each RPM the base holds as well
CONTAINED in the base (and a comment saying so)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

from rules.image.util_rules.image_root import InstalledRpm

# The characters of an SPDX license expression; anything else is reported as NOASSERTION, with
# the RPM's own License tag kept in a comment.
_LICENSE_EXPRESSION = re.compile(r"^[A-Za-z0-9.+\-() ]+$")


def _spdx_id(*parts: str) -> str:
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.\-]", "-", "-".join(parts))


def spdx_document(
    name: str,
    image_file: str,
    image_sha256: str,
    rpms: tuple[InstalledRpm, ...],
    epoch: int,
    base: tuple[str, frozenset[str]] | None = None,  # the base image's address, its RPMs' sha256
) -> str:
    image_id = _spdx_id("Image", image_file)
    packages = [
        {
            "SPDXID": image_id,
            "name": image_file,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "checksums": [{"algorithm": "SHA256", "checksumValue": image_sha256}],
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        }
    ]
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id}
    ]
    if base is not None:
        base_id = _spdx_id("BaseImage", base[0])
        packages.append(
            {
                "SPDXID": base_id,
                "name": base[0],
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "primaryPackagePurpose": "OPERATING-SYSTEM",
                "comment": "The image this one is built on (its `base`); its RPMs are marked here.",
            }
        )
        relationships.append({"spdxElementId": image_id, "relationshipType": "DESCENDANT_OF", "relatedSpdxElement": base_id})
    sources_seen: set[str] = set()
    for rpm in rpms:
        from_base = base is not None and rpm.sha256 in base[1]
        rpm_id = _spdx_id("RPM", rpm.name, rpm.version, rpm.release, rpm.arch)
        valid_license = bool(_LICENSE_EXPRESSION.match(rpm.license))
        package = {
            "SPDXID": rpm_id,
            "name": rpm.name,
            "versionInfo": f"{rpm.version}-{rpm.release}",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": rpm.license if valid_license else "NOASSERTION",
            "checksums": [{"algorithm": "SHA256", "checksumValue": rpm.sha256}],
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": f"pkg:rpm/keel/{rpm.name}@{rpm.version}-{rpm.release}?arch={rpm.arch}",
                }
            ],
            "primaryPackagePurpose": "LIBRARY" if rpm.name.startswith("lib") else "APPLICATION",
            "comment": f"Built by keel from the rpm_package {rpm.target}."
            + (f" From the base image {base[0]}." if from_base else "")
            + ("" if valid_license else f" RPM License tag: {rpm.license}"),
        }
        packages.append(package)
        relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": rpm_id})
        if from_base:
            relationships.append({"spdxElementId": base_id, "relationshipType": "CONTAINS", "relatedSpdxElement": rpm_id})
        for filename, sha256 in rpm.sources:
            source_id = _spdx_id("Source", sha256[:16], filename)
            if source_id not in sources_seen:
                sources_seen.add(source_id)
                packages.append(
                    {
                        "SPDXID": source_id,
                        "name": filename,
                        "downloadLocation": "NOASSERTION",
                        "filesAnalyzed": False,
                        "checksums": [{"algorithm": "SHA256", "checksumValue": sha256}],
                        "primaryPackagePurpose": "SOURCE",
                    }
                )
            relationships.append(
                {"spdxElementId": rpm_id, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": source_id}
            )
    created = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        # A URI unique to this image's content, with no host name: a name-based UUID URN.
        "documentNamespace": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"keel:{name}:{image_sha256}")),
        "creationInfo": {"created": created, "creators": ["Tool: keel"]},
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
