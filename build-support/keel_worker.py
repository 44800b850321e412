#!/usr/bin/env python3
"""keel_worker: a small REAPI worker (a "bot") for BuildGrid's Remote Workers API.

build-support/remote-exec starts these for a remote execution cluster on one machine, to try
and test keel's remote builds. Production clusters use the field's workers instead
(buildbox-worker with buildbox-run-hosttools for BuildGrid, bb-worker with bb-runner for
Buildbarn, NativeLink's worker): this one does what they do for keel's actions, nothing more.

It connects to a BuildGrid server's Bots service, asks for leases, and runs each leased
Action:

  * the lease payload is an Any holding the Action (BuildGrid 0.4.4 always stores the Action
    with the job) or, in older servers, the Action's Digest: both are accepted;
  * the Command and the input root are fetched from CAS (BatchReadBlobs for small blobs,
    ByteStream Read for big ones) into a per-worker content cache, and hard-linked from
    there into a fresh per-action directory, so a big input is fetched once per worker;
  * argv runs with exactly the Command's environment, in its working directory, with
    stdin from /dev/null, in its own process group, killed at the Action's timeout;
  * declared outputs, stdout and stderr are uploaded to CAS (BatchUpdateBlobs or ByteStream
    Write) and an ActionResult goes back as the lease result (Any), lease state COMPLETED.

Standard library + grpcio + protobuf + the generated modules that the buildgrid package
ships (buildgrid._protos...). Nothing else.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import logging
import os
import select
import shutil
import signal
import stat
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, timestamp_pb2

from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as rex
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as rex_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2 as bs
from buildgrid._protos.google.bytestream import bytestream_pb2_grpc as bs_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc, worker_pb2
from buildgrid._protos.google.rpc import code_pb2, error_details_pb2, status_pb2

LOG = logging.getLogger("keel_worker")

# BuildGrid refuses batches above 4 MiB - 1 KiB in total (and gRPC's default message limit is
# 4 MiB): stay well below for batch calls, use ByteStream above this size.
BATCH_LIMIT = 3 * 1024 * 1024
BATCH_MAX_COUNT = 400
STREAM_CHUNK = 1024 * 1024
SETPRIV = shutil.which("setpriv", path="/usr/bin:/bin")
# Cache entries carry this mtime: if a cached file is found with another mtime (or another
# size or mode), an action wrote through its hard link and the entry is thrown away.
CACHE_MTIME = 0
UNSHARE = shutil.which("unshare", path="/usr/bin:/bin")


def own_host_name(name: str) -> list[str]:
    """A command prefix: the action gets a UTS namespace of its own named `name`, as it would on
    a machine or in a container of that name (several workers share one host here, and the
    build report names the worker by the host name the action sees). A command, not a
    preexec_fn: Python code between fork and exec in a process running gRPC threads can abort
    the child in gRPC's fork handlers."""
    if not UNSHARE:
        raise SystemExit("keel_worker: --hostname needs unshare (util-linux)")
    return [UNSHARE, "--uts", "--", "/bin/sh", "-c", 'printf %s "$0" > /proc/sys/kernel/hostname && exec "$@"', name]


def now_ts() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def digest_of(data: bytes) -> rex.Digest:
    return rex.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def dkey(d: rex.Digest) -> tuple[str, int]:
    return (d.hash, d.size_bytes)


class FetchError(Exception):
    """Inputs missing from CAS (or malformed): the lease fails with FAILED_PRECONDITION, with a
    PreconditionFailure listing the missing blobs so that a client can upload them and retry."""

    def __init__(self, message: str, missing: list[rex.Digest] | None = None):
        super().__init__(message)
        self.missing = missing or []


# --------------------------------------------------------------------------------------------
# CAS client
# --------------------------------------------------------------------------------------------


