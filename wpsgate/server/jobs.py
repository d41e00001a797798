"""Job resources: status documents, outputs, and the JSON status API."""
from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
from typing import Any, Callable

from ..jobs.folder import JobFolder, is_job_id
from ..jobs.store import JobRecord
from ..service import status_document_path
from ..auth import audit
from ..auth.caller import is_user_name
from .answer_cache import AnswerCache
from .callers import access_of, may_see, with_address
from .errors import XML_CONTENT_TYPE, JSONHandler, OWSHandler, not_found
from .active_content import NOSNIFF, SANDBOX, output_headers
from .files import content_type_for, stream_file

# Status documents are XML for WPS clients, which read the body; a browser opening one gets no script.
STATUS_HEADERS = (("Cache-Control", "no-cache"), NOSNIFF, SANDBOX)
STATUS_DOCUMENTS_IN_MEMORY = 2048  # the latest documents of this many local jobs
STATUS_DOCUMENT_MAX_BYTES = 64 * 1024  # larger ones (outputs by value) are read from the file: memory stays bounded


def status_document_keeper(cache: AnswerCache) -> Callable[[str, bytes | None], None]:
    """The job engine's ``on_document``: keeps each local job's latest status document for polls."""
    def keep(uuid: str, document: bytes | None) -> None:
        target = status_document_path(uuid)
        if document is None or len(document) > STATUS_DOCUMENT_MAX_BYTES:
            cache.drop(target)
        else:
            cache.set(target, document, XML_CONTENT_TYPE, STATUS_HEADERS)
    return keep


class StatusDocumentHandler(OWSHandler):
    """GET /status/<uuid>.xml: the job's WPS status document, as the job last wrote it."""

    route = "status_document"  # the label of its answers in /metrics

    def initialize(self, spool: str) -> None:
        self.spool = spool

    async def get(self, uuid: str) -> None:
        if not is_job_id(uuid):
            raise not_found("no such job")
        gone = f"job {uuid} has no status document (unknown, dismissed or expired)"
        # another user's job is answered as an unknown one
        if access_of(self) is not None and not await may_see(self, uuid):
            raise not_found(gone)
        path = JobFolder(self.spool, uuid).status
        try:
            body = await asyncio.get_running_loop().run_in_executor(None, _read, path)
        except OSError:  # missing, or not a regular file of its own (a symlink: ELOOP)
            raise not_found(gone) from None
        self.set_header("Content-Type", XML_CONTENT_TYPE)
        for name, value in STATUS_HEADERS:
            self.set_header(name, value)
        self.finish(body)


def _read(path: str) -> bytes:
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        return handle.read()


class OutputHandler(OWSHandler):
    """GET /outputs/<uuid>/<name>: an output file of a job, with ETag and Range support."""

    route = "outputs"  # the label of its answers in /metrics

    def initialize(self, spool: str) -> None:
        self.spool = spool

    async def get(self, uuid: str, name: str) -> None:
        await self._serve(uuid, name, True)

    async def head(self, uuid: str, name: str) -> None:
        await self._serve(uuid, name, False)

    async def _serve(self, uuid: str, name: str, include_body: bool) -> None:
        if not is_job_id(uuid) or not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
            raise not_found("no such output")
        if access_of(self) is not None and not await may_see(self, uuid):
            raise not_found("no such output")
        folder = JobFolder(self.spool, uuid).outputs
        path = os.path.join(folder, name)
        real = os.path.realpath(path)
        if os.path.dirname(real) != os.path.join(os.path.realpath(self.spool), uuid, "outputs"):
            raise not_found("no such output")
        content_type = content_type_for(name)
        self.set_header("Content-Type", content_type)
        for header, value in output_headers(content_type, self.settings.get("active_outputs", "attachment"), name):
            self.set_header(header, value)
        await stream_file(self, real, include_body)


