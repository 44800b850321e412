"""The language server: pygls wiring, the background worker that runs Pants, and file events.

Requests are answered on pygls' event loop from the in-memory model only. Everything that runs
Pants (help-all, rpm-graph) happens on one worker thread, one run at a time (two Pants runs in
one workspace would only contend for its lock), and hands its result back to the loop thread,
which swaps it into the model and re-checks the open BUILD files. From the moment a run is asked
for until it ends, the model lists it as loading: completion then says its list is incomplete,
and hover and definition say what they wait for instead of answering nothing.
"""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from keel_lsp import features, graph, pants_help
from keel_lsp.features import Doc
from keel_lsp.model import Model

log = logging.getLogger("keel_lsp")


class Worker(threading.Thread):
    """Runs the slow jobs ("help", "graph") in order; a job asked for again while queued runs
    once. A daemon thread: it never keeps the server alive after the editor's `exit`.
    `finished(job)` is called after each run, whatever its outcome."""

    def __init__(self, run: Callable[[str], None], finished: Callable[[str], None]) -> None:
        super().__init__(name="keel-lsp-pants", daemon=True)
        self.jobs: "queue.Queue[str]" = queue.Queue()
        self.pending: set[str] = set()
        self.running: Optional[str] = None
        self.lock = threading.Lock()
        self.run_job = run
        self.finished = finished

    def ask(self, job: str) -> None:
        with self.lock:
            if job in self.pending:
                return
            self.pending.add(job)
        self.jobs.put(job)

    def outstanding(self, job: str) -> bool:
        """Whether `job` is queued or running."""
        with self.lock:
            return job in self.pending or job == self.running

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            with self.lock:
                self.pending.discard(job)
                self.running = job
            try:
                self.run_job(job)
            except Exception:  # a failed run is reported by run_job; the worker goes on
                log.exception("job %s", job)
            finally:
                with self.lock:
                    self.running = None
                self.finished(job)


class KeelServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("keel-build-lsp", "1")
        self.model: Optional[Model] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.worker = Worker(self._run_job, lambda job: self._on_loop(lambda: self._finished(job)))
        self.help_key: Optional[str] = None

    # --- state --------------------------------------------------------------------------------

    def start(self, root: Path) -> None:
        """Everything that answers requests, from disk only (no Pants): the BUILD index, and the
        help and graph the last session cached."""
        started = time.perf_counter()
        model = Model(root)
        model.index.scan()
        indexed = time.perf_counter()
        model.help, help_current = pants_help.cached(root)
        self.help_key = pants_help.key(root) if help_current else None
        model.graph = graph.cached(root)
        self.model = model
        self.info(
            f"keel-lsp: indexed {len(model.index.files)} BUILD files, {len(model.index.targets)} targets "
            f"in {(indexed - started) * 1000:.0f} ms; help {('cached' if help_current else 'cached, stale') if model.help else 'pending'}, "
            f"graph {'cached' if model.graph else 'pending'} (loaded in {(time.perf_counter() - indexed) * 1000:.0f} ms)"
        )
        self.worker.start()
        if not help_current:
            self.ask("help")
        if not os.environ.get("KEEL_LSP_GRAPH"):
            self.ask("graph")  # even with a cached one: the workspace may have moved on

    def ask(self, job: str) -> None:
        """Run a job in the background; until it is done, the model says it is loading."""
        self.model.loading.add(job)
        self.worker.ask(job)

    def _finished(self, job: str) -> None:
        """On the loop, after the job's result (if any) was swapped in: loading ends unless the
        job was asked for again meanwhile."""
        if not self.worker.outstanding(job):
            self.model.loading.discard(job)

    def _run_job(self, job: str) -> None:
        root = self.model.root
        try:
            if job == "help":
                self.help_key = pants_help.key(root)
                result = pants_help.produce(root)
                self._on_loop(lambda: self._set(help=result))
            elif job == "graph":
                result = graph.produce(root)
                self._on_loop(lambda: self._set(graph=result))
        except Exception as e:
            message = f"keel-lsp: {job} unavailable, answering from BUILD files: {e}"
            self._on_loop(lambda: self.info(message, types.MessageType.Warning))

    def _on_loop(self, callback: Callable[[], None]) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(callback)

    def _set(self, **parts) -> None:
        for name, value in parts.items():
            setattr(self.model, name, value)
            if name == "help":
                self.info(f"keel-lsp: help loaded ({len(value.targets)} target types)")
            else:
                self.info(f"keel-lsp: graph loaded ({len(value.targets)} targets, {len(value.packages)} packages)")
        self.model.changed()
        self.publish_all()

    def info(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        log.info(message)
        self.window_log_message(types.LogMessageParams(kind, message))

    # --- documents ----------------------------------------------------------------------------

    def doc(self, uri: str) -> Optional[Doc]:
        relative = self.relative(uri)
        if relative is None:
            return None
        document = self.workspace.get_text_document(uri)
        return Doc(relative, document.source)

    def relative(self, uri: str) -> Optional[str]:
        """The file's path in the workspace; None outside it. The root is a resolved path, so a
        file opened through a symlinked directory is resolved too before giving up."""
        path = uri_path(uri)
        for candidate in (path, path.resolve()):
            try:
                return candidate.relative_to(self.model.root).as_posix()
            except ValueError:
                continue
        return None

    def build_doc(self, uri: str) -> Optional[Doc]:
        """The document if it is a BUILD file: editors may send others (a client set up for
        Python files), and those get no answers rather than wrong ones."""
        doc = self.doc(uri)
        return doc if doc is not None and features.is_build_path(doc.path) else None

    def offset(self, uri: str, position: types.Position) -> int:
        return self.workspace.get_text_document(uri).offset_at_position(position)

    def publish(self, uri: str) -> None:
        doc = self.build_doc(uri)
        if doc is None:
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=features.diagnostics(self.model, doc))
        )

    def publish_all(self) -> None:
        for uri in list(self.workspace.text_documents):
            self.publish(uri)