class Cas:
    def __init__(self, channel: grpc.Channel, instance: str):
        self.instance = instance
        self.cas = rex_grpc.ContentAddressableStorageStub(channel)
        self.bytestream = bs_grpc.ByteStreamStub(channel)

    def _resource(self, d: rex.Digest) -> str:
        return "/".join(p for p in (self.instance, "blobs", d.hash, str(d.size_bytes)) if p)

    def _batches(self, digests):
        batch, size = [], 0
        for d in digests:
            if batch and (size + d.size_bytes > BATCH_LIMIT or len(batch) >= BATCH_MAX_COUNT):
                yield batch
                batch, size = [], 0
            batch.append(d)
            size += d.size_bytes
        if batch:
            yield batch

    def read_blobs(self, digests: list[rex.Digest]) -> dict[tuple[str, int], bytes]:
        """Reads blobs into memory (batched; ByteStream for any above BATCH_LIMIT)."""
        out: dict[tuple[str, int], bytes] = {}
        unique = {dkey(d): d for d in digests}
        missing: list[rex.Digest] = []
        for k, d in list(unique.items()):
            if d.size_bytes == 0:
                out[k] = b""
                del unique[k]
            elif d.size_bytes > BATCH_LIMIT:
                del unique[k]
                try:
                    out[k] = b"".join(r.data for r in self.bytestream.Read(
                        bs.ReadRequest(resource_name=self._resource(d)), timeout=3600))
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.NOT_FOUND:
                        raise
                    missing.append(d)
        for batch in self._batches(unique.values()):
            resp = self.cas.BatchReadBlobs(
                rex.BatchReadBlobsRequest(instance_name=self.instance, digests=batch), timeout=120
            )
            for r in resp.responses:
                if r.status.code == code_pb2.NOT_FOUND:
                    missing.append(r.digest)
                elif r.status.code != code_pb2.OK:
                    raise RuntimeError(f"blob {r.digest.hash}/{r.digest.size_bytes}: code {r.status.code}")
                elif hashlib.sha256(r.data).hexdigest() != r.digest.hash:
                    raise RuntimeError(f"blob {r.digest.hash}: content does not match its digest")
                else:
                    out[dkey(r.digest)] = r.data
        missing += [d for k, d in unique.items() if k not in out and d not in missing]
        if missing:
            raise FetchError(f"{len(missing)} blob(s) missing from CAS", missing)
        return out

    def read_to_file(self, d: rex.Digest, path: str) -> None:
        """Streams one blob into path, checking its digest."""
        h = hashlib.sha256()
        n = 0
        try:
            with open(path, "wb") as f:
                for resp in self.bytestream.Read(
                    bs.ReadRequest(resource_name=self._resource(d)), timeout=3600
                ):
                    f.write(resp.data)
                    h.update(resp.data)
                    n += len(resp.data)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                raise FetchError(f"blob {d.hash}/{d.size_bytes} not in CAS", [d]) from e
            raise
        if h.hexdigest() != d.hash or n != d.size_bytes:
            raise FetchError(f"blob {d.hash}/{d.size_bytes}: got {h.hexdigest()}/{n}")

    def find_missing(self, digests: list[rex.Digest]) -> list[rex.Digest]:
        unique = list({dkey(d): d for d in digests}.values())
        missing: list[rex.Digest] = []
        for i in range(0, len(unique), 2000):
            resp = self.cas.FindMissingBlobs(
                rex.FindMissingBlobsRequest(instance_name=self.instance, blob_digests=unique[i : i + 2000]),
                timeout=120,
            )
            missing.extend(resp.missing_blob_digests)
        return missing

    def upload(self, blobs: dict[tuple[str, int], tuple[rex.Digest, bytes | str]]) -> None:
        """blobs: key -> (digest, bytes in memory or a file path). Uploads what CAS lacks."""
        if not blobs:
            return
        missing = self.find_missing([d for d, _ in blobs.values()])
        small, big = [], []
        for d in missing:
            (big if d.size_bytes > BATCH_LIMIT else small).append(d)
        for batch in self._batches(small):
            reqs = []
            for d in batch:
                src = blobs[dkey(d)][1]
                if isinstance(src, str):
                    with open(src, "rb") as f:
                        src = f.read()
                reqs.append(rex.BatchUpdateBlobsRequest.Request(digest=d, data=src))
            resp = self.cas.BatchUpdateBlobs(
                rex.BatchUpdateBlobsRequest(instance_name=self.instance, requests=reqs), timeout=300
            )
            for r in resp.responses:
                if r.status.code != code_pb2.OK:
                    raise RuntimeError(f"upload of {r.digest.hash} failed: {r.status}")
        for d in big:
            self._write_stream(d, blobs[dkey(d)][1])

    def _write_stream(self, d: rex.Digest, src: bytes | str) -> None:
        name = "/".join(
            p for p in (self.instance, "uploads", str(uuid.uuid4()), "blobs", d.hash, str(d.size_bytes)) if p
        )

        def chunks():
            offset = 0
            if isinstance(src, (bytes, bytearray)):
                data_iter = (src[i : i + STREAM_CHUNK] for i in range(0, len(src), STREAM_CHUNK))
            else:
                def file_iter():
                    with open(src, "rb") as f:
                        while block := f.read(STREAM_CHUNK):
                            yield block
                data_iter = file_iter()
            first = True
            for block in data_iter:
                yield bs.WriteRequest(
                    resource_name=name if first else "", write_offset=offset, data=block
                )
                first = False
                offset += len(block)
            yield bs.WriteRequest(resource_name=name if first else "", write_offset=offset, finish_write=True)

        resp = self.bytestream.Write(chunks(), timeout=3600)
        if resp.committed_size != d.size_bytes:
            raise RuntimeError(f"ByteStream write of {d.hash}: committed {resp.committed_size}")


# --------------------------------------------------------------------------------------------
# Per-worker content cache
# --------------------------------------------------------------------------------------------


