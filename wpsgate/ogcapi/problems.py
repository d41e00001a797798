"""Errors of the OGC API as RFC 7807 problem details, with the standard's exception type URIs.

The WPS side raises OWS exceptions (wpsgate.exceptions) from code both front doors share
(request checks, admission, staging); ``from_ows`` turns one into the problem this API answers
with, keeping its text and HTTP status, and naming the offending input in ``locator``.
"""
from __future__ import annotations

import json
from typing import Any

from ..exceptions import OWSException

EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
NO_SUCH_PROCESS = EXCEPTIONS + "no-such-process"
NO_SUCH_JOB = EXCEPTIONS + "no-such-job"
RESULT_NOT_READY = EXCEPTIONS + "result-not-ready"
JOB_RESULTS_FAILED = EXCEPTIONS + "job-results-failed"
INVALID_PARAMETER = EXCEPTIONS + "invalid-parameter-value"
INVALID_INPUT = EXCEPTIONS + "invalid-input"
MISSING_INPUT = EXCEPTIONS + "missing-input"
SERVER_BUSY = EXCEPTIONS + "server-busy"
NOT_FOUND = EXCEPTIONS + "not-found"
NOT_ALLOWED = EXCEPTIONS + "method-not-allowed"
UNSUPPORTED_MEDIA_TYPE = EXCEPTIONS + "unsupported-media-type"
PAYLOAD_TOO_LARGE = EXCEPTIONS + "payload-too-large"
SERVER_ERROR = EXCEPTIONS + "server-error"
UNAUTHORIZED = "about:blank"  # no type of the standard; RFC 7807: the HTTP status says it all
PROBLEM_CONTENT_TYPE = "application/json; charset=utf-8"  # RFC 7807 bodies, typed as Part 1 1.0's OpenAPI types them

_BY_OWS_CODE = {
    "InvalidParameterValue": INVALID_INPUT, "MissingParameterValue": MISSING_INPUT,
    "FileSizeExceeded": PAYLOAD_TOO_LARGE, "StorageNotSupported": INVALID_PARAMETER,
    "ServerBusy": SERVER_BUSY, "NoApplicableCode": SERVER_ERROR, "NotEnoughStorage": SERVER_BUSY,
    "OperationNotSupported": INVALID_PARAMETER, "VersionNegotiationFailed": INVALID_PARAMETER,
}
_TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type", 500: "Internal Server Error",
           503: "Service Unavailable"}


class Problem(Exception):
    """An answer of this API that is an error: ``type`` (a URI), ``status`` and a ``detail`` for people."""

    def __init__(self, type_: str, status: int, detail: str, locator: str | None = None) -> None:
        super().__init__(detail)
        self.type = type_
        self.status = status
        self.detail = detail
        self.locator = locator

    def document(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": _TITLES.get(self.status, "Error"),
                                "status": self.status, "detail": self.detail}
        if instance:
            body["instance"] = instance
        if self.locator:
            body["locator"] = self.locator
        return body

    def render(self, instance: str | None = None) -> bytes:
        return json.dumps(self.document(instance)).encode("utf-8")


def from_ows(exc: OWSException) -> Problem:
    """The problem for an OWS exception raised by the shared Execute checks."""
    status = int(getattr(exc, "http_status", 400) or 400)
    type_ = _BY_OWS_CODE.get(exc.code, INVALID_PARAMETER if status < 500 else SERVER_ERROR)
    return Problem(type_, status, exc.message or str(exc), getattr(exc, "locator", None))


def no_such_process(identifier: str) -> Problem:
    return Problem(NO_SUCH_PROCESS, 404, f"no process has the id {identifier!r}")


def no_such_job(job_id: str) -> Problem:
    return Problem(NO_SUCH_JOB, 404, f"no job has the id {job_id!r}")


def invalid(detail: str, locator: str | None = None) -> Problem:
    return Problem(INVALID_PARAMETER, 400, detail, locator)
