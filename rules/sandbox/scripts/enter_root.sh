#!/bin/bash
# Run a command inside a build root: a root filesystem archive made by a toolchain stage.
#
# usage: enter_root.sh ARCHIVE ROOT_ID [--pack OUT | --read-only] -- COMMAND...
#
# Run by keel's rules (rules/sandbox/root.py) in the Pants sandbox, with:
#   .keel/roots          a Pants named cache; each root is unpacked there once, into ROOT_ID/
#                        (the sha256 of ARCHIVE), and never written again.
#   KEEL_ROOT_ENV        names of the variables passed into the root; all others are cleared.
#   KEEL_COMPRESS        with --pack: the command that compresses a tar stream.
#   KEEL_TMP_MIB         the size of the command's private /tmp in MiB (default: the kernel's).
#   KEEL_NAME_WORKER     1 on a remote execution worker: print "@@KEEL-WORKER <host name>" to
#                        stderr first, for the build report.
#
# Each run gets its own writable view of the root: an overlay whose upper layer is a tmpfs that
# is thrown away afterwards. Inside, bubblewrap gives a private /dev, /proc, /tmp, IPC, UTS and
# PID namespaces, a network with only `lo`, and the Pants sandbox at /tmp/build, the working
# directory. Nothing of the host's filesystem is visible.
#
# --read-only: no overlay; the command sees the unpacked root read-only (queries such as rpmspec).
#
# --pack OUT: after COMMAND succeeds, write the changed root as a deterministic tar (sorted names,
# numeric owners, mtimes clamped to SOURCE_DATE_EPOCH), compressed by KEEL_COMPRESS, to OUT.
#
# As root the unpacked root keeps every owner; as an ordinary user, the root is unpacked and used
# inside a user namespace that maps the user to root (unprivileged user namespaces are required;
# see "ns_args" below for the owners other than root).
set -euo pipefail

# The second half: overlay (unless read-only) + bubblewrap, in a private mount namespace, or as
# root for a read-only run (no mount is made) in this process.
inside() {
  local lower="$1" sandbox="$2" pack="$3"
  shift 4  # also drops "--"
  local env_args=() name value root_bind bwrap_argv tmp_args  # not `work`: the EXIT trap reads it
  for name in ${KEEL_ROOT_ENV:-}; do
    value="${!name-}"
    [ "$name" = PATH ] && value="$KEEL_ROOT_PATH"  # PATH out here is the host's
    env_args+=(--setenv "$name" "$value")
  done
  # KEEL_TMP_MIB: the size of the private /tmp, a tmpfs (default: half the machine's memory).
  tmp_args=(--tmpfs /tmp)
  [ -z "${KEEL_TMP_MIB:-}" ] || tmp_args=(--size $((KEEL_TMP_MIB * 1048576)) --tmpfs /tmp)
  if [ "$pack" = --read-only ]; then
    root_bind=(--ro-bind "$lower" /)
  else
    work=$(mktemp -d "${TMPDIR:-/tmp}/keel-root.XXXXXX")
    # The tmpfs mount point is an empty directory on the host: remove it when done.
    trap 'umount -l "$work" 2>/dev/null; rmdir "$work" 2>/dev/null || true' EXIT
    mount -t tmpfs keel-root "$work"
    mkdir "$work/upper" "$work/work" "$work/merged"
    mount -t overlay keel-root -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$work/merged"
    root_bind=(--bind "$work/merged" /)
  fi
  bwrap_argv=(
    bwrap --die-with-parent
    "${root_bind[@]}"
    --dev /dev --proc /proc "${tmp_args[@]}" --tmpfs /var/tmp
    --bind "$sandbox" /tmp/build --chdir /tmp/build
    --unshare-net --unshare-ipc --unshare-uts --unshare-pid --hostname keel
    --clearenv "${env_args[@]}"
    "$@"
  )
  # Read-only, nothing is left to clean up: bubblewrap takes this process's place.
  if [ "$pack" = --read-only ]; then exec "${bwrap_argv[@]}"; fi
  "${bwrap_argv[@]}" || exit $?
  [ -n "$pack" ] || exit 0
  # rpm recreates rpmdb.sqlite-shm (a shared-memory index) whenever it opens the database;
  # ldconfig's aux-cache records inode numbers and ctimes: both differ from run to run.
  tar --sort=name --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --numeric-owner --mtime="@${SOURCE_DATE_EPOCH}" --clamp-mtime \
    --exclude=./var/lib/rpm/rpmdb.sqlite-shm --exclude=./var/lib/rpm/.rpm.lock \
    --exclude=./var/cache/ldconfig/aux-cache \
    -C "$work/merged" -cf - . | $KEEL_COMPRESS > "$sandbox/$pack"
  exit 0
}

