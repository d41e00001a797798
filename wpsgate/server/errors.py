"""Every error the HTTP layer answers is an OWS ExceptionReport (or JSON on the job API), never a traceback."""
from __future__ import annotations

import json
import logging
from typing import Any

import tornado.web

from ..exceptions import NoApplicableCode, OWSException
from ..jobs.store import StoreUnavailable
from ..protocol.documents import render_exception_report

log = logging.getLogger("wpsgate.http")
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
_CODES = {405: "OperationNotSupported", 404: "NoApplicableCode"}


class OWSHandler(tornado.web.RequestHandler):
    """Base handler: errors become ExceptionReports with the right HTTP status."""

    def set_default_headers(self) -> None:
        self.set_header("Server", "wpsgate")

    def write_ows_exception(self, exc: OWSException) -> None:
        self.clear()
        self.set_status(exc.http_status)
        self.set_header("Content-Type", XML_CONTENT_TYPE)
        self.finish(render_exception_report(exc.code, exc.message, exc.locator))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], OWSException):
            self.write_ows_exception(exc_info[1])
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

    def _implements(self, method: str) -> bool:
        return getattr(type(self), method.lower()) is not getattr(tornado.web.RequestHandler, method.lower())

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, OWSException):
            return
        super().log_exception(typ, value, tb)


class JSONHandler(tornado.web.RequestHandler):
    """Base handler for the JSON job API: errors are JSON objects."""

    def set_default_headers(self) -> None:
        self.set_header("Server", "wpsgate")

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], StoreUnavailable):
            self.write_json({"error": "the job store is unavailable; try again later", "status": 503}, 503)
            return
        message = "internal server error" if status_code >= 500 else self._reason
        self.write_json({"error": message, "status": status_code}, status_code)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, StoreUnavailable):
            log.warning("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


def not_found(message: str) -> NoApplicableCode:
    return NoApplicableCode(message, http_status=404)
