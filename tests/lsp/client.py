"""A small LSP client over stdio, as an editor is: starts build-support/build-lsp and speaks
JSON-RPC to it. Used by the tests and by `build-support/bench lsp`.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional


class LspError(Exception):
    pass


class LspClient:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], stderr_path: Path) -> None:
        self._stderr = open(stderr_path, "wb")
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        self.stderr_path = stderr_path
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._responses: dict[int, dict] = {}
        self.notifications: list[dict] = []
        self.server_requests: list[dict] = []  # e.g. client/registerCapability
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # --- wire ----------------------------------------------------------------------------------

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:
                # A request from the server (e.g. registerCapability): an editor says yes.
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                with self._cond:
                    self.server_requests.append(message)
                    self._cond.notify_all()
                continue
            with self._cond:
                if "id" in message:
                    self._responses[message["id"]] = message
                else:
                    self.notifications.append(message)
                self._cond.notify_all()

    def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        request_id = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        with self._cond:
            while request_id not in self._responses:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise LspError(f"no answer to {method} (server log: {self.stderr_tail()})")
                self._cond.wait(remaining)
            response = self._responses.pop(request_id)
        if "error" in response:
            raise LspError(f"{method}: {response['error']}")
        return response.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float, start: int = 0) -> dict:
        """The first notification from index `start` on that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.notifications[start:]:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise LspError(f"timed out waiting; notifications: {self.notifications[-5:]}; server log: {self.stderr_tail()}")
                self._cond.wait(remaining)

    def stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    # --- LSP -----------------------------------------------------------------------------------

    def initialize(self, root: Path) -> dict:
        # As editors do: files changed outside the editor are reported if the server asks.
        capabilities = {"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}}}
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": capabilities}, timeout=600)
        self.notify("initialized", {})
        return result

    def log_message(self, contains: str, timeout: float) -> dict:
        return self.wait_for(lambda m: m.get("method") == "window/logMessage" and contains in m["params"]["message"], timeout)

    def open(self, path: Path, text: Optional[str] = None) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text if text is not None else path.read_text()}})
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})

    def save(self, uri: str) -> None:
        self.notify("textDocument/didSave", {"textDocument": {"uri": uri}})

    def diagnostics_after(self, uri: str, start: int, timeout: float = 30) -> list[dict]:
        message = self.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri, timeout, start)
        return message["params"]["diagnostics"]

    def mark(self) -> int:
        with self._cond:
            return len(self.notifications)

    def at(self, method: str, uri: str, line: int, character: int, **extra: Any) -> Any:
        return self.request(method, {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}, **extra})

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.request("shutdown", None, timeout=30)
                self.notify("exit", None)
                self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._stderr.close()
