"""scripts/layer_diff.py: the layer between two roots as make_root.sh packs them: changed entries
byte for byte, whiteouts for what is gone, hard link groups whole."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "rules" / "image" / "scripts" / "layer_diff.py"
spec = importlib.util.spec_from_file_location("layer_diff", SCRIPT)
layer_diff = importlib.util.module_from_spec(spec)
spec.loader.exec_module(layer_diff)


def pack(root: Path, out: Path) -> Path:
    # make_root.sh's options.
    subprocess.run(
        [
            "tar", "--sort=name", "--format=posix",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
            "--numeric-owner", "--owner=0", "--group=0", "--mtime=@1000", "-C", str(root), "-cf", str(out), ".",
        ],
        check=True,
    )
    return out


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_changed_entries_whiteouts_and_link_groups(tmp_path: Path) -> None:
    base, image = tmp_path / "base", tmp_path / "image"
    common = {"etc/kept": "same\n", "etc/changed": "old\n", "gone/a": "a\n", "gone/sub/b": "b\n", "etc/.dot": "x\n"}
    write(base, {**common, "etc/removed": "r\n", "lib/data": "d\n"})
    write(image, {**common, "etc/changed": "new\n", "usr/share/team/new": "n\n", "lib/data": "d\n"})
    # A hard link added to a file the base has unchanged: the group goes into the layer whole.
    os.link(image / "lib/data", image / "lib/data-link")
    shutil.rmtree(image / "gone")
    layer_diff.main(str(pack(base, tmp_path / "base.tar")), str(pack(image, tmp_path / "image.tar")), str(tmp_path / "out.tar"))

    with tarfile.open(tmp_path / "out.tar") as out:
        names = out.getnames()
        link = out.getmember("./lib/data-link")
    assert names == [
        "./etc/changed", "./lib/data", "./lib/data-link", "./usr", "./usr/share", "./usr/share/team",
        "./usr/share/team/new", "./etc/.wh.removed", "./.wh.gone",
    ]
    assert link.islnk() and link.linkname == "./lib/data"
    # Copied, not rewritten: each entry's bytes are the image archive's.
    image_members, out_members = layer_diff.members(str(tmp_path / "image.tar")), layer_diff.members(str(tmp_path / "out.tar"))
    for name in ("etc/changed", "lib/data", "usr/share/team/new"):
        assert out_members[name][1] == image_members[name][1]
    # Unpacking the base, then the layer (whiteouts applied by hand, as a runtime does), gives the image.
    applied = tmp_path / "applied"
    subprocess.run(["tar", "-xf", str(tmp_path / "base.tar"), "-C", str(applied.mkdir() or applied)], check=True)
    subprocess.run(["tar", "-xf", str(tmp_path / "out.tar"), "-C", str(applied)], check=True)
    for whiteout in list(applied.rglob(".wh.*")):
        target = whiteout.with_name(whiteout.name[len(".wh."):])
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        whiteout.unlink()

    def listing(root: Path) -> dict[str, bytes | None]:
        return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}

    assert listing(applied) == listing(image)