def job_json(record: JobRecord, urls: Any, with_owner: bool = False) -> dict[str, Any]:
    """The JSON of one job; ``with_owner`` (for admins) adds who asked for it."""
    outputs = json.loads(record.outputs or "[]") if record.status not in ("expired", "dismissed") else []
    has_document = record.is_async and record.status not in ("expired", "dismissed")

    def iso(value: _dt.datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "uuid": record.uuid, "process": record.process, "status": record.status, "percent": record.percent,
        "message": record.message, "created": iso(record.created), "started": iso(record.started),
        "finished": iso(record.finished), "expires": iso(record.expires), "async": record.is_async,
        "backend": record.backend, "backend_id": record.backend_id,
        # on a scheduler: true once the scheduler took the job (backend_id is then its id); accepting a
        # job does not wait for the scheduler, so a job can be accepted and not submitted yet
        "submitted": record.backend_id is not None,
        "status_location": urls.status_document(record.uuid) if has_document else None,
        "outputs": [urls.outputs(record.uuid) + name for name in outputs],
        "links": {"self": urls.status_json(record.uuid)},
        **({"owner": record.owner} if with_owner else {}),
    }


class JobListHandler(JSONHandler):
    """GET /status/: jobs newest first, with limit/offset or a cursor, filtered by status and process.

    With identity on, a user sees only their own jobs; an admin sees every job, with its owner,
    and may filter by ``user=``."""

    route = "job_list"  # the label of its answers in /metrics

    def initialize(self, engine: Any, urls: Any) -> None:
        self.engine = engine
        self.urls = urls

    async def get(self) -> None:
        try:
            limit = int(self.get_query_argument("limit", "50"))
            offset = int(self.get_query_argument("offset", "0"))
        except ValueError:
            self.write_json({"error": "limit and offset must be integers", "status": 400}, 400)
            return
        if not (1 <= limit <= 1000) or offset < 0:
            self.write_json({"error": "limit must be 1..1000 and offset >= 0", "status": 400}, 400)
            return
        statuses = [s for s in self.get_query_arguments("status") for s in s.split(",") if s] or None
        process = self.get_query_argument("process", None)
        cursor = self.get_query_argument("cursor", None)
        before = None
        if cursor:
            try:
                created_text, uuid = cursor.split("_", 1)
                before = (_dt.datetime.fromisoformat(created_text), uuid)
            except ValueError:
                self.write_json({"error": "cursor is not valid", "status": 400}, 400)
                return
        owner, admin = None, False
        if access_of(self) is not None:
            admin = self.caller.admin
            owner = self.get_query_argument("user", None) if admin else self.caller.user
            if owner is not None and not is_user_name(owner):
                self.write_json({"error": "user is not a valid user name", "status": 400}, 400)
                return
        records = await self.engine.read(self.engine.store.list, limit, offset if not before else 0,
                                         statuses, process, before, owner)
        next_cursor = None
        if len(records) == limit:
            last = records[-1]
            next_cursor = f"{last.created.astimezone(_dt.timezone.utc).replace(tzinfo=None).isoformat()}_{last.uuid}"
        self.write_json({"jobs": [job_json(r, self.urls, admin) for r in records], "limit": limit,
                         "offset": offset, "next_cursor": next_cursor})


class JobHandler(JSONHandler):
    """GET /status/<uuid>: one job; DELETE dismisses it."""

    route = "job"  # the label of its answers in /metrics

    def initialize(self, engine: Any, urls: Any) -> None:
        self.engine = engine
        self.urls = urls

    async def get(self, uuid: str) -> None:
        record = await self.engine.read(self.engine.current, uuid) if is_job_id(uuid) else None
        if record is None or not self._permits(record):
            self.write_json({"error": f"no job {uuid}", "status": 404}, 404)
            return
        self.write_json(job_json(record, self.urls, self.caller.admin))

    async def delete(self, uuid: str) -> None:
        if access_of(self) is not None:  # another user's job is answered as an unknown one, and left alone
            known = await self.engine.read(self.engine.store.get, uuid) if is_job_id(uuid) else None
            if known is None or not self._permits(known):
                self.write_json({"error": f"no job {uuid}", "status": 404}, 404)
                return
        record = await self.engine.dismiss(uuid) if is_job_id(uuid) else None
        if record is None:
            self.write_json({"error": f"no job {uuid}", "status": 404}, 404)
            return
        audit.dismissed(with_address(self), uuid, record.process, record.status)
        self.write_json(job_json(record, self.urls, self.caller.admin))

    def _permits(self, record: JobRecord) -> bool:
        access = access_of(self)
        return access is None or self.caller.may_see(record.owner)
