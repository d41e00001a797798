"""Every error the HTTP layer answers is an OWS ExceptionReport (or JSON on the job API), never a traceback.

The base handlers also hold what every route shares at the edge: no route but POST /wps
takes a request body, and a body sent anyway is refused from its headers, before any of it
is read (every handler streams its body, so Tornado never buffers one); every answer says
``nosniff``; and the CORS policy (none by default) adds its headers and answers preflights.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import tornado.web
from tornado import httputil

from ..auth.caller import ANONYMOUS, Caller
from ..auth.identity import Unauthenticated
from ..exceptions import NoApplicableCode, OWSException, RequestTooLarge, ServerBusy
from ..jobs.store import StoreUnavailable
from ..protocol.documents import render_exception_report
from .active_content import NOSNIFF
from .callers import identify
from .cors import CorsPolicy

log = logging.getLogger("wpsgate.http")
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
_CODES = {405: "OperationNotSupported", 404: "NoApplicableCode"}


def has_body(headers: httputil.HTTPHeaders) -> bool:
    """Whether a request announces a body: any Transfer-Encoding, or a Content-Length other than 0."""
    if "Transfer-Encoding" in headers:
        return True
    length = headers.get("Content-Length")
    return length is not None and length.strip(" \t0") != ""


@tornado.web.stream_request_body
class EdgeHandler(tornado.web.RequestHandler):
    """What every route shares: bodies refused unless the method takes one, nosniff, CORS."""

    BODY_METHODS: frozenset[str] = frozenset()  # the methods of this route that take a request body
    ACCESS = "caller"  # who may use this route with identity on (see server.callers); closed by default
    caller: Caller = ANONYMOUS  # set in prepare

    def set_default_headers(self) -> None:
        self.set_header("Server", "wpsgate")
        self.set_header(*NOSNIFF)
        cors: CorsPolicy | None = self.settings.get("cors")
        if cors is not None and cors.enabled:
            for name, value in cors.response_headers(self.request.headers.get("Origin")):
                self.set_header(name, value)

    def prepare(self) -> Any:
        if self.request.method not in self.BODY_METHODS and has_body(self.request.headers):
            if not self._implements(self.request.method or ""):
                raise tornado.web.HTTPError(405)
            self.refuse_body()
        return identify(self)

    def flush(self, include_footers: bool = False) -> Any:
        if not self._headers_written and self._body_unread():
            # Tornado closes the connection after an answer sent before the request's body was read;
            # saying so keeps a keep-alive client from sending its next request into a closing socket
            self.set_header("Connection", "close")
        return super().flush(include_footers)

    def _body_unread(self) -> bool:
        body = getattr(self.request, "_body_future", None)  # the streamed body's end (Tornado's own marker)
        return body is not None and not body.done()

    def refuse_body(self) -> None:
        """Answer 413 in the route's own error format (the connection then closes, the body unread)."""
        raise tornado.web.HTTPError(413)

    def data_received(self, chunk: bytes) -> None:
        """Only reached for a refused body still in flight: dropped, never stored."""

    def options(self, *args: str) -> None:
        """A CORS preflight from an allowed origin gets 204 with the methods; anything else 405."""
        cors: CorsPolicy | None = self.settings.get("cors")
        methods = ", ".join(m for m in self.SUPPORTED_METHODS if m != "OPTIONS" and self._implements(m))
        headers = cors.preflight_headers(self.request.headers.get("Origin"), methods) if cors else None
        if headers is None or "Access-Control-Request-Method" not in self.request.headers:
            raise tornado.web.HTTPError(405)
        for name, value in headers:
            self.set_header(name, value)
        self.set_status(204)
        self.finish()

    def _implements(self, method: str) -> bool:
        own = getattr(type(self), method.lower(), None)
        return own is not None and own is not getattr(tornado.web.RequestHandler, method.lower(), None)


class OWSHandler(EdgeHandler):
    """Base handler: errors become ExceptionReports with the right HTTP status."""

    def refuse_body(self) -> None:
        raise RequestTooLarge(f"a {self.request.method} request to {self.request.path} takes no body", "request")

    def write_ows_exception(self, exc: OWSException) -> None:
        self.clear()
        self.set_status(exc.http_status)
        if isinstance(exc, Unauthenticated):
            self.set_header("WWW-Authenticate", exc.challenge)
        self.set_header("Content-Type", XML_CONTENT_TYPE)
        self.finish(render_exception_report(exc.code, exc.message, exc.locator))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], OWSException):
            self.write_ows_exception(exc_info[1])
            return
        if exc_info and isinstance(exc_info[1], StoreUnavailable):  # e.g. a token could not be checked
            self.write_ows_exception(ServerBusy(str(exc_info[1])))
            return
        if status_code >= 500:
            text = "internal server error; the gateway's log has the details"
        elif status_code == 405:
            text = f"HTTP method {self.request.method} is not allowed here"
        else:
            text = self._reason
        self.set_header("Content-Type", XML_CONTENT_TYPE)
        if status_code == 405:
            self.set_header("Allow", ", ".join(m for m in self.SUPPORTED_METHODS if self._implements(m)))
        self.finish(render_exception_report(_CODES.get(status_code, "NoApplicableCode"), text))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (OWSException, StoreUnavailable)):
            return
        super().log_exception(typ, value, tb)


class JSONHandler(EdgeHandler):
    """Base handler for the JSON job API: errors are JSON objects."""

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], Unauthenticated):
            self.set_header("WWW-Authenticate", exc_info[1].challenge)
            self.write_json({"error": exc_info[1].message, "status": 401}, 401)
            return
        if exc_info and isinstance(exc_info[1], StoreUnavailable):
            self.write_json({"error": "the job store is unavailable; try again later", "status": 503}, 503)
            return
        message = "internal server error" if status_code >= 500 else self._reason
        self.write_json({"error": message, "status": status_code}, status_code)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, Unauthenticated):
            return
        if isinstance(value, StoreUnavailable):
            log.warning("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


def not_found(message: str) -> NoApplicableCode:
    return NoApplicableCode(message, http_status=404)