class ContentCache:
    """Blobs by digest under DIR/<hh>/<hash>[.x]; '.x' entries are the executable copies.

    Entries are read-only with a fixed mtime. Before linking an entry into an action, its
    size, mode and mtime are checked: an action that wrote through a hard link (root ignores
    the read-only bits) changed them, and the entry is refetched.
    """

    def __init__(self, root: str, cas: Cas):
        self.root = root
        self.cas = cas
        self.tmp = os.path.join(root, "tmp")
        os.makedirs(self.tmp, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.hits = 0
        self.fetched = 0

    def path(self, d: rex.Digest, executable: bool) -> str:
        return os.path.join(self.root, d.hash[:2], d.hash + (".x" if executable else ""))

    def _lock(self, h: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(h, threading.Lock())

    def _valid(self, p: str, d: rex.Digest, executable: bool) -> bool:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return False
        want_mode = 0o555 if executable else 0o444
        if (
            stat.S_ISREG(st.st_mode)
            and st.st_size == d.size_bytes
            and stat.S_IMODE(st.st_mode) == want_mode
            and int(st.st_mtime) == CACHE_MTIME
        ):
            return True
        LOG.warning("cache entry %s was modified; refetching", p)
        os.unlink(p)
        return False

    def _install(self, tmp_path: str, d: rex.Digest, executable: bool) -> str:
        p = self.path(d, executable)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.chmod(tmp_path, 0o555 if executable else 0o444)
        os.utime(tmp_path, (CACHE_MTIME, CACHE_MTIME))
        os.replace(tmp_path, p)
        return p

    def _from_sibling(self, d: rex.Digest, executable: bool) -> str | None:
        """The other-mode copy of the same content, copied locally instead of fetched."""
        other = self.path(d, not executable)
        if self._valid(other, d, not executable):
            tmp = os.path.join(self.tmp, uuid.uuid4().hex)
            shutil.copyfile(other, tmp)
            return self._install(tmp, d, executable)
        return None

    def ensure(self, wanted: dict[tuple[str, int, bool], rex.Digest], stats: list[int]) -> None:
        """Makes sure every (digest, executable) in wanted is in the cache."""
        todo: dict[tuple[str, int, bool], rex.Digest] = {}
        for k, d in wanted.items():
            if self._valid(self.path(d, k[2]), d, k[2]):
                self.hits += 1
            else:
                todo[k] = d
        if not todo:
            return
        # One lock per hash so that concurrent actions don't fetch the same blob twice.
        for k in sorted(todo):
            d, executable = todo[k], k[2]
            with self._lock(d.hash):
                if self._valid(self.path(d, executable), d, executable):
                    self.hits += 1
                    continue
                if self._from_sibling(d, executable):
                    self.hits += 1
                    continue
                self._fetch(d, executable, stats)

    def _fetch(self, d: rex.Digest, executable: bool, stats: list[int]) -> None:
        tmp = os.path.join(self.tmp, uuid.uuid4().hex)
        if d.size_bytes == 0:
            open(tmp, "wb").close()
        elif d.size_bytes <= BATCH_LIMIT:
            data = self.cas.read_blobs([d])[dkey(d)]
            with open(tmp, "wb") as f:
                f.write(data)
        else:
            self.cas.read_to_file(d, tmp)
        self._install(tmp, d, executable)
        self.fetched += 1
        stats[0] += 1
        stats[1] += d.size_bytes

    def prefetch_small(self, wanted: dict[tuple[str, int, bool], rex.Digest], stats: list[int]) -> None:
        """Batch-reads all small missing blobs in as few round trips as possible."""
        small = {}
        for k, d in wanted.items():
            if 0 < d.size_bytes <= BATCH_LIMIT and not os.path.exists(self.path(d, k[2])) \
                    and not os.path.exists(self.path(d, not k[2])):
                small[dkey(d)] = d
        if not small:
            return
        data = self.cas.read_blobs(list(small.values()))
        for k, d in wanted.items():
            if dkey(d) in data and not os.path.exists(self.path(d, k[2])):
                with self._lock(d.hash):
                    if os.path.exists(self.path(d, k[2])):
                        continue
                    tmp = os.path.join(self.tmp, uuid.uuid4().hex)
                    with open(tmp, "wb") as f:
                        f.write(data[dkey(d)])
                    self._install(tmp, d, k[2])
                    self.fetched += 1
                    stats[0] += 1
                    stats[1] += d.size_bytes

    def link_into(self, d: rex.Digest, executable: bool, dest: str) -> None:
        src = self.path(d, executable)
        try:
            os.link(src, dest)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                raise
            shutil.copyfile(src, dest)
            os.chmod(dest, 0o755 if executable else 0o644)

    def adopt(self, path: str, d: rex.Digest, executable: bool) -> None:
        """Puts an output file of a finished action into the cache (the action dir is
        deleted next, so taking over its inode is safe)."""
        p = self.path(d, executable)
        if os.path.exists(p):
            return
        with self._lock(d.hash):
            if os.path.exists(p):
                return
            tmp = os.path.join(self.tmp, uuid.uuid4().hex)
            try:
                os.link(path, tmp)
            except OSError:
                shutil.copyfile(path, tmp)
            self._install(tmp, d, executable)


# --------------------------------------------------------------------------------------------
# Running one action
# --------------------------------------------------------------------------------------------


@dataclass
class LeaseRun:
    lease_id: str
    payload: any_pb2.Any
    done: bool = False
    status: status_pb2.Status = field(default_factory=status_pb2.Status)
    result: any_pb2.Any | None = None
    # cancel: kill the process and forget the lease (the server dropped it, or we stop).
    cancel: threading.Event = field(default_factory=threading.Event)
    # handback: report the lease as COMPLETED with lr.status (UNAVAILABLE) so that the
    # server re-queues the job at once instead of waiting for the session to expire.
    handback: bool = False


class Executor:
    def __init__(self, worker_name: str, cas: Cas, cache: ContentCache, work_root: str,
                 default_timeout: float, keep_dirs: bool, substitute_chroot: bool = True,
                 hostname: str = ""):
        self.substitute_chroot = substitute_chroot
        self.prefix = own_host_name(hostname) if hostname else []
        self.worker_name = worker_name
        self.cas = cas
        self.cache = cache
        self.work_root = work_root
        self.default_timeout = default_timeout
        self.keep_dirs = keep_dirs

    # ---- inputs

    def _load_action(self, payload: any_pb2.Any) -> tuple[rex.Action, rex.Digest]:
        action = rex.Action()
        if payload.Is(rex.Action.DESCRIPTOR):
            payload.Unpack(action)
            return action, digest_of(action.SerializeToString())
        digest = rex.Digest()
        if payload.Is(rex.Digest.DESCRIPTOR):
            payload.Unpack(digest)
            action.ParseFromString(self.cas.read_blobs([digest])[dkey(digest)])
            return action, digest
        raise ValueError(f"unknown lease payload type {payload.type_url}")

    def _load_tree(self, root: rex.Digest) -> dict[tuple[str, int], rex.Directory]:
        dirs: dict[tuple[str, int], rex.Directory] = {}
        level = [root]
        while level:
            need = [d for d in {dkey(d): d for d in level}.values() if dkey(d) not in dirs]
            blobs = self.cas.read_blobs(need) if need else {}
            nxt = []
            for d in need:
                msg = rex.Directory()
                msg.ParseFromString(blobs[dkey(d)])
                dirs[dkey(d)] = msg
                nxt.extend(sub.digest for sub in msg.directories)
            level = nxt
        return dirs

    @staticmethod
    def _safe_name(name: str) -> str:
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            raise FetchError(f"invalid name in input tree: {name!r}")
        return name

    def _materialize(self, root: rex.Digest, dest: str) -> tuple[int, int, int]:
        dirs = self._load_tree(root)
        wanted: dict[tuple[str, int, bool], rex.Digest] = {}
        for msg in dirs.values():
            for f in msg.files:
                wanted[(f.digest.hash, f.digest.size_bytes, f.is_executable)] = f.digest
        stats = [0, 0]  # blobs and bytes this action fetched from CAS
        self.cache.prefetch_small(wanted, stats)
        self.cache.ensure(wanted, stats)
        fetch_stats = (len(wanted), stats[0], stats[1])

        def build(d: rex.Digest, path: str) -> None:
            msg = dirs[dkey(d)]
            for f in msg.files:
                self.cache.link_into(f.digest, f.is_executable, os.path.join(path, self._safe_name(f.name)))
            for s in msg.symlinks:
                os.symlink(s.target, os.path.join(path, self._safe_name(s.name)))
            for sub in msg.directories:
                p = os.path.join(path, self._safe_name(sub.name))
                os.mkdir(p)
                build(sub.digest, p)

        build(root, dest)
        return fetch_stats

    # ---- outputs

    def _file_digest(self, path: str) -> rex.Digest:
        h = hashlib.sha256()
        n = 0
        with open(path, "rb") as f:
            while block := f.read(1024 * 1024):
                h.update(block)
                n += len(block)
        return rex.Digest(hash=h.hexdigest(), size_bytes=n)

    def _collect_dir(self, path: str, uploads: dict, adopt: list) -> tuple[rex.Directory, list[rex.Directory]]:
        """Directory proto of path (children listed for a Tree)."""
        msg = rex.Directory()
        children: list[rex.Directory] = []
        for name in sorted(os.listdir(path)):
            p = os.path.join(path, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                msg.symlinks.add(name=name, target=os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                sub, sub_children = self._collect_dir(p, uploads, adopt)
                data = sub.SerializeToString()
                sd = digest_of(data)
                msg.directories.add(name=name, digest=sd)
                children.append(sub)
                children.extend(sub_children)
            elif stat.S_ISREG(st.st_mode):
                d = self._file_digest(p)
                x = bool(st.st_mode & stat.S_IXUSR)
                msg.files.add(name=name, digest=d, is_executable=x)
                uploads[dkey(d)] = (d, p)
                adopt.append((p, d, x))
            # sockets, fifos, devices: not representable in REAPI, skipped
        return msg, children

    def _collect_outputs(self, command: rex.Command, cwd: str, result: rex.ActionResult,
                         uploads: dict, adopt: list) -> None:
        if command.output_paths:  # REAPI v2.1+: one list, type decided by what is there
            entries = [(p, None) for p in command.output_paths]
        else:
            entries = [(p, "file") for p in command.output_files] + \
                      [(p, "dir") for p in command.output_directories]
        for rel, declared in entries:
            p = os.path.join(cwd, rel)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(p)
                if declared == "dir":
                    result.output_directory_symlinks.add(path=rel, target=target)
                elif declared == "file":
                    result.output_file_symlinks.add(path=rel, target=target)
                result.output_symlinks.add(path=rel, target=target)
            elif stat.S_ISREG(st.st_mode) and declared != "dir":
                d = self._file_digest(p)
                x = bool(st.st_mode & stat.S_IXUSR)
                result.output_files.add(path=rel, digest=d, is_executable=x)
                uploads[dkey(d)] = (d, p)
                adopt.append((p, d, x))
            elif stat.S_ISDIR(st.st_mode) and declared != "file":
                root, children = self._collect_dir(p, uploads, adopt)
                unique_children = {c.SerializeToString(): c for c in children}
                tree = rex.Tree(root=root, children=list(unique_children.values()))
                data = tree.SerializeToString()
                td = digest_of(data)
                uploads[dkey(td)] = (td, data)
                result.output_directories.add(path=rel, tree_digest=td)
            else:
                LOG.warning("output %s has the wrong type (declared %s); skipped", rel, declared)

    # ---- process

    def _run_process(self, argv, env, cwd, stdout_path, stderr_path, timeout, cancel) -> tuple[int, bool]:
        """Returns (exit code, timed_out). The whole process group is killed at the end."""
        import subprocess

        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err, \
                open(os.devnull, "rb") as devnull:
            # setpriv --pdeathsig: the action's first process gets SIGKILL if this worker dies
            # (kill -9); what it started is swept up when the worker starts again.
            wrapper = [SETPRIV, "--pdeathsig", "KILL", "--"] if SETPRIV else []
            try:
                proc = subprocess.Popen(
                    wrapper + self.prefix + argv, cwd=cwd, env=env, stdin=devnull, stdout=out, stderr=err,
                    start_new_session=True, close_fds=True,
                )
            except OSError as e:
                err.write(f"keel_worker: cannot execute {argv[0]!r}: {e}\n".encode())
                return 127, False
        with open(os.path.join(os.path.dirname(stdout_path), "pgid"), "w") as f:
            f.write(f"{proc.pid}\n")
        pidfd = os.pidfd_open(proc.pid)
        deadline = time.monotonic() + timeout if timeout > 0 else None
        timed_out = False
        try:
            while True:
                wait = 0.5
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                ready, _, _ = select.select([pidfd], [], [], wait)
                if ready:
                    break
                if cancel.is_set():
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                    break
            # The child is a zombie or still running: its pid (= process group id) cannot be
            # reused yet, so killing the group is safe. Stray background children die too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            code = proc.wait()
        finally:
            os.close(pidfd)
        if code < 0:  # killed by a signal: report it the way a shell does
            code = 128 - code
        return code, timed_out

    def run(self, lr: LeaseRun) -> None:
        meta = rex.ExecutedActionMetadata(worker=self.worker_name)
        meta.worker_start_timestamp.CopyFrom(now_ts())
        action_dir = os.path.join(self.work_root, f"{lr.lease_id}-{uuid.uuid4().hex[:8]}")
        result = rex.ActionResult()
        try:
            os.makedirs(action_dir)
            root = os.path.join(action_dir, "root")
            os.mkdir(root)
            meta.input_fetch_start_timestamp.CopyFrom(now_ts())
            action, action_digest = self._load_action(lr.payload)
            command = rex.Command()
            command.ParseFromString(self.cas.read_blobs([action.command_digest])[dkey(action.command_digest)])
            n_files, n_fetched, n_bytes = self._materialize(action.input_root_digest, root)
            meta.input_fetch_completed_timestamp.CopyFrom(now_ts())
            LOG.info("lease %s: inputs: %d distinct files, %d fetched from CAS (%d bytes), rest from cache",
                     lr.lease_id, n_files, n_fetched, n_bytes)

            cwd = os.path.normpath(os.path.join(root, command.working_directory))
            if not (cwd + "/").startswith(root + "/"):
                raise FetchError(f"working directory escapes the input root: {command.working_directory!r}")
            os.makedirs(cwd, exist_ok=True)
            # The worker creates the parent directories of every declared output.
            outs = list(command.output_paths) + list(command.output_files)
            for rel in outs:
                os.makedirs(os.path.dirname(os.path.join(cwd, rel)), exist_ok=True)
            for rel in command.output_directories:
                os.makedirs(os.path.dirname(os.path.join(cwd, rel)) or cwd, exist_ok=True)

            env = {e.name: e.value for e in command.environment_variables}
            argv = list(command.arguments)
            if self.substitute_chroot:
                # Pants (before 2.25) sends its local-sandbox marker '{chroot}' unreplaced to
                # remote executors (e.g. PATH={chroot}/_binary_shims_...): replace it with the
                # input root, as Pants' own local runner does.
                argv = [a.replace("{chroot}", root) for a in argv]
                env = {k: v.replace("{chroot}", root) for k, v in env.items()}
            timeout = action.timeout.seconds + action.timeout.nanos / 1e9 or self.default_timeout
            stdout_path = os.path.join(action_dir, "stdout")
            stderr_path = os.path.join(action_dir, "stderr")
            meta.execution_start_timestamp.CopyFrom(now_ts())
            LOG.info("lease %s: running %s (timeout %ss, platform %s)", lr.lease_id,
                     " ".join(command.arguments)[:500], timeout,
                     {p.name: p.value for p in (action.platform.properties or command.platform.properties)})
            code, timed_out = self._run_process(
                argv, env, cwd, stdout_path, stderr_path, timeout, lr.cancel
            )
            meta.execution_completed_timestamp.CopyFrom(now_ts())
            if lr.cancel.is_set():
                LOG.info("lease %s: cancelled", lr.lease_id)
                lr.result = None
                return

            meta.output_upload_start_timestamp.CopyFrom(now_ts())
            uploads: dict = {}
            adopt: list = []
            result.exit_code = code
            if not timed_out:
                self._collect_outputs(command, cwd, result, uploads, adopt)
            for name, p in (("stdout", stdout_path), ("stderr", stderr_path)):
                d = self._file_digest(p)
                getattr(result, f"{name}_digest").CopyFrom(d)
                uploads[dkey(d)] = (d, p)
            self.cas.upload(uploads)
            for p, d, x in adopt:
                try:
                    self.cache.adopt(p, d, x)
                except OSError:
                    pass
            meta.output_upload_completed_timestamp.CopyFrom(now_ts())
            meta.worker_completed_timestamp.CopyFrom(now_ts())
            result.execution_metadata.CopyFrom(meta)
            packed = any_pb2.Any()
            packed.Pack(result)
            lr.result = packed
            if timed_out:
                lr.status = status_pb2.Status(
                    code=code_pb2.DEADLINE_EXCEEDED, message=f"action timed out after {timeout}s"
                )
            else:
                lr.status = status_pb2.Status(code=code_pb2.OK)
            LOG.info("lease %s: exit %s%s", lr.lease_id, code, " (timed out)" if timed_out else "")
        except FetchError as e:
            if lr.cancel.is_set():
                return
            LOG.warning("lease %s: inputs: %s", lr.lease_id, e)
            lr.status = status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(e))
            if e.missing:
                failure = error_details_pb2.PreconditionFailure()
                for d in e.missing:
                    failure.violations.add(type="MISSING", subject=f"blobs/{d.hash}/{d.size_bytes}")
                lr.status.details.add().Pack(failure)
        except Exception as e:  # worker-side trouble: INTERNAL makes BuildGrid retry the job
            if lr.cancel.is_set():
                return
            LOG.exception("lease %s failed", lr.lease_id)
            lr.status = status_pb2.Status(code=code_pb2.INTERNAL, message=f"keel_worker: {e}")
        finally:
            if not self.keep_dirs:
                shutil.rmtree(action_dir, ignore_errors=True)


def sweep_processes(work_dir: str) -> None:
    """Kills processes left running by a previous run of this worker: members of a process
    group recorded in an action directory's 'pgid' file whose cwd is inside work_dir."""
    pgids = set()
    for name in os.listdir(work_dir):
        try:
            with open(os.path.join(work_dir, name, "pgid")) as f:
                pgids.add(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    if not pgids:
        return
    prefix = os.path.realpath(work_dir) + "/"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                pgrp = int(f.read().rsplit(")", 1)[1].split()[2])
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except (OSError, ValueError, IndexError):
            continue
        if pgrp in pgids and (cwd + "/").startswith(prefix):
            LOG.warning("killing leftover action process %s (group %s, cwd %s)", pid, pgrp, cwd)
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# Bot session loop
# --------------------------------------------------------------------------------------------


class Bot:
    def __init__(self, args):
        self.args = args
        opts = [
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ]
        self.channel = grpc.insecure_channel(args.server, options=opts)
        self.bots = bots_pb2_grpc.BotsStub(self.channel)
        self.cas = Cas(self.channel, args.instance)
        self.cache = ContentCache(args.cache_dir, self.cas)
        # Leftovers of a previous (killed) run of this worker: its leases are long re-queued.
        os.makedirs(args.work_dir, exist_ok=True)
        sweep_processes(args.work_dir)
        for leftover_parent in (args.work_dir, self.cache.tmp):
            os.makedirs(leftover_parent, exist_ok=True)
            for name in os.listdir(leftover_parent):
                p = os.path.join(leftover_parent, name)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
        self.executor = Executor(args.name, self.cas, self.cache, args.work_dir,
                                 args.default_timeout, args.keep_dirs,
                                 substitute_chroot=not args.no_chroot_substitution,
                                 hostname=args.hostname)
        self.pool = ThreadPoolExecutor(max_workers=args.concurrency, thread_name_prefix="lease")
        self.leases: dict[str, LeaseRun] = {}
        self.lock = threading.Lock()
        # Notified when a lease finishes (generation += 1) or an RPC completes.
        self.cond = threading.Condition(self.lock)
        self.generation = 0
        self.stopping = threading.Event()
        self.stop_deadline = 0.0
        self.session: bots_pb2.BotSession | None = None

    def _worker_proto(self) -> worker_pb2.Worker:
        w = worker_pb2.Worker()
        dev = w.devices.add(handle=self.args.name)
        for prop in self.args.property:
            k, _, v = prop.partition("=")
            dev.properties.add(key=k, value=v)
        w.configs.add(key="capacity", value=str(self.args.concurrency))
        return w

    def _start(self, lease: bots_pb2.Lease) -> None:
        payload = any_pb2.Any()
        payload.CopyFrom(lease.payload)
        lr = LeaseRun(lease_id=lease.id, payload=payload)
        self.leases[lease.id] = lr

        def go():
            try:
                self.executor.run(lr)
            finally:
                with self.cond:
                    lr.done = True
                    self.generation += 1
                    self.cond.notify_all()

        self.pool.submit(go)

    def _request_session(self) -> tuple[bots_pb2.BotSession, set[str], list[str], int]:
        s = bots_pb2.BotSession()
        s.CopyFrom(self.session)
        del s.leases[:]
        s.status = bots_pb2.BOT_TERMINATING if self.stopping.is_set() else bots_pb2.OK
        active, completed = set(), []
        with self.lock:
            for lid, lr in self.leases.items():
                if lr.done and (lr.handback or not lr.cancel.is_set()):
                    lease = s.leases.add(id=lid, state=bots_pb2.COMPLETED)
                    lease.status.CopyFrom(lr.status)
                    if lr.result is not None:
                        lease.result.CopyFrom(lr.result)
                    completed.append(lid)
                elif not lr.done:
                    s.leases.add(id=lid, state=bots_pb2.ACTIVE)
                    active.add(lid)
            generation = self.generation
        return s, active, completed, generation

    def _apply(self, resp: bots_pb2.BotSession, sent_active: set[str], sent_completed: list[str]) -> None:
        self.session = resp
        returned = {l.id for l in resp.leases}
        with self.lock:
            for lid in sent_completed:
                self.leases.pop(lid, None)
            for lid in sent_active:
                if lid not in returned and lid in self.leases:
                    LOG.info("lease %s dropped by the server: cancelling", lid)
                    self.leases[lid].cancel.set()
                    self.leases.pop(lid)
            for lease in resp.leases:
                if lease.state in (bots_pb2.PENDING, bots_pb2.ACTIVE) and lease.id not in self.leases:
                    if self.stopping.is_set():
                        continue
                    LOG.info("lease %s assigned", lease.id)
                    self._start(lease)

    def _busy(self) -> int:
        with self.lock:
            return sum(1 for lr in self.leases.values() if not lr.done)

    def create(self) -> None:
        s = bots_pb2.BotSession(bot_id=self.args.name, status=bots_pb2.OK, worker=self._worker_proto())
        LOG.info("creating bot session as %s at %s", self.args.name, self.args.server)
        while not self.stopping.is_set():
            try:
                resp = self.bots.CreateBotSession(
                    bots_pb2.CreateBotSessionRequest(parent=self.args.instance, bot_session=s),
                    timeout=self.args.poll_seconds,
                )
                LOG.info("bot session %s created (capacity %d)", resp.name, self.args.concurrency)
                self.session = resp
                self._apply(resp, set(), [])
                return
            except grpc.RpcError as e:
                LOG.warning("CreateBotSession failed: %s %s; retrying", e.code(), e.details())
                self.stopping.wait(2)

    def loop(self) -> None:
        self.create()
        backoff = 1.0
        while True:
            if self.stopping.is_set():
                with self.lock:
                    pending = any(not lr.done or lr.handback for lr in self.leases.values())
                if not pending or time.monotonic() > self.stop_deadline:
                    break
            req_session, active, completed, gen = self._request_session()
            full = len(active) >= self.args.concurrency or self.stopping.is_set()
            if full and not completed:
                # No slot free: the server would answer at once, so pace the heartbeats.
                with self.cond:
                    self.cond.wait_for(lambda: self.generation != gen, timeout=self.args.heartbeat_seconds)
                req_session, active, completed, gen = self._request_session()
            fut = self.bots.UpdateBotSession.future(
                bots_pb2.UpdateBotSessionRequest(name=req_session.name, bot_session=req_session),
                timeout=self.args.poll_seconds,
            )
            # Long poll; a lease that finishes meanwhile cuts it short so that its result is
            # reported at once (a lost answer is harmless: the server resends its leases).

            def on_done(_f):
                with self.cond:
                    self.cond.notify_all()

            fut.add_done_callback(on_done)
            with self.cond:
                self.cond.wait_for(lambda: fut.done() or self.generation != gen)
            cut_short = not fut.done() and fut.cancel()
            try:
                resp = fut.result()
            except grpc.FutureCancelledError:
                continue
            except grpc.RpcError as e:
                code = e.code()
                if cut_short and code == grpc.StatusCode.CANCELLED:
                    continue  # we cancelled the long poll ourselves: report at once
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED):
                    LOG.warning("UpdateBotSession: %s %s; retrying in %.0fs", code, e.details(), backoff)
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, 10)
                    continue
                # The server no longer knows this session (it expired, or was replaced):
                # its leases were re-queued, so drop them and start over.
                LOG.warning("UpdateBotSession: %s %s; new session", code, e.details())
                with self.lock:
                    for lr in self.leases.values():
                        lr.cancel.set()
                    self.leases.clear()
                if self.stopping.is_set():
                    break
                self.create()
                continue
            backoff = 1.0
            self._apply(resp, active, completed)

    def stop(self, *_):
        if self.stopping.is_set():
            return
        LOG.info("stopping: running leases are aborted and handed back (UNAVAILABLE)")
        self.stop_deadline = time.monotonic() + 15
        self.stopping.set()
        with self.lock:
            for lr in self.leases.values():
                if not lr.done:
                    # Reported as completed with a retryable code: BuildGrid re-queues the job.
                    lr.status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message="worker stopping")
                    lr.handback = True
                    lr.cancel.set()
        with self.cond:
            self.generation += 1
            self.cond.notify_all()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="host:port of the BuildGrid server")
    p.add_argument("--instance", default="", help="REAPI instance name (default: '')")
    p.add_argument("--name", required=True, help="worker id (bot_id); shown in ActionResult metadata")
    p.add_argument("--concurrency", type=int, default=1, help="leases run at once")
    p.add_argument("--cache-dir", required=True, help="content cache (same filesystem as --work-dir)")
    p.add_argument("--work-dir", required=True, help="parent of the per-action directories")
    p.add_argument("--property", action="append", default=[],
                   help="KEY=VALUE platform property advertised (repeatable); default OSFamily=linux")
    p.add_argument("--poll-seconds", type=float, default=20.0,
                   help="deadline of each UpdateBotSession long poll")
    p.add_argument("--heartbeat-seconds", type=float, default=5.0,
                   help="keepalive period while all slots are busy (must be well below the "
                        "server's bot-session-keepalive-timeout)")
    p.add_argument("--default-timeout", type=float, default=0,
                   help="timeout for actions that set none (0: none)")
    p.add_argument("--keep-dirs", action="store_true", help="keep action directories (debugging)")
    p.add_argument("--no-chroot-substitution", action="store_true",
                   help="do not replace '{chroot}' in argv and environment with the input root")
    p.add_argument("--hostname", default="",
                   help="run every action under this host name, in a UTS namespace of its own "
                        "(root only); default: the host's")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if not args.property:
        args.property = ["OSFamily=linux"]
    args.concurrency = max(1, args.concurrency)
    work, cache = os.path.realpath(args.work_dir), os.path.realpath(args.cache_dir)
    if work == cache or (cache + "/").startswith(work + "/"):
        p.error("--work-dir is emptied at start: it must not hold --cache-dir")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"%(asctime)s {args.name} %(levelname)s %(message)s",
    )
    bot = Bot(args)
    signal.signal(signal.SIGTERM, bot.stop)
    signal.signal(signal.SIGINT, bot.stop)
    # The session loop runs in a thread so that the main thread can take signals at once.
    t = threading.Thread(target=bot.loop, name="session", daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.5)
    bot.pool.shutdown(wait=True)
    LOG.info("stopped (cache: %d fetched, %d hits)", bot.cache.fetched, bot.cache.hits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
