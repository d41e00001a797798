"""The listening side: bounded headers, timeouts, a cap on open connections, no fd exhaustion.

A client that opens connections and never finishes its headers (or sends a body slowly)
costs the gateway a file descriptor and a buffer each.  Tornado bounds the header block
(``max_header_size``) and the time to receive it (``idle_connection_timeout``: in Tornado 6
this one deadline runs from the moment the server waits for a request until its headers
are complete, so it is both the header timeout and the keep-alive idle timeout) and the body
(``body_timeout``).  On top of that this server caps the open connections below the
open-files limit.  When the cap is reached, the connection that has waited longest for its
headers (an idle keep-alive or a slow client) is closed to make room, so slow clients cannot
crowd out a new request; only when every connection is busy with a request is the newcomer
refused with a bare 503.  If the process runs out of descriptors anyway (files, workers),
``AcceptGuard`` turns "Too many open files" on accept into one refused connection instead
of a traceback repeated for every wake-up of the loop.
"""
from __future__ import annotations

import collections
import errno
import logging
import os
import resource
import socket
from dataclasses import dataclass
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream

log = logging.getLogger("wpsgate.http")

FD_RESERVE = 128  # descriptors kept for files, worker pipes, the database and executors
MIN_CONNECTIONS = 16
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
           b"Retry-After: 1\r\n\r\n")


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client connection may cost (from the ``server`` section of the configuration)."""

    max_connections: int
    max_header_size: int
    header_timeout: float
    body_timeout: float
    max_body_size: int


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (the default 1024 is low for a server); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def default_max_connections(open_files: int) -> int:
    """The open-files limit less a reserve for everything else the gateway opens."""
    return max(MIN_CONNECTIONS, open_files - FD_RESERVE)


class GatewayHTTPServer(HTTPServer):
    """HTTPServer with a cap on open connections that evicts the longest wait for headers first."""

    def initialize(self, request_callback: Any, limits: ConnectionLimits, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(request_callback, max_header_size=limits.max_header_size,
                           idle_connection_timeout=limits.header_timeout, body_timeout=limits.body_timeout,
                           max_body_size=limits.max_body_size, **kwargs)
        self.max_connections = limits.max_connections
        # the streams of connections waiting for a request's headers, oldest first
        self.waiting: collections.OrderedDict[IOStream, None] = collections.OrderedDict()
        self.evicting: set[IOStream] = set()  # closed to make room, not yet gone from _connections
        self.refused = 0
        self.evicted = 0

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        if len(self._connections) - len(self.evicting) >= self.max_connections and not self._evict_one():
            self.refused += 1
            log.warning("connection limit (%d) reached with every connection busy: refusing new connections",
                        self.max_connections)
            refuse(stream)
            return
        # Waiting from now: its first start_request runs only on a later turn of the loop.
        self.waiting[stream] = None
        super().handle_stream(stream, address)

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for its headers; False when none waits."""
        while self.waiting:
            stream, _ = self.waiting.popitem(last=False)
            if not stream.closed():
                self.evicting.add(stream)
                self.evicted += 1
                stream.close()
                return True
        return False

    def start_request(self, server_conn: Any, request_conn: httputil.HTTPConnection
                      ) -> httputil.HTTPMessageDelegate:
        stream = server_conn.stream
        if stream not in self.waiting:  # the next request of a kept-alive connection
            self.waiting[stream] = None
        return _HeadersArrived(super().start_request(server_conn, request_conn), self.waiting, stream)

    def on_close(self, server_conn: Any) -> None:
        self.waiting.pop(server_conn.stream, None)
        self.evicting.discard(server_conn.stream)
        super().on_close(server_conn)


class _HeadersArrived(httputil.HTTPMessageDelegate):
    """Takes its connection off the waiting list once the request's headers are in."""

    __slots__ = ("inner", "waiting", "stream")

    def __init__(self, inner: httputil.HTTPMessageDelegate, waiting: collections.OrderedDict,
                 stream: IOStream) -> None:
        self.inner = inner
        self.waiting = waiting
        self.stream = stream

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        self.waiting.pop(self.stream, None)
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()


def refuse(stream: IOStream) -> None:
    """A bare 503 written at once (it fits the socket buffer), then the connection closed."""
    try:
        stream.socket.send(REFUSAL)
    except OSError:
        pass
    stream.close()


class AcceptGuard:
    """A listening socket whose accept() survives running out of file descriptors.

    On EMFILE/ENFILE the kernel keeps the pending connection queued, the socket stays
    readable, and Tornado's accept handler would raise (and the loop log a traceback) on
    every turn.  This gives up one spare descriptor to accept the pending connection,
    closes it at once (the client sees the connection closed, not a hang), takes the spare
    back and tells Tornado there is nothing more to accept this turn.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.spare: int | None = _open_spare()
        self.shed = 0

    def accept(self) -> tuple[socket.socket, Any]:
        try:
            return self.sock.accept()
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            self._shed_one()
            raise BlockingIOError(errno.EAGAIN, "out of file descriptors") from None

    def _shed_one(self) -> None:
        self.shed += 1
        log.warning("out of file descriptors (%s): a new connection was closed unanswered",
                    os.strerror(errno.EMFILE))
        if self.spare is not None:
            os.close(self.spare)
            self.spare = None
            try:
                connection, _ = self.sock.accept()
                connection.close()
            except OSError:
                pass
        self.spare = _open_spare()

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        if self.spare is not None:
            os.close(self.spare)
            self.spare = None
        self.sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def _open_spare() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return None
