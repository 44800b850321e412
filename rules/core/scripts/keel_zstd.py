"""Compress stdin to stdout as one zstd frame, with a pinned library, so bytes are the same on
every machine (a host `zstd` of another version may choose other encodings).

usage: keel_zstd.py compress LEVEL < in > out
"""
import sys

import zstandard


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "compress":
        sys.exit("usage: keel_zstd compress LEVEL < in > out")
    # threads=0: one thread, one deterministic frame; checksums let readers detect corruption.
    compressor = zstandard.ZstdCompressor(level=int(sys.argv[2]), threads=0, write_checksum=True)
    compressor.copy_stream(sys.stdin.buffer, sys.stdout.buffer, read_size=1 << 20, write_size=1 << 20)


if __name__ == "__main__":
    main()
