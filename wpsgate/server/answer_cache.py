"""Answers known in full before the request comes, sent without the request-handler machinery.

GetCapabilities and DescribeProcess documents are rendered once per configuration;
what is left per request is Tornado's RequestHandler (routing, header objects, the
ETag hash) and the KVP parse, several times the cost of writing the bytes.  Clients
repeat the same few URLs, so the HTTP layer remembers the whole answer of a
successful GET for those two operations by its exact request target.  The same goes
for the status documents of local jobs: the job engine hands over each document as
it is written (and forgets it before the job's files are removed), so a poll is
answered from memory instead of a file read on a thread.  The connection delegate
below answers such a GET directly; everything else (other operations, POST,
conditional requests, anything not known) takes the normal path through the
Application.
"""
from __future__ import annotations

import collections
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from tornado import httputil

from .active_content import NOSNIFF
from .cors import CorsPolicy
from .errors import has_body

MAX_ENTRIES = 256
MAX_TARGET = 2048  # longer URLs are not remembered (they are rarely repeated)


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    content_type: str
    etag: str
    headers: tuple[tuple[str, str], ...] = ()


class AnswerCache:
    """A bounded map of request target -> answer; the oldest entry goes first when it is full."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[str, CachedAnswer] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, target: str) -> CachedAnswer | None:
        return self._entries.get(target)

    def put(self, target: str, body: bytes, content_type: str) -> None:
        """Remember an answer that never changes (a first answer stays)."""
        if target not in self._entries:
            self.set(target, body, content_type)

    def set(self, target: str, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Remember (or replace) the answer to ``target``; thread-safe."""
        if len(target) > MAX_TARGET:
            return
        answer = CachedAnswer(body, content_type, '"%s"' % hashlib.sha1(body).hexdigest(), headers)
        with self._lock:
            self._entries.pop(target, None)
            self._entries[target] = answer
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def drop(self, target: str) -> None:
        with self._lock:
            self._entries.pop(target, None)

    def __len__(self) -> int:
        return len(self._entries)


_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header, formatted once per second (formatting it costs more than sending the answer)."""
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, httputil.format_timestamp(second))
    return _date[1]


class CachedAnswerDelegate(httputil.HTTPServerConnectionDelegate):
    """Wraps the Application: a GET whose target is in one of the caches is answered here."""

    def __init__(self, application: httputil.HTTPServerConnectionDelegate, *caches: AnswerCache,
                 server_header: str = "wpsgate", cors: CorsPolicy | None = None,
                 observe: Callable[[str, str, int, float], None] | None = None,
                 gate: Callable[[str, httputil.HTTPHeaders, str], bool] | None = None) -> None:
        self.application = application
        # With identity on (wpsgate.auth.access.Access.memory_gate): whether this caller may be answered
        # from memory; when not, the Application answers (and checks identity and ownership in full).
        self.gate = gate
        self.observe = observe  # (route, method, status, seconds) of each answer sent from here (metrics)
        self.caches = caches
        self.server_header = server_header
        # With a CORS policy, a request with an Origin goes to the Application (it adds the
        # Access-Control-* headers); every cached answer says it varies by Origin.
        self.cors_enabled = cors is not None and cors.enabled
        self.common_headers: tuple[tuple[str, str], ...] = (NOSNIFF,) + ((("Vary", "Origin"),)
                                                                          if self.cors_enabled else ())

    def lookup(self, target: str) -> CachedAnswer | None:
        for cache in self.caches:
            answer = cache.get(target)
            if answer is not None:
                return answer
        return None

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return _Message(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.application.on_close(server_conn)


def _peer(connection: Any) -> str:
    """The TCP peer's address (what RequestHandler's remote_ip is without xheaders)."""
    return getattr(getattr(connection, "context", None), "remote_ip", "") or ""


class _Message(httputil.HTTPMessageDelegate):
    """One request: answered from the cache at its headers, or handed to the Application whole."""

    def __init__(self, outer: CachedAnswerDelegate, server_conn: object,
                 request_conn: httputil.HTTPConnection) -> None:
        self.outer = outer
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.inner: httputil.HTTPMessageDelegate | None = None
        self.answer: CachedAnswer | None = None
        self.started = 0.0

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        if (start_line.method == "GET" and "If-None-Match" not in headers and not has_body(headers)
                and not (self.outer.cors_enabled and "Origin" in headers)
                and "text/html" not in headers.get("Accept", "")):  # a browser may be owed HTML (OGC API)
            self.answer = self.outer.lookup(start_line.path)
            if self.answer is not None and self.outer.gate is not None and not self.outer.gate(
                    start_line.path, headers, _peer(self.request_conn)):
                self.answer = None
            if self.answer is not None:
                if self.outer.observe is not None:
                    self.started = time.perf_counter()
                    self.route = "status_document" if start_line.path.startswith("/status/") else "wps"
                return None  # sent at finish(): answering before the body is read would close the connection
        self.inner = self.outer.application.start_request(self.server_conn, self.request_conn)
        return self.inner.headers_received(start_line, headers)

    def _send(self, answer: CachedAnswer) -> None:
        headers = httputil.HTTPHeaders({
            "Server": self.outer.server_header, "Content-Type": answer.content_type,
            "Date": http_date(), "Etag": answer.etag, "Content-Length": str(len(answer.body))})
        for name, value in self.outer.common_headers:
            headers[name] = value
        for name, value in answer.headers:
            headers[name] = value
        self.request_conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", 200, "OK"), headers, answer.body)
        self.request_conn.finish()
        if self.outer.observe is not None:
            self.outer.observe(self.route, "GET", 200, time.perf_counter() - self.started)

    def data_received(self, chunk: bytes) -> Any:
        if self.inner is not None:
            return self.inner.data_received(chunk)
        return None

    def finish(self) -> None:
        if self.answer is not None:
            self._send(self.answer)
        elif self.inner is not None:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if self.inner is not None:
            self.inner.on_connection_close()
