"""Fetch one source file by sha256 (runs in a Pants sandbox, with the host's python3).

usage: fetch_source.py NAME SHA256 STORE CANDIDATE...

STORE is a Pants named cache holding files by sha256, so a file is downloaded once per digest
on a machine however its candidates change. CANDIDATEs are tried in order: local paths and
file:// or http(s):// URLs. The first one whose bytes have the expected sha256 is written to
./NAME; if none has, exit 1 with what each one gave. Standard library only.
"""
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(candidate, dest):
    if "://" not in candidate:
        shutil.copyfile(candidate, dest)
        return
    with urllib.request.urlopen(candidate, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def main(name, sha256, store, *candidates):
    stored = os.path.join(store, sha256)
    if os.path.isfile(stored) and sha256_of(stored) == sha256:
        shutil.copyfile(stored, name)
        return 0
    attempts = []
    for candidate in candidates:
        fd, partial = tempfile.mkstemp(dir=".")
        os.close(fd)
        try:
            fetch(candidate, partial)
        except Exception as e:  # any failure just moves on to the next candidate
            attempts.append(f"  {candidate}: {e}")
            os.unlink(partial)
            continue
        actual = sha256_of(partial)
        if actual != sha256:
            attempts.append(f"  {candidate}: wrong content, expected sha256 {sha256}, got {actual}")
            os.unlink(partial)
            continue
        os.makedirs(store, exist_ok=True)
        # A name of its own: another build may be storing the same file at the same time.
        fd, copy = tempfile.mkstemp(dir=store, prefix=f"{sha256}.", suffix=".partial")
        os.close(fd)
        shutil.copyfile(partial, copy)
        os.replace(copy, stored)
        os.replace(partial, name)
        return 0
    print(f"could not fetch {name} with sha256 {sha256}:", file=sys.stderr)
    print("\n".join(attempts) or "  (no candidates: no cache, mirror or URL)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
