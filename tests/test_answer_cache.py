"""The remembered answers of GetCapabilities and DescribeProcess GETs.

In-process: a small Tornado application behind CachedAnswerDelegate shows which
requests reach the application and which are answered from the cache.  Against
the gateway: a repeated request gets the same bytes and headers as the first, and
what must not be cached (other operations, errors, conditional requests) is not.
"""
from __future__ import annotations

import asyncio
import http.client
import socket

import tornado.web
from tornado.httpserver import HTTPServer

from tests.schemas import assert_valid
from wpsgate.server.answer_cache import MAX_TARGET, AnswerCache, CachedAnswerDelegate


def test_the_cache_is_bounded_and_forgets_the_oldest_first():
    cache = AnswerCache(max_entries=3)
    for i in range(5):
        cache.put(f"/wps?i={i}", f"body {i}".encode(), "text/xml")
    assert len(cache) == 3
    assert cache.get("/wps?i=0") is None and cache.get("/wps?i=1") is None
    assert cache.get("/wps?i=4").body == b"body 4"


def test_long_targets_are_not_remembered():
    cache = AnswerCache()
    cache.put("/wps?" + "x" * MAX_TARGET, b"body", "text/xml")
    assert len(cache) == 0


class CountingHandler(tornado.web.RequestHandler):
    """Answers every request and remembers GET answers of /doc, as WPSHandler does for its documents."""

    def initialize(self, cache: AnswerCache, calls: list) -> None:
        self.cache = cache
        self.calls = calls

    def _answer(self) -> None:
        self.calls.append((self.request.method, self.request.uri))
        body = f"answer to {self.request.uri}".encode()
        self.set_header("Content-Type", "text/xml; charset=utf-8")
        if self.request.method == "GET" and self.request.uri.startswith("/doc"):
            self.cache.put(self.request.uri, body, "text/xml; charset=utf-8")
        self.finish(body)

    get = post = _answer

    def head(self) -> None:
        self.calls.append((self.request.method, self.request.uri))
        self.set_header("Content-Type", "text/xml; charset=utf-8")
        self.finish()


def _exchange(port: int, requests: list[tuple[str, str, dict]]) -> list[tuple[int, dict, bytes]]:
    """Several requests on one keep-alive connection (blocking; run in a thread)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    answers = []
    try:
        for method, target, headers in requests:
            connection.request(method, target, headers=headers)
            response = connection.getresponse()
            answers.append((response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()))
    finally:
        connection.close()
    return answers


def test_a_repeated_get_is_answered_without_the_application():
    async def scenario():
        cache, calls = AnswerCache(), []
        app = tornado.web.Application([(r"/.*", CountingHandler, {"cache": cache, "calls": calls})])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        server = HTTPServer(CachedAnswerDelegate(app, cache))
        server.add_socket(sock)
        try:
            loop = asyncio.get_running_loop()
            answers = await loop.run_in_executor(None, _exchange, port, [
                ("GET", "/doc?a=1", {}),            # the application answers and the answer is remembered
                ("GET", "/doc?a=1", {}),            # from the cache
                ("GET", "/doc?a=1", {}),            # from the cache again, same connection
                ("GET", "/doc?a=2", {}),            # another target: the application
                ("POST", "/doc?a=1", {}),           # not a GET: the application
                ("HEAD", "/doc?a=1", {}),           # not a GET: the application
                ("GET", "/doc?a=1", {"If-None-Match": '"x"'}),  # conditional: the application
                ("GET", "/other", {}),              # not remembered by the handler: the application, twice
                ("GET", "/other", {}),
            ])
            return answers, calls
        finally:
            server.stop()

    answers, calls = asyncio.run(scenario())
    assert [status for status, _, _ in answers] == [200] * 9
    assert calls == [("GET", "/doc?a=1"), ("GET", "/doc?a=2"), ("POST", "/doc?a=1"), ("HEAD", "/doc?a=1"),
                     ("GET", "/doc?a=1"), ("GET", "/other"), ("GET", "/other")]
    (_, first_headers, first), (_, cached_headers, cached) = answers[0], answers[1]
    assert cached == first == b"answer to /doc?a=1"
    assert cached_headers["content-type"] == first_headers["content-type"]
    assert cached_headers["content-length"] == str(len(first))
    assert cached_headers["etag"] == first_headers["etag"]
    assert cached_headers["server"] and cached_headers["date"]


def test_the_gateway_answers_a_repeated_getcapabilities_identically(gateway):
    first = gateway.get(service="WPS", request="GetCapabilities")
    second = gateway.get(service="WPS", request="GetCapabilities")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert_valid(second.content)
    for header in ("Content-Type", "Etag", "Server"):
        assert second.headers[header] == first.headers[header]
    # a conditional request still gets its 304 from the application
    again = gateway.session.get(gateway.wps, params={"service": "WPS", "request": "GetCapabilities"},
                                headers={"If-None-Match": first.headers["Etag"]}, timeout=60)
    assert again.status_code == 304


def test_errors_and_other_operations_are_not_remembered(gateway):
    for _ in range(2):
        response = gateway.get(service="WPS", request="DescribeProcess", version="1.0.0", identifier="nope")
        assert response.status_code == 400 and b"InvalidParameterValue" in response.content
    names = [gateway.execute("hello", "name=A").content, gateway.execute("hello", "name=B").content]
    assert b"Hello A" in names[0] and b"Hello B" in names[1]
    location_a = gateway.execute("hello", "name=A", storeExecuteResponse="true").content
    location_b = gateway.execute("hello", "name=A", storeExecuteResponse="true").content
    assert location_a != location_b  # every async Execute is a new job, even with the same URL
