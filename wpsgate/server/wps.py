"""The /wps endpoint: KVP over GET, XML over POST."""
from __future__ import annotations

import os
from typing import Any


from ..exceptions import InvalidParameterValue, OWSException, RequestTooLarge
from ..protocol.kvp import parse_kvp
from ..protocol.requests import DescribeProcessRequest, GetCapabilitiesRequest
from ..protocol.xml_request import parse_xml
from ..service import Answer
from .answer_cache import AnswerCache
from .callers import access_of, require_caller, with_address
from .active_content import output_headers
from .errors import OWSHandler
from .files import stream_file


def query_text(query: str) -> str:
    """The query string as text: Tornado decodes the request target as latin-1, clients send UTF-8."""
    try:
        return query.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterValue("the query string is not valid UTF-8", "request") from None


def is_xml_media_type(content_type: str | None) -> bool:
    """text/xml, application/xml or application/*+xml, parameters (charset) allowed."""
    if not content_type:
        return False
    base = content_type.split(";", 1)[0].strip().lower()
    return base in ("text/xml", "application/xml") or (base.startswith("application/") and base.endswith("+xml"))


def content_type_refusal(content_type: str | None) -> InvalidParameterValue:
    """415 for an XML POST whose Content-Type is not XML (or is missing).

    A page on any site can make a visitor's browser POST text/plain, a form or multipart
    data, or a body without a Content-Type, without a CORS preflight; an XML type needs
    one.  Refusing the others keeps other sites from running jobs through a browser.
    415 (not OWS's usual 400): the request is not malformed, its media type is unsupported.
    """
    said = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    exc = InvalidParameterValue(f"an XML request must be sent as text/xml or application/xml; this one has {said}",
                                "Content-Type")
    exc.http_status = 415
    return exc


class WPSHandler(OWSHandler):
    """Parses the request, lets the service answer, and writes the answer (or the ExceptionReport)."""

    route = "wps"  # the label of its answers in /metrics
    ACCESS = "deferred"  # GetCapabilities/DescribeProcess may be public, Execute needs a caller: see _answer

    SUPPORTED_METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")
    BODY_METHODS = frozenset({"POST"})

    def initialize(self, service: Any, max_request_size: int, answers: AnswerCache | None = None) -> None:
        self.service = service
        self.answers = answers
        self.max_request_size = max_request_size
        self.chunks: list[bytes] = []
        self.received = 0
        self.too_large = False

    def prepare(self) -> None:
        if len(self.request.uri) > self.max_request_size:
            exc = RequestTooLarge(f"the request URL is longer than the server accepts ({self.max_request_size} "
                                  "bytes)", "request")
            exc.http_status = 414
            self.write_ows_exception(exc)
            return
        if self.request.method != "POST":
            super().prepare()
            return
        content_type = self.request.headers.get("Content-Type")
        if not is_xml_media_type(content_type):
            self.write_ows_exception(content_type_refusal(content_type))
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.max_request_size:
            self.write_ows_exception(self._too_large())

    def _too_large(self) -> RequestTooLarge:
        return RequestTooLarge(f"the request body is larger than the server accepts ({self.max_request_size} bytes)",
                               "request")

    def data_received(self, chunk: bytes) -> None:
        if self.too_large or self._finished:
            return
        self.received += len(chunk)
        if self.received > self.max_request_size:
            # Answered now (a chunked body has no length to refuse it by): the rest is never read,
            # the connection closes once the answer is sent.
            self.too_large = True
            self.chunks.clear()
            self.write_ows_exception(self._too_large())
            return
        self.chunks.append(chunk)

    async def get(self) -> None:
        await self._answer(lambda: parse_kvp(query_text(self.request.query)))

    async def head(self) -> None:
        await self.get()

    async def post(self) -> None:
        if self.too_large:
            raise self._too_large()
        body = b"".join(self.chunks)
        self.chunks.clear()
        await self._answer(lambda: parse_xml(body))

    async def _answer(self, parse: Any) -> None:
        try:
            access = access_of(self)
            if access is not None and not access.identity.public_capabilities:
                await require_caller(self)  # every operation needs a caller: before anything is parsed
            request = parse()
            catalogue = isinstance(request, (GetCapabilitiesRequest, DescribeProcessRequest))
            if access is not None and not catalogue and self.caller.user is None:
                await require_caller(self)
            answer: Answer = await (self.service.handle(request) if catalogue
                                    else self.service.handle(request, caller=with_address(self)))
        except OWSException as exc:
            self.write_ows_exception(exc)
            return
        self.set_status(answer.status)
        self.set_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.set_header(name, value)
        if answer.raw:
            filename = os.path.basename(answer.path) if answer.path is not None else None
            for name, value in output_headers(answer.content_type, self.settings.get("active_outputs", "attachment"),
                                              filename, "inline" if filename else None):
                self.set_header(name, value)
        if answer.path is not None:
            await stream_file(self, answer.path)
            return
        if (self.answers is not None and self.request.method == "GET" and answer.body is not None
                and answer.status == 200 and not answer.headers
                and isinstance(request, (GetCapabilitiesRequest, DescribeProcessRequest))):
            self.answers.put(self.request.uri or "", answer.body, answer.content_type)  # same URL, same answer
        self.finish(answer.body or b"")
