#!/bin/sh
# kvget's tests, run by the spec's %check against the freshly built binary.
set -eu
kvget="$1"
conf="$(mktemp)"
trap 'rm -f "$conf"' EXIT
printf '# comment\nname = keel\n  spaced   =  a value  \nempty=\n' > "$conf"

expect() {
  if [ "$1" != "$2" ]; then echo "FAIL: expected '$2', got '$1'" >&2; exit 1; fi
}
expect "$("$kvget" -f "$conf" name)" "keel"
expect "$("$kvget" -f "$conf" spaced)" "a value"
expect "$("$kvget" -f "$conf" empty)" ""
if "$kvget" -f "$conf" missing 2>/dev/null; then echo "FAIL: missing key found" >&2; exit 1; fi
expect "$("$kvget" --version)" "kvget with libkv 1.0"
echo "kvget: all tests passed"
