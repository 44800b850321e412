"""Print a package seed's manifest, a local path or a URL, to stdout (runs in a Pants sandbox,
with the host's python3; standard library only).

usage: read_seed.py LOCATION

Exit 2 when there is no such file (a path that does not exist, an HTTP 404), 1 for any other
failure, with the reason on stderr.
"""
import sys
import urllib.error
import urllib.request


def main(location):
    try:
        if "://" in location:
            with urllib.request.urlopen(location, timeout=60) as response:
                data = response.read()
        else:
            with open(location, "rb") as f:
                data = f.read()
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    except urllib.error.HTTPError as e:
        print(e, file=sys.stderr)
        return 2 if e.code == 404 else 1
    except urllib.error.URLError as e:  # file:// URLs
        print(e, file=sys.stderr)
        return 2 if isinstance(e.reason, FileNotFoundError) else 1
    except Exception as e:  # any other reason: say it, the rule names the option and the fix
        print(e, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
