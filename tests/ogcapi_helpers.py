"""Helpers for the OGC API tests: a loopback receiver for callbacks and input references, job polling."""
from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any

import requests

PROBLEM_TYPES = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"


class Receiver:
    """A loopback HTTP server: serves ``files`` on GET and records JSON POSTs (callbacks) by path."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.posts: list[tuple[str, Any]] = []
        self.failures: dict[str, int] = {}  # path -> how many POSTs to answer 503 before accepting
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = receiver.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(min(length, 1 << 20))
                with receiver.lock:
                    failing = receiver.failures.get(self.path, 0)
                    if failing:
                        receiver.failures[self.path] = failing - 1
                    else:
                        receiver.posts.append((self.path, json.loads(data or b"null")))
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def received(self, path: str) -> list[Any]:
        with self.lock:
            return [body for where, body in self.posts if where == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_status(session: requests.Session, href: str, statuses: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    info: dict = {}
    while time.monotonic() < deadline:
        info = session.get(href, timeout=10).json()
        if info.get("status") in statuses:
            return info
        time.sleep(0.1)
    raise AssertionError(f"{href} did not reach {statuses} within {timeout} s: {info}")
