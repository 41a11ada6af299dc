"""Fault injection for the model lifecycle: a real ``mlflow server``, a stdlib HTTP proxy in front of it that can be
told to answer 503, drop connections or SIGKILL the client at a chosen request, and a runner for pipeline steps in
a subprocess (so a step can be killed at that request and then retried, as Airflow would).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from native_stack import free_port

RUN_STEP = Path(__file__).with_name("run_step.py")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
ANSWERS = ("503", "drop", "kill_before", "kill_after")


@dataclass
class Rule:
    """Requests whose method is ``method`` (empty: any), whose path contains ``path`` and whose body contains
    ``body`` get ``answer``: ``503``, ``drop`` (the connection is reset, nothing forwarded), ``kill_before`` (the
    client process is SIGKILLed and the request never reaches MLflow) or ``kill_after`` (MLflow handles the request,
    then the client is killed before it sees the answer). ``times`` limits how often the rule applies."""

    method: str = ""
    path: str = ""
    body: bytes = b""
    answer: str = "503"
    times: int | None = None

    def matches(self, method: str, path: str, body: bytes) -> bool:
        """Whether this rule applies to the request."""
        return (
            (not self.method or self.method == method)
            and self.path in path
            and self.body in body
            and (self.times is None or self.times > 0)
        )


class FaultProxy:
    """An HTTP proxy on a free loopback port in front of ``upstream_port``, forwarding everything until rules say
    otherwise; ``seen`` lists (method, path) of every request it got."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.rules: list[Rule] = []
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._victim: subprocess.Popen | None = None
        self._victim_set = threading.Event()
        self.killed = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Relay)
        self._server.daemon_threads = True
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return self._server.server_address[1]

    def url(self, credentials: str = "") -> str:
        """The tracking URI through the proxy, optionally with ``user:password`` in it."""
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    def add(self, *rules: Rule) -> None:
        """Apply ``rules`` from now on (first match wins)."""
        with self._lock:
            self.rules.extend(rules)

    def reset(self) -> None:
        """Forward everything again and forget the victim."""
        with self._lock:
            self.rules.clear()
            self._victim, self._victim_set = None, threading.Event()
            self.killed.clear()

    def victimize(self, process: subprocess.Popen) -> None:
        """The process ``kill_*`` rules kill."""
        self._victim = process
        self._victim_set.set()

    def answer_for(self, method: str, path: str, body: bytes) -> str | None:
        """The answer of the first rule matching the request (consuming one of its ``times``), or None."""
        with self._lock:
            self.seen.append((method, path))
            for rule in self.rules:
                if rule.matches(method, path, body):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.answer
        return None

    def kill_victim(self) -> None:
        """SIGKILL the victim process (it runs no more code of its own once the signal is sent; whoever started it
        reaps it)."""
        if not self._victim_set.wait(timeout=60):
            raise RuntimeError("a kill rule matched, but no victim process was given")
        os.kill(self._victim.pid, signal.SIGKILL)
        self.killed.set()

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        """Quiet: the proxy's ``seen`` list is the log."""

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _drop(self) -> None:
        """Reset the connection without an answer (SO_LINGER 0 makes the close send RST)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.proxy.upstream_port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
        headers["Content-Length"] = str(len(body))
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}]
            return response.status, kept, payload
        finally:
            upstream.close()

    def _relay(self) -> None:
        proxy = self.server.proxy
        body = self._body()
        answer = proxy.answer_for(self.command, self.path, body)
        if answer == "503":
            message = b"upstream unavailable (fault injected)"
            self.send_response(503)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        if answer == "drop":
            self._drop()
            return
        if answer == "kill_before":
            proxy.kill_victim()
            self._drop()
            return
        status, headers, payload = self._forward(body)
        if answer == "kill_after":
            proxy.kill_victim()
            self._drop()
            return
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay


@contextmanager
def mlflow_server(folder: Path) -> Iterator[int]:
    """A real ``mlflow server`` (the venv's binary; SQLite backend and served artifacts under ``folder``) on a free
    port, healthy before the block and killed after it; yields its port."""
    port = free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    command = [
        str(mlflow),
        "server",
        f"--backend-store-uri=sqlite:///{folder / 'mlflow.db'}",
        "--serve-artifacts",
        f"--artifacts-destination={folder / 'artifacts'}",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
    ]
    log = folder / "mlflow-server.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {server.returncode}: {log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mlflow server not healthy: {log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield port
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@dataclass(frozen=True)
class StepResult:
    """How a step subprocess ended: its exit status and its stderr."""

    returncode: int
    stderr: str

    @property
    def killed(self) -> bool:
        """Whether SIGKILL ended it."""
        return self.returncode == -signal.SIGKILL


def run_step(proxy: FaultProxy, env: dict[str, str], *args: str, victim: bool = False) -> StepResult:
    """Run ``run_step.py args`` in a subprocess with ``env``; with ``victim`` the proxy's kill rules kill it."""
    process = subprocess.Popen(
        [sys.executable, str(RUN_STEP), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if victim:
        proxy.victimize(process)
    _, stderr = process.communicate(timeout=300)
    return StepResult(process.returncode, stderr)
