"""A minimal HTTP/1.1 client over one blocking socket, for latency loops with little client overhead.

It keeps the connection alive when the server does (Tornado) and reconnects when
the server closes it (gunicorn's sync workers answer ``Connection: close``), so
both servers are measured the way a client library would talk to them.  Bodies are
read by Content-Length, chunked encoding, or until the server closes.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


class HTTPError(Exception):
    """A malformed answer or a broken connection."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the first byte sent to the last byte received (reconnects included)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def split_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the benchmark talks to loopback http only, not {url}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.hostname, parts.port or 80, target


class Connection:
    """One keep-alive connection to ``host:port``; ``request`` reconnects when needed."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    @classmethod
    def for_url(cls, url: str, timeout: float = 60.0) -> "Connection":
        host, port, _ = split_url(url)
        return cls(host, port, timeout)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.buffer = b""

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> None:
        self.close()
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    def _recv(self) -> bytes:
        assert self.sock is not None
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        return data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self.buffer += self._recv()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _read_to_close(self) -> bytes:
        assert self.sock is not None
        chunks = [self.buffer]
        self.buffer = b""
        while True:
            data = self.sock.recv(262144)
            if not data:
                return b"".join(chunks)
            chunks.append(data)

    def _send(self, method: str, target: str, body: bytes | None, headers: dict[str, str] | None) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}", "User-Agent: wpsgate-bench"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        assert self.sock is not None
        self.sock.sendall(data)

    def _read_response(self, method: str) -> tuple[int, dict[str, str], bytes, bool]:
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        try:
            status = int(status_line.split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HTTPError(f"bad status line {status_line!r}") from None
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        close = headers.get("connection", "").lower() == "close" or status_line.startswith("HTTP/1.0")
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(parts)
        else:
            body = self._read_to_close()
            close = True
        return status, headers, body, close

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        """Send one request and read its answer; a connection the server had closed is reopened once."""
        started = time.perf_counter()
        for attempt in (1, 2):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                self._send(method, target, body, headers)
                status, response_headers, data, close = self._read_response(method)
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                self.close()
                if fresh or attempt == 2:
                    raise
                continue  # a kept-alive connection the server had closed meanwhile
            except (socket.timeout, OSError) as exc:
                self.close()
                raise HTTPError(f"{method} {target}: {exc}") from None
            if close:
                self.close()
            return Response(status, response_headers, data, time.perf_counter() - started)
        raise HTTPError("unreachable")

    def get(self, target: str) -> Response:
        return self.request("GET", target)


def get(url: str, timeout: float = 60.0) -> Response:
    """One GET on a fresh connection."""
    host, port, target = split_url(url)
    with Connection(host, port, timeout) as connection:
        return connection.get(target)


def target_of(url: str) -> str:
    return split_url(url)[2]
