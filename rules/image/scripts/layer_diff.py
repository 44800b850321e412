"""The OCI layer that turns one image root into another: `layer_diff.py BASE.tar IMAGE.tar OUT.tar`.

Both inputs are roots as make_root.sh packs them (GNU tar, POSIX format, sorted names, fixed
owners and times). OUT.tar holds, in IMAGE.tar's order, every entry of IMAGE.tar whose bytes
(header and data) differ from BASE.tar's entry of the same name, copied byte for byte, and a
whiteout (`.wh.NAME`, OCI image spec, "Whiteouts") for every name of BASE.tar that IMAGE.tar
lacks (one for a directory, not for what is under it). Unpacking BASE.tar's layer, then OUT.tar,
gives IMAGE.tar's files.

Written by hand: umoci computes a layer from an unpacked bundle on a filesystem (mtree), which
needs the roots unpacked with their owners, and no tool diffs two tar archives into a layer.
Copying members' bytes keeps them exactly as GNU tar wrote them; only whiteouts are new headers.
A hard link's group is kept whole: when any of its names changes, every name of the group is in
OUT.tar, so a link never points into a lower layer.
"""
from __future__ import annotations

import sys
import tarfile

BLOCK = 512


def normalized(name: str) -> str:
    """`./etc/x`, `etc/x` and `etc/x/` alike; "." for the root."""
    name = name[2:] if name.startswith("./") else name
    return name.rstrip("/") or "."


def members(path: str) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """Each member by normalized name, with its raw bytes (extended headers, header, data)."""
    found: dict[str, tuple[tarfile.TarInfo, bytes]] = {}
    with open(path, "rb") as raw, tarfile.open(path, "r:") as archive:
        for member in archive:
            end = member.offset_data + (-(-member.size // BLOCK) * BLOCK if member.isreg() else 0)
            raw.seek(member.offset)
            found[normalized(member.name)] = (member, raw.read(end - member.offset))
    return found


def whiteout(name: str, mtime: int) -> bytes:
    directory, _, leaf = name.rpartition("/")
    info = tarfile.TarInfo(f"./{directory}/.wh.{leaf}" if directory else f"./.wh.{leaf}")
    info.mode, info.mtime, info.uid, info.gid = 0o644, mtime, 0, 0
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def main(base_path: str, image_path: str, out_path: str) -> None:
    base, image = members(base_path), members(image_path)
    changed = {name for name, (_, data) in image.items() if base.get(name, (None, None))[1] != data}
    # Hard link groups (a regular file and the links naming it) go together.
    groups: dict[str, set[str]] = {}
    for name, (member, _) in image.items():
        if member.islnk():
            target = normalized(member.linkname)
            groups.setdefault(target, {target}).add(name)
    for group in groups.values():
        if group & changed:
            changed |= group
    removed = sorted(name for name in base if name not in image)
    # Only the topmost removed name: a whiteout of a directory hides what is under it.
    removed = [n for n in removed if not any(n.startswith(f"{r}/") for r in removed if r != n)]
    mtime = max((m.mtime for m, _ in image.values()), default=0)
    with open(out_path, "wb") as out:
        for name, (_, data) in image.items():
            if name in changed:
                out.write(data)
        for name in removed:
            out.write(whiteout(name, mtime))
        out.write(b"\0" * (2 * BLOCK))


if __name__ == "__main__":
    main(*sys.argv[1:])
