"""The HTTP handlers of OGC API – Processes – Part 1: Core.

Every route obeys the gateway's edge rules (wpsgate.server.errors.EdgeHandler): no body except
on POST /processes/{id}/execution, which takes JSON (``application/json``: a type a page of
another site cannot send without a CORS preflight) of at most ``server.maxrequestsize``,
streamed and refused as soon as it is too large; nosniff and the CORS policy on every answer;
HTML pages with a Content-Security-Policy.  Errors are RFC 7807 problem details.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import os
import types
from typing import Any
from urllib.parse import urlencode

import tornado.web

from ..auth import audit
from ..auth.caller import is_user_name
from ..auth.identity import Unauthenticated
from ..exceptions import OWSException
from ..jobs.folder import JobFolder, is_job_id
from ..jobs.store import StoreUnavailable
from ..server.active_content import output_headers
from ..server.callers import with_address
from ..server.errors import EdgeHandler
from ..server.files import stream_file
from . import pages
from .catalogue import dumps
from .context import APIContext
from .execute import parse_execute
from .joblist import JobQuery, JobScope, cursor_of, list_jobs, parse_cursor, parse_datetime, scope_for, split_values
from .links import link
from .negotiation import wants_html
from .problems import (JOB_RESULTS_FAILED, NOT_ALLOWED, NOT_FOUND, PAYLOAD_TOO_LARGE, PROBLEM_CONTENT_TYPE,
                       RESULT_NOT_READY, SERVER_BUSY, SERVER_ERROR, UNAUTHORIZED, UNSUPPORTED_MEDIA_TYPE, Problem,
                       from_ows, invalid, no_such_job, no_such_process)
from .results import NoResults, raw_value, results_from_document
from .status import STATUS_FROM_STATE, has_results, states_for, status_info

log = logging.getLogger("wpsgate.ogcapi")
JSON_TYPE = "application/json; charset=utf-8"
JSON_HEADERS = (("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),)
MAX_JOB_PAGE = 1000
CORS_EXPOSED = "Content-Disposition, Content-Length, ETag, Location, Preference-Applied"
INLINE_PARSE_LIMIT = 64 * 1024  # larger result documents are parsed on a worker thread


class APIHandler(EdgeHandler):
    """Base of every route of this API: problem details for errors, JSON and HTML writers."""

    def initialize(self, api: APIContext) -> None:
        self.api = api

    def set_default_headers(self) -> None:
        super().set_default_headers()
        if "Access-Control-Allow-Origin" in self._headers:  # an allowed origin: it may read these too
            self.set_header("Access-Control-Expose-Headers", CORS_EXPOSED)

    def options(self, *args: str) -> None:
        """The preflight of the gateway's CORS policy (see EdgeHandler), also allowing ``Prefer`` (async execution)."""
        cors = self.settings.get("cors")
        methods = ", ".join(m for m in self.SUPPORTED_METHODS if m != "OPTIONS" and self._implements(m))
        headers = cors.preflight_headers(self.request.headers.get("Origin"), methods) if cors else None
        if headers is None or "Access-Control-Request-Method" not in self.request.headers:
            raise tornado.web.HTTPError(405)
        for name, value in headers:
            self.set_header(name, "Content-Type, Prefer" if name == "Access-Control-Allow-Headers" else value)
        self.set_status(204)
        self.finish()

    def html_wanted(self) -> bool:
        return wants_html(self.get_query_argument("f", None), self.request.headers.get("Accept"))

    def send_json(self, body: bytes | Any, status: int = 200, content_type: str = JSON_TYPE) -> None:
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        for name, value in JSON_HEADERS:
            self.set_header(name, value)
        self.finish(body if isinstance(body, bytes) else dumps(body))

    def send_html(self, body: bytes) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        for name, value in pages.HTML_HEADERS:
            self.set_header(name, value)
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, Unauthenticated):
            self.set_header("WWW-Authenticate", exc.challenge)
            problem = Problem(UNAUTHORIZED, 401, exc.message, exc.locator)
        elif isinstance(exc, Problem):
            problem = exc
        elif isinstance(exc, OWSException):
            problem = from_ows(exc)
        elif isinstance(exc, StoreUnavailable):
            problem = Problem(SERVER_BUSY, 503, "the job store is unavailable; try again later")
        elif status_code == 404:
            problem = Problem(NOT_FOUND, 404, f"nothing is served at {self.request.path}")
        elif status_code == 405:
            problem = Problem(NOT_ALLOWED, 405, f"HTTP method {self.request.method} is not allowed here")
            self.set_header("Allow", ", ".join(m for m in self.SUPPORTED_METHODS if self._implements(m)))
        elif status_code == 413:
            problem = Problem(PAYLOAD_TOO_LARGE, 413, "this route takes no request body" if not self.BODY_METHODS
                              else f"the request body is larger than the server accepts "
                                   f"({self.api.max_request_size} bytes)")
        elif status_code < 500:
            problem = Problem(NOT_FOUND if status_code == 404 else SERVER_ERROR, status_code, self._reason)
        else:
            problem = Problem(SERVER_ERROR, status_code, "internal server error")
        self.set_status(problem.status)
        self.set_header("Content-Type", PROBLEM_CONTENT_TYPE)
        for name, value in JSON_HEADERS:
            self.set_header(name, value)
        self.finish(problem.render(self.request.path))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (Problem, OWSException)):  # Unauthenticated too
            return
        if isinstance(value, StoreUnavailable):
            log.warning("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


class LandingHandler(APIHandler):
    ACCESS = "public"  # links and API metadata only

    def get(self) -> None:
        catalogue = self.api.catalogue
        self.send_html(catalogue.landing_html) if self.html_wanted() else self.send_json(catalogue.landing_json)


class ConformanceHandler(APIHandler):
    ACCESS = "public"

    def get(self) -> None:
        self.send_json(self.api.catalogue.conformance_json)


class OpenAPIHandler(APIHandler):
    ACCESS = "public"

    def get(self) -> None:
        self.send_json(self.api.catalogue.openapi_json, content_type="application/vnd.oai.openapi+json;version=3.0")


def _int_argument(handler: tornado.web.RequestHandler, name: str, low: int, high: int) -> int | None:
    text = handler.get_query_argument(name, None)
    if text is None:
        return None
    if not text.isdigit() or not (low <= int(text) <= high):
        raise invalid(f"{name} must be an integer from {low} to {high}", name)
    return int(text)


class ProcessListHandler(APIHandler):
    ACCESS = "catalogue"  # public when auth.public_capabilities

    def get(self) -> None:
        catalogue = self.api.catalogue
        html = self.html_wanted()
        limit = _int_argument(self, "limit", 1, MAX_JOB_PAGE)
        offset = _int_argument(self, "offset", 0, 1_000_000) or 0
        if html:
            self.send_html(catalogue.all_processes_html)
        else:
            self.send_json(catalogue.process_list(limit, offset))


class ProcessHandler(APIHandler):
    ACCESS = "catalogue"

    def get(self, identifier: str) -> None:
        catalogue = self.api.catalogue
        html = self.html_wanted()
        if identifier not in catalogue.description_json:
            raise no_such_process(identifier)
        if html:
            self.send_html(catalogue.description_html[identifier])
        else:
            self.send_json(catalogue.description_json[identifier])


def is_json_media_type(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == "application/json"


@tornado.web.stream_request_body
class ExecutionHandler(APIHandler):
    """POST /processes/{id}/execution: a job, synchronous or (``Prefer: respond-async``) asynchronous."""

    BODY_METHODS = frozenset({"POST"})

    def initialize(self, api: APIContext) -> None:
        super().initialize(api)
        self.chunks: list[bytes] = []
        self.received = 0
        self.too_large = False

    def _too_large(self) -> Problem:
        return Problem(PAYLOAD_TOO_LARGE, 413,
                       f"the request body is larger than the server accepts ({self.api.max_request_size} bytes)")

    def prepare(self) -> Any:
        if self.request.method != "POST":
            return super().prepare()
        content_type = self.request.headers.get("Content-Type")
        if not is_json_media_type(content_type):
            said = f"Content-Type {content_type[:80]!r}" if content_type else "no Content-Type"
            raise Problem(UNSUPPORTED_MEDIA_TYPE, 415, f"an execute request must be sent as application/json; "
                                                       f"this one has {said}", "Content-Type")
        length = self.request.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > self.api.max_request_size:
            raise self._too_large()
        return super().prepare()  # the caller (before any of the body is read)

    def data_received(self, chunk: bytes) -> None:
        if self.too_large or self._finished:
            return
        self.received += len(chunk)
        if self.received > self.api.max_request_size:
            self.too_large = True  # answered now; the rest is never read, the connection closes after
            self.chunks.clear()
            self.send_error(413, exc_info=(Problem, self._too_large(), None))
            return
        self.chunks.append(chunk)

    async def post(self, identifier: str) -> None:
        if self.too_large:
            raise self._too_large()
        process = self.api.processes.get(identifier)
        if process is None:
            raise no_such_process(identifier)
        body = b"".join(self.chunks)
        self.chunks.clear()
        execution = parse_execute(body, process, self.request.headers.get("Prefer"))
        callbacks = self.api.callbacks
        if execution.asynchronous and execution.subscriber is not None and execution.subscriber.any:
            callbacks.check_room()
        try:
            started = await self.api.service.start(execution.request, with_address(self))
        except OWSException as exc:
            raise from_ows(exc) from None
        spec = started.spec
        if started.accepted is not None:
            await self._accepted(started, execution)
            return
        outcome = started.outcome
        if outcome.state != "succeeded":
            raise Problem(JOB_RESULTS_FAILED, 500, f"process {identifier} failed: {outcome.message}")
        if spec.raw:
            await self._raw(outcome)
            return
        results = await _results(outcome.document or b"")
        if execution.raw:
            self._multipart(results)
            return
        self.send_json(results)

    async def _accepted(self, started: Any, execution: Any) -> None:
        spec = started.spec
        refused = b"ProcessFailed" in started.accepted  # a scheduler refused the job: the document says why
        now = _dt.datetime.now(_dt.timezone.utc)
        record = types.SimpleNamespace(uuid=spec.uuid, process=spec.process_identifier,
                                       status="failed" if refused else "accepted", percent=0,
                                       message="the scheduler refused the job" if refused else "waiting in queue",
                                       created=now, started=None, finished=now if refused else None, expires=None,
                                       backend="", is_async=True)
        if execution.subscriber is not None and execution.subscriber.any:
            self.api.callbacks.follow(spec.uuid, execution.subscriber)
        location = f"{self.api.base}/jobs/{spec.uuid}"
        self.set_header("Location", location)
        self.set_header("Preference-Applied", "respond-async")
        self.send_json(status_info(record, self.api.base), status=201)

    async def _raw(self, outcome: Any) -> None:
        raw = outcome.raw
        self.set_status(200)
        self.set_header("Content-Type", raw.mime_type)
        filename = os.path.basename(raw.path) if raw.path is not None else None
        for name, value in output_headers(raw.mime_type, self.settings.get("active_outputs", "attachment"),
                                          filename, "inline" if filename else None):
            self.set_header(name, value)
        if raw.path is not None:
            await stream_file(self, raw.path)
            return
        self.finish(raw.payload or b"")

    def _multipart(self, results: dict[str, Any]) -> None:
        """``response=raw`` with several outputs: multipart/related, one part per output (a link as Content-Location)."""
        boundary = "wpsgate-" + os.urandom(12).hex()
        parts = []
        for identifier, result in results.items():
            if isinstance(result, dict) and "href" in result and "value" not in result:
                head = f"Content-ID: <{identifier}>\r\nContent-Location: {result['href']}\r\n"
                payload, content_type = b"", result.get("type", "application/octet-stream")
            else:
                payload, content_type = raw_value(result)
                head = f"Content-ID: <{identifier}>\r\n"
            parts.append(f"--{boundary}\r\n{head}Content-Type: {content_type}\r\n\r\n".encode() + payload + b"\r\n")
        self.set_status(200)
        self.set_header("Content-Type", f'multipart/related; boundary="{boundary}"')
        for name, value in output_headers("multipart/related", self.settings.get("active_outputs", "attachment")):
            self.set_header(name, value)
        self.finish(b"".join(parts) + f"--{boundary}--\r\n".encode())


async def _results(document: bytes) -> dict[str, Any]:
    if len(document) <= INLINE_PARSE_LIMIT:
        return results_from_document(document)
    return await asyncio.get_running_loop().run_in_executor(None, results_from_document, document)


class JobListHandler(APIHandler):
    """GET /jobs: statusInfo of jobs newest first, filtered by processID, status, type and datetime."""

    async def get(self) -> None:
        html = self.html_wanted()
        limit = _int_argument(self, "limit", 1, MAX_JOB_PAGE) or 10
        processes = split_values(self.get_query_arguments("processID"))
        statuses = split_values(self.get_query_arguments("status"))
        types_ = split_values(self.get_query_arguments("type"))
        unknown = [s for s in statuses if s not in STATUS_FROM_STATE.values()]
        if unknown:
            raise invalid(f"status {unknown[0][:40]!r} is not one of accepted, running, successful, failed, "
                          "dismissed", "status")
        if len(processes) > 100:
            raise invalid("at most 100 processID values", "processID")
        created_from = created_to = None
        if self.get_query_argument("datetime", None):
            created_from, created_to = parse_datetime(self.get_query_argument("datetime"))
        cursor = self.get_query_argument("cursor", None)
        states = tuple(states_for(statuses)) if statuses else None
        if types_ and "process" not in types_:
            states = ()  # every job of this gateway is of type process
        query = JobQuery(processes=tuple(processes), states=states, created_from=created_from,
                         created_to=created_to, limit=limit, before=parse_cursor(cursor) if cursor else None)
        engine = self.api.engine
        scope = scope_for(self)
        if self.caller.admin and self.get_query_argument("user", None) is not None:
            user = self.get_query_argument("user")
            if not is_user_name(user):
                raise invalid("user is not a valid user name", "user")
            scope = JobScope(owner=user)
        records = await engine.read(list_jobs, engine.store, query, scope)
        base = self.api.base
        jobs = [status_info(r, base) for r in records]
        params = [(k, v) for k in ("processID", "status", "type", "user") for v in self.get_query_arguments(k)]
        if self.get_query_argument("datetime", None):
            params.append(("datetime", self.get_query_argument("datetime")))
        params.append(("limit", str(limit)))
        here = f"{base}/jobs?{urlencode(params)}"
        next_href = None
        if len(records) == limit:
            next_href = f"{base}/jobs?{urlencode(params + [('cursor', cursor_of(records[-1]))])}"
        if html:
            source = f"{base}/jobs?{urlencode(params + [('f', 'json')])}"
            self.send_html(pages.job_list_page(jobs, source, next_href and next_href + "&f=html", base))
            return
        links = [link(here, "self", "application/json", "this page"),
                 link(here + "&f=html", "alternate", "text/html", "this page as HTML (a live job dashboard)")]
        if next_href:
            links.append(link(next_href, "next", "application/json", "next page"))
        self.send_json({"jobs": jobs, "links": links})


async def _job(handler: APIHandler, job_id: str) -> Any:
    """The job's row as the engine reports it (corrected by its status document), or no-such-job."""
    engine = handler.api.engine
    record = await engine.read(engine.current, job_id) if is_job_id(job_id) else None
    if record is None or not scope_for(handler).permits(record):
        raise no_such_job(job_id)
    return record


class JobHandler(APIHandler):
    """GET /jobs/{id}: statusInfo; DELETE dismisses (dequeued, or cancelled on its backend; files removed)."""

    async def get(self, job_id: str) -> None:
        record = await _job(self, job_id)
        self.send_json(status_info(record, self.api.base))

    async def delete(self, job_id: str) -> None:
        await _job(self, job_id)
        record = await self.api.engine.dismiss(job_id)
        if record is None:
            raise no_such_job(job_id)
        audit.dismissed(with_address(self), job_id, record.process, record.status)
        info = status_info(record, self.api.base)
        self.send_json(info)


class ResultsHandler(APIHandler):
    """GET /jobs/{id}/results: the outputs of a job that succeeded, read from its status document."""

    async def get(self, job_id: str) -> None:
        record = await _job(self, job_id)
        status = STATUS_FROM_STATE.get(record.status, "failed")
        if status in ("accepted", "running"):
            raise Problem(RESULT_NOT_READY, 404, f"job {job_id} is {status}; its results are not ready")
        if status == "failed":
            raise Problem(JOB_RESULTS_FAILED, 500, f"job {job_id} failed: {record.message}")
        if status == "dismissed":
            raise Problem(NOT_FOUND, 404, f"job {job_id} was {record.status}; its results were removed")
        if not has_results(record):
            raise Problem(NOT_FOUND, 404, f"job {job_id} ran synchronously: its results were in its answer "
                                          "and are not kept")
        path = JobFolder(self.api.spool, job_id).status
        try:
            document = await asyncio.get_running_loop().run_in_executor(None, _read_no_follow, path)
            results = await _results(document)
        except (OSError, NoResults):
            raise Problem(NOT_FOUND, 404, f"job {job_id} has no results (dismissed or expired)") from None
        self.send_json(results)


def _read_no_follow(path: str) -> bytes:
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        return handle.read()
