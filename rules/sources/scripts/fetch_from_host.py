"""Find one pinned file by sha256 in the host's package registries (runs in a Pants sandbox, with
the host's python3, when fetch_source.py found it in neither the source cache nor a mirror nor at
its URL).

usage: fetch_from_host.py NAME SHA256 STORE STATE [--url URL] [--spec-dir NAME] [--apt-dir DIR]
                          [--suites LIST] [--pypi-index URL ... | --no-pypi-index WHY]
       fetch_from_host.py --pip-indexes

--pip-indexes prints pip's simple indexes as JSON ({"indexes": [...], "note": why none}): keel
asks once per run and passes them to every lookup with --pypi-index (pip takes a second to ask).

Looks in Debian's source indexes (through a persistent index under STATE, a Pants named cache:
see host_registries.PersistentDebianIndex), then PyPI's simple indexes (pip's configuration),
then npm (`npm pack`), as `build-support/source-cache from-host` does. The first file whose sha256
is SHA256 is written to ./NAME and to STORE (the named cache fetch_source.py looks in first, so
the next fetch of it needs no registry); stdout says where it came from. Otherwise exit 1 with a
line `  REGISTRY: why not` for each registry. Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import host_registries as hr  # noqa: E402  # pants: no-infer-dep


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def from_debian(args, dest: Path):
    # Resolved: the named cache is a symlink in the sandbox, and apt wants absolute paths.
    index = hr.PersistentDebianIndex(Path(args.state).resolve(), Path(args.apt_dir), args.suites, log)
    found, why = index.find(args.sha256, dest)
    if found:
        suite, uri = found
        return f"Debian {suite} ({uri.rsplit('/', 1)[-1]})", None
    return None, why


def from_pypi(args, dest: Path):
    names = hr.pypi_projects(args.name, [args.url] if args.url else [], [args.spec_dir] if args.spec_dir else [])
    if not names:
        return None, (
            "not looked in: the file is not named like a Python sdist (NAME-VERSION.tar.gz, .tar.bz2, "
            ".zip) and its URL names no PyPI project"
        )
    indexes, note = (args.pypi_index, args.no_pypi_index) if args.pypi_index or args.no_pypi_index else hr.pip_indexes()
    if not indexes:
        return None, f"not looked in: {note}"
    simple = hr.SimpleIndex(indexes)
    for name in names:
        simple.fetch(name)
    match, why = simple.match(args.sha256, names)
    if match is None:
        return None, why
    project, file_name, url = match
    error = hr.url_download(url, args.sha256, dest)
    if error:
        return None, hr.pypi_download_failure(project, file_name, error)
    return f"PyPI project {project} ({file_name})", None


def from_npm(args, dest: Path):
    tarball = hr.NPM_TARBALL.match(args.name)
    if not tarball:
        return None, "not looked in: the file is not named like an npm tarball (NAME-X.Y.Z.tgz)"
    if not shutil.which("npm"):
        return None, "not looked in: no npm here"
    name, version = tarball.group("name"), tarball.group("version")
    error = hr.npm_pack(name, version, args.sha256, dest)
    if error:
        return None, error
    return f"npm {name}@{version}", None


REGISTRIES = (("Debian", from_debian), ("PyPI", from_pypi), ("npm", from_npm))


def main() -> int:
    if sys.argv[1:] == ["--pip-indexes"]:
        indexes, note = hr.pip_indexes()
        print(json.dumps({"indexes": indexes, "note": note}))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("sha256")
    parser.add_argument("store")
    parser.add_argument("state")
    parser.add_argument("--url")
    parser.add_argument("--spec-dir")
    parser.add_argument("--apt-dir", default="/etc/apt")
    parser.add_argument("--suites", default=hr.DEFAULT_SUITES)
    parser.add_argument("--pypi-index", action="append", default=[], help="default: pip's, asked of pip")
    parser.add_argument("--no-pypi-index", metavar="WHY", help="pip has none to give, and why")
    args = parser.parse_args()
    args.suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    args.sha256 = args.sha256.lower()

    reasons = []
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        dest = Path(tmp) / "found"
        for registry, lookup in REGISTRIES:
            try:
                origin, why = lookup(args, dest)
            except Exception as e:  # a registry that fails says so; the next one is still tried
                origin, why = None, f"failed: {type(e).__name__}: {e}"
            if origin is None:
                reasons.append(f"  {registry}: {why}")
                continue
            # Verified again here, whatever the registry's client said: only the pin's bytes go on.
            actual = hr.sha256_of(dest)
            if actual != args.sha256:
                reasons.append(f"  {registry}: {origin} has sha256 {actual}, refused")
                dest.unlink()
                continue
            os.makedirs(args.store, exist_ok=True)
            # A name of its own: another build may be storing the same file at the same time.
            fd, copy = tempfile.mkstemp(dir=args.store, prefix=f"{args.sha256}.", suffix=".partial")
            os.close(fd)
            shutil.copyfile(dest, copy)
            os.replace(copy, os.path.join(args.store, args.sha256))
            os.replace(dest, args.name)
            print(f"{args.name}: from {origin}, sha256 checked")
            return 0
    print(f"{args.name} with sha256 {args.sha256} is in none of the host's registries:", file=sys.stderr)
    print("\n".join(reasons), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
