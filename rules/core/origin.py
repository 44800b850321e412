"""Errors in what a target's BUILD fields say name the BUILD file: the file the user must change.

Rules raise a `TargetInputError` subclass with the target's address and field in the message
("The `size` field of images/core:vhdx: ..."); the goal rule of the target wraps its work in
`naming_build_file`, which adds the file in front ("images/core/BUILD: The `size` field...").
Pants' own BuildFileAddress is asked only when an error happened. The exception is re-raised
itself, not caught and answered with a value: pantsd must not keep an answer made from an error
(see rules/rpm/util_rules/spec_info.py).
"""
from __future__ import annotations

from typing import Awaitable, TypeVar

from pants.build_graph.address import BuildFileAddress, BuildFileAddressRequest
from pants.engine.addresses import Address
from pants.engine.rules import Get

T = TypeVar("T")


class TargetInputError(Exception):
    """A target's fields ask for something keel cannot do; the message names the target and the
    field, and says what to change. `owner`: the target whose BUILD file holds the field, when
    it is not the target being built (a toolchain stage's `packages`, for a package)."""

    def __init__(self, message: str, owner: Address | None = None) -> None:
        super().__init__(message)
        self.owner = owner
        self.build_file: str | None = None


async def build_file_of(address: Address) -> str:
    """The BUILD file that defines `address`."""
    found = await Get(
        BuildFileAddress, BuildFileAddressRequest(address, description_of_origin=f"the error of {address}")
    )
    return found.rel_path


async def naming_build_file(address: Address, work: Awaitable[T]) -> T:
    """`work`'s result; a TargetInputError it raises gets, in front, the BUILD file of its owner
    or of `address` (once: an inner goal may have named it already)."""
    try:
        return await work
    except TargetInputError as e:
        if e.build_file is None:
            e.build_file = await build_file_of(e.owner or address)
            e.args = (f"{e.build_file}: {e.args[0]}", *e.args[1:])
        raise
