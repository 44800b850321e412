"""For each zstd file: the sha384 of its bytes and the window log its frame header declares (what
a reader must allow to decompress it: COSI's `compression.maxWindowLog`). Run by the host's
python3 next to the compressor; prints one JSON object keyed by path.

usage: zst_facts.py FILE...
"""
import hashlib
import json
import sys

MAGIC = b"\x28\xb5\x2f\xfd"


def window_log(header: bytes) -> int:
    """The smallest window log that holds the frame's window: from the Window_Descriptor byte
    (exponent and mantissa), or, in a single-segment frame, from the content size."""
    if header[:4] != MAGIC:
        raise ValueError("not a zstd frame")
    descriptor = header[4]
    single_segment = descriptor >> 5 & 1
    if not single_segment:
        exponent, mantissa = header[5] >> 3, header[5] & 7
        base = 1 << (10 + exponent)
        size = base + (base >> 3) * mantissa
    else:
        # Frame_Content_Size follows the descriptor (and a dictionary id, if any).
        dictionary_bytes = (0, 1, 2, 4)[descriptor & 3]
        size_bytes = (1, 2, 4, 8)[descriptor >> 6]
        start = 5 + dictionary_bytes
        size = int.from_bytes(header[start : start + size_bytes], "little") + (256 if size_bytes == 2 else 0)
    return max(10, (size - 1).bit_length())


def main() -> None:
    facts = {}
    for path in sys.argv[1:]:
        digest = hashlib.sha384()
        with open(path, "rb") as f:
            header = f.read(18)
            digest.update(header)
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        facts[path] = {"sha384": digest.hexdigest(), "window_log": window_log(header)}
    json.dump(facts, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
