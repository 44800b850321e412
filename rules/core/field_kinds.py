"""What the strings of a field are, said by its type so that tools can read it.

`./pants help-all` prints each field's type from its `compute_value` annotation
(`Iterable[PackageEntry] | None`). The BUILD-file language server (build-support/lsp) takes a
field's kind from that element type, so a target type that adds a package field gets completion,
hover and go-to-definition without the server knowing the target type.
"""
from __future__ import annotations

from typing import Iterable, NewType, Optional, Tuple

from pants.engine.addresses import Address
from pants.engine.target import StringSequenceField

# A binary package name (`"kv-conf"`), or an address (`"//specs/kvtool"`, `":base"`: it holds
# `/` or `:`), as images, package sets and repositories take them.
PackageEntry = NewType("PackageEntry", str)


class PackageEntriesField(StringSequenceField):
    """A field of package names and addresses (subclasses set alias and help)."""

    @classmethod
    def compute_value(
        cls, raw_value: Optional[Iterable[PackageEntry]], address: Address
    ) -> Optional[Tuple[str, ...]]:
        return super().compute_value(raw_value, address)