def workspace_root(start: Path) -> Path:
    """The build root: the nearest directory up from `start` holding pants.toml (an editor
    opened on a subdirectory still gets the whole workspace), else `start` itself."""
    for directory in (start, *start.parents):
        if (directory / "pants.toml").is_file():
            return directory
    return start


def uri_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


server = KeelServer()


@server.feature(types.INITIALIZE)
def initialize(ls: KeelServer, params: types.InitializeParams) -> None:
    root = os.environ.get("KEEL_LSP_ROOT")
    if not root and params.root_uri:
        root = str(uri_path(params.root_uri))
    if not root and params.workspace_folders:
        root = str(uri_path(params.workspace_folders[0].uri))
    ls.loop = asyncio.get_event_loop()  # handlers run on pygls' loop: the worker reports to it
    ls.start(workspace_root(Path(root or os.getcwd()).resolve()))


@server.feature(types.INITIALIZED)
def initialized(ls: KeelServer, params: types.InitializedParams) -> None:
    """Ask the editor to report BUILD and spec files changed outside it (a checkout, a script),
    when it can; without this, only saves in the editor update the index."""
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if watched and watched.dynamic_registration:
        watchers = [types.FileSystemWatcher(glob_pattern=g) for g in ("**/BUILD", "**/BUILD.*", "**/*.spec")]
        ls.client_register_capability(
            types.RegistrationParams([
                types.Registration(
                    "keel-build-files", types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    types.DidChangeWatchedFilesRegistrationOptions(watchers),
                )
            ])
        )


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def watched_files_changed(ls: KeelServer, params: types.DidChangeWatchedFilesParams) -> None:
    build_files, specs = [], []
    for change in params.changes:
        path = ls.relative(change.uri)
        if path is None:
            continue
        if path.split("/")[0] in {".pants.d", "dist", ".keel", ".git"}:
            continue
        if features.is_build_path(path):
            build_files.append(path)
        elif path.endswith(".spec"):
            specs.append(path)
    if not build_files and not specs:
        return
    ls.model.index.update_many(build_files, specs)
    if not os.environ.get("KEEL_LSP_GRAPH"):
        ls.ask("graph")
    ls.model.changed()
    ls.publish_all()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: KeelServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: KeelServer, params: types.DidSaveTextDocumentParams) -> None:
    """A save is when the workspace changed: refresh what depends on the saved file."""
    doc = ls.doc(params.text_document.uri)
    if doc is None:
        return
    root, model = ls.model.root, ls.model
    if features.is_build_path(doc.path) or doc.path.endswith(".spec"):
        if doc.path.endswith(".spec"):
            model.index.update_spec(doc.path)
        else:
            model.index.update(doc.path, doc.text)
        if os.environ.get("KEEL_LSP_GRAPH"):
            model.graph = graph.cached(root)  # a given graph.json: read it again, run nothing
        else:
            ls.ask("graph")
    elif doc.path == "pants.toml" or (doc.path.startswith("rules/") and doc.path.endswith(".py")):
        # A new field or target type in the plugin: Pants' help changes with it.
        if pants_help.key(root) != ls.help_key and not os.environ.get("KEEL_LSP_HELP"):
            ls.ask("help")
    model.changed()
    ls.publish_all()


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION,
    types.CompletionOptions(trigger_characters=['"', "'", "/", ":", "(", ","]),
)
def completion(ls: KeelServer, params: types.CompletionParams) -> Optional[types.CompletionList]:
    doc = ls.build_doc(params.text_document.uri)
    if doc is None:
        return None
    return features.complete(ls.model, doc, ls.offset(params.text_document.uri, params.position))


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: KeelServer, params: types.HoverParams) -> Optional[types.Hover]:
    doc = ls.build_doc(params.text_document.uri)
    return features.hover(ls.model, doc, ls.offset(params.text_document.uri, params.position)) if doc else None


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: KeelServer, params: types.DefinitionParams) -> list[types.Location]:
    """No location while what the cursor names waits for help-all or rpm-graph: the editor is
    told why (a message; hovering says it too) instead of finding nothing silently."""
    doc = ls.build_doc(params.text_document.uri)
    if doc is None:
        return []
    offset = ls.offset(params.text_document.uri, params.position)
    locations = features.definition(ls.model, doc, offset)
    if not locations:
        waiting = features.loading_note(ls.model, doc, offset)
        if waiting is not None:
            ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, f"keel-lsp: {waiting[0]}"))
    return locations


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def references(ls: KeelServer, params: types.ReferenceParams) -> list[types.Location]:
    doc = ls.build_doc(params.text_document.uri)
    if doc is None:
        return []
    offset = ls.offset(params.text_document.uri, params.position)
    return features.references(ls.model, doc, offset, params.context.include_declaration)


@server.feature(types.SHUTDOWN)
def shutdown(ls: KeelServer, params: None) -> None:
    # A Pants run still going belongs to this server: stop it rather than leave it to finish.
    process = graph.current_process
    if process is not None and process.poll() is None:
        process.terminate()


def main() -> None:
    log_file = os.environ.get("KEEL_LSP_LOG")
    if log_file:
        logging.basicConfig(filename=log_file, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server.start_io()