if [ "${1:-}" = --inside ]; then
  shift
  inside "$@"
fi

archive="$1" root_id="$2"
shift 2
pack=""
if [ "$1" = --pack ]; then pack="$2"; shift 2; fi
if [ "$1" = --read-only ]; then pack="--read-only"; shift; fi
[ "$1" = -- ] || { echo "usage: enter_root.sh ARCHIVE ROOT_ID [--pack OUT | --read-only] -- COMMAND..." >&2; exit 2; }

# On a remote execution worker (KEEL_NAME_WORKER=1, set by keel for remote actions only), name
# the machine for the build report: its host name, as its container or host sets it.
if [ "${KEEL_NAME_WORKER:-}" = 1 ]; then
  read -r worker < /proc/sys/kernel/hostname
  echo "@@KEEL-WORKER $worker" >&2
fi

roots="$(cd -P .keel/roots && pwd)"
root="$roots/$root_id"
# An ordinary user enters the root in a user namespace that maps it to root. With a range of
# subordinate ids (its lines in /etc/subuid and /etc/subgid, and newuidmap/newgidmap), the range
# maps to ids 1 and up (unshare --map-auto), so a root's files keep their owners and an image's
# users can own their homes, as when run as root. Without one, only root exists in the namespace:
# the root is unpacked with every file the user's (a separate unpack: ROOT_ID.one-owner), and a
# command that gives a file another owner fails.
ns_args=()
unpack=()
owner_args=(--same-owner)
if [ "$EUID" != 0 ]; then
  ns_args=(--map-root-user)
  if unshare --map-auto --map-root-user true 2>/dev/null; then
    ns_args=(--map-auto --map-root-user)
    unpack=(unshare "${ns_args[@]}")
  else
    owner_args=(--no-same-owner)
    root="$root.one-owner"
  fi
fi
# The root's lock file: an unpack holds it exclusively; a run in the root holds it shared for as
# long as any of its processes lives (bubblewrap and the command inherit fd 9), so
# build-support/cache-clean, which removes a root only under an exclusive lock, never removes one
# in use. Opening it (O_TRUNC) also stamps its mtime: the root's last use, for cache-clean's age.
# An unpack goes to ROOT_ID.partial and is renamed into place with the marker in it: a root
# without .keel-complete is never used, and an interrupted unpack's leftovers are removed by the
# next one.
exec 9>"$root.lock"
while :; do
  flock -s 9
  [ -e "$root/.keel-complete" ] && break
  # Unpack once per archive digest; concurrent builds wait for the first one. (Not a conversion
  # of the shared lock: unlocked in between, so whatever happened meanwhile is looked at again.)
  flock -u 9
  flock -x 9
  if [ ! -e "$root/.keel-complete" ]; then
    "${unpack[@]}" rm -rf "$root.partial" "$root"
    mkdir -p "$root.partial"
    # /dev comes from bubblewrap; device nodes cannot be made without privileges.
    # tar stops at the end-of-archive blocks and may leave zstd writing the last padding into a
    # closed pipe (SIGPIPE, 141): only tar's status tells whether the root is complete.
    set +o pipefail
    zstd -dc < "$archive" | "${unpack[@]}" tar -x -p --numeric-owner "${owner_args[@]}" --exclude='./dev/*' -C "$root.partial"
    statuses=("${PIPESTATUS[@]}")
    set -o pipefail
    case "${statuses[0]}" in
      0|141) ;;
      *) echo "keel: cannot decompress the build root $archive (zstd exit ${statuses[0]})" >&2; exit 1 ;;
    esac
    touch "$root.partial/.keel-complete"
    mv "$root.partial" "$root"
  fi
  flock -u 9
done

# Each process costs milliseconds, and a graph reads thousands of specs read-only: as root, no
# mount namespace is needed for that, nor a second shell.
if [ "$pack" = --read-only ] && [ "$EUID" = 0 ]; then
  inside "$root" "$PWD" "$pack" "$@"
fi
unshare_args=(--mount --propagation private)
if [ "$EUID" != 0 ]; then
  unshare_args+=("${ns_args[@]}")
  if ! unshare "${unshare_args[@]}" true 2>/dev/null; then
    echo "keel: cannot enter the build root: this user may not create user namespaces" \
      "(unshare ${ns_args[*]} failed). Run as root, or allow unprivileged user namespaces" \
      "(sysctl kernel.unprivileged_userns_clone=1, or user.max_user_namespaces > 0)." >&2
    exit 1
  fi
fi
exec unshare "${unshare_args[@]}" bash "$0" --inside "$root" "$PWD" "$pack" "$@"
