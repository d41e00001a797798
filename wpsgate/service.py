"""The WPS service: answers typed requests; knows the processes, not how a job is executed.

GetCapabilities and DescribeProcess are rendered once, at start, and served from
memory.  Execute checks the request against the process (inputs, outputs,
storage, TIMEOUT and EXPIRE), builds a ``JobSpec`` and hands it to the job
engine, synchronously or asynchronously.
"""
from __future__ import annotations

import asyncio
import dataclasses
import shutil
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Any

from .auth import audit
from .auth.caller import ANONYMOUS, Caller
from .jobs.user_limits import UserLimitReached
from .config import Config
from .exceptions import InvalidParameterValue, NoApplicableCode, ServerBusy, StorageNotSupported
from .jobs.folder import JobFolder
from .jobs.inputs import convert_inputs
from .jobs.outputs import resolve_outputs
from .jobs.runner import JobOutcome, JobSpec
from .jobs.store import StoreUnavailable
from .process import Process
from .process.translations import translated
from .protocol.documents import DescriptionCache, ResponseContext, render_capabilities
from .protocol.requests import (BBoxValue, DescribeProcessRequest, ExecuteRequest, GetCapabilitiesRequest,
                                InputReference)

XML_CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass
class Answer:
    """What the HTTP layer sends: a body in memory or a file to stream."""

    body: bytes | None = None
    content_type: str = XML_CONTENT_TYPE
    status: int = 200
    path: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bool = False  # a process's own bytes (RawDataOutput), not a document of ours


@dataclass
class Started:
    """An Execute handed to the engine: accepted (asynchronous) or finished (synchronous)."""

    process: Process
    spec: JobSpec
    accepted: bytes | None = None
    outcome: JobOutcome | None = None


def status_document_path(uuid: str) -> str:
    """Where a job's status document is served, below the gateway's base URL."""
    return f"/status/{uuid}.xml"


@dataclass(frozen=True)
class Urls:
    """The gateway's public URLs, derived from ``server.url`` (or bind and port)."""

    base: str

    @property
    def wps(self) -> str:
        return self.base + "/wps"

    @property
    def capabilities(self) -> str:
        return self.wps + "?service=WPS&request=GetCapabilities"

    def status_document(self, uuid: str) -> str:
        return self.base + status_document_path(uuid)

    def status_json(self, uuid: str) -> str:
        return f"{self.base}/status/{uuid}"

    def outputs(self, uuid: str) -> str:
        return f"{self.base}/outputs/{uuid}/"


def typed_request(request: ExecuteRequest, inputs: dict[str, list[Any]]) -> ExecuteRequest:
    """The request with each KVP input given the kind its declaration has, for the lineage echo."""
    seen: dict[str, int] = {}
    typed = []
    for raw in request.inputs:
        index = seen.get(raw.identifier, 0)
        seen[raw.identifier] = index + 1
        value = inputs[raw.identifier][index]
        if raw.kind is None and raw.reference is None:
            if value.kind == "complex":
                raw = dataclasses.replace(raw, kind="complex", payload=value.raw_bytes(), text=None)
            elif value.kind == "bbox":
                box = value._value
                raw = dataclasses.replace(raw, kind="bbox", text=None, bbox=BBoxValue(
                    tuple(box.ll), tuple(box.ur), box.crs, box.dimensions))
            else:
                raw = dataclasses.replace(raw, kind="literal")
        typed.append(raw)
    return dataclasses.replace(request, inputs=tuple(typed))


def _references(request: ExecuteRequest) -> dict[tuple[str, int], InputReference]:
    """Each input by reference, keyed by (identifier, occurrence), as the client sent it.

    This is the only place the headers and POST body of a reference travel on from:
    the request the job keeps is ``request.without_secrets()``.
    """
    references = {}
    seen: dict[str, int] = {}
    for raw in request.inputs:
        index = seen.get(raw.identifier, 0)
        seen[raw.identifier] = index + 1
        if raw.reference is not None:
            references[(raw.identifier, index)] = raw.reference
    return references


class WPSService:
    def __init__(self, config: Config, processes: dict[str, Process], engine: Any, urls: Urls,
                 stager: Any = None, audit_log: audit.AuditLog | None = None) -> None:
        self.config = config
        self.audit_log = audit_log  # told of each accepted job's owner and client, for its end line
        self.stager = stager
        self.processes = processes
        self.engine = engine
        self.urls = urls
        self.languages = config.metadata.languages
        max_mb = config.server.maxsingleinputsize / (1024 * 1024)
        self._capabilities = {lang: render_capabilities(config.metadata, list(processes.values()), urls.wps, lang)
                              for lang in self.languages}
        self._descriptions = {lang: DescriptionCache(list(processes.values()), lang, max_mb)
                              for lang in self.languages}

    def _language(self, requested: str | None) -> str:
        if not requested:
            return self.languages[0]
        for lang in self.languages:
            if lang.lower() == requested.lower():
                return lang
        raise InvalidParameterValue(f"language {requested!r} is not supported; supported: "
                                    f"{', '.join(self.languages)}", "language")

    async def handle(self, request: Any, caller: Caller | None = None) -> Answer:
        if isinstance(request, GetCapabilitiesRequest):
            return Answer(self._capabilities[self._language(request.language)])
        if isinstance(request, DescribeProcessRequest):
            return self.describe(request)
        return await self.execute(request, caller)

    def describe(self, request: DescribeProcessRequest) -> Answer:
        cache = self._descriptions[self._language(request.language)]
        if any(i.lower() == "all" for i in request.identifiers):
            return Answer(cache.all)
        for identifier in request.identifiers:
            if identifier not in self.processes:
                raise InvalidParameterValue(f"no process has the identifier {identifier!r}", "identifier")
        return Answer(cache.document(request.identifiers))

    def _seconds(self, asked: float | None, default: float, maximum: float) -> float:
        return min(asked if asked is not None else default, maximum)

    def prepare(self, request: ExecuteRequest) -> tuple[Process, JobSpec, float, float]:
        """Check an Execute request against its process and build the job; raises OWS exceptions."""
        process = self.processes.get(request.identifier)
        if process is None:
            raise InvalidParameterValue(f"no process has the identifier {request.identifier!r}", "identifier")
        language = self._language(request.language)
        if request.store_execute_response and not process.store_supported:
            raise StorageNotSupported(f"process {process.identifier} cannot store its response; "
                                      "call it with storeExecuteResponse=false", "storeExecuteResponse")
        if request.status and not process.status_supported:
            raise InvalidParameterValue(f"process {process.identifier} does not report status", "status")
        if request.status and not request.store_execute_response:
            raise InvalidParameterValue("status=true needs storeExecuteResponse=true", "status")
        inputs = convert_inputs(process, request, self.config.server.maxsingleinputsize)
        outputs = resolve_outputs(process, request)
        processing = self.config.processing
        timeout = self._seconds(request.timeout, processing.default_timeout, processing.max_timeout)
        expire = self._seconds(request.expire, processing.default_expire, processing.max_expire)
        uuid = str(_uuid.uuid4())
        stored = request.store_execute_response
        request = request.without_secrets()  # what the job, its documents and its row keep (see _references)
        context = ResponseContext(
            service_instance=self.urls.capabilities, process_identifier=process.identifier,
            process_title=translated(process, "title", language),
            process_abstract=translated(process, "abstract", language), process_version=process.version,
            status_location=self.urls.status_document(uuid) if stored else None, language=language,
            lineage=request.lineage, request=typed_request(request, inputs) if request.lineage else request,
            output_titles={o.identifier: translated(o, "title", language) for o in process.outputs})
        spec = JobSpec(uuid=uuid, process_identifier=process.identifier, request=request, inputs=inputs,
                       outputs=outputs, context=context, spool=self.config.spool,
                       output_url=self.urls.outputs(uuid), store=stored, status_updates=request.status,
                       raw=request.raw_output is not None, keep_workdir=processing.keep_workdir)
        return process, spec, timeout, expire

    async def execute(self, request: ExecuteRequest, caller: Caller | None = None) -> Answer:
        started = await self.start(request, caller)
        if started.accepted is not None:
            return Answer(started.accepted)
        outcome = started.outcome
        assert outcome is not None
        if started.spec.raw and outcome.state == "failed":
            raise NoApplicableCode(f"process {started.process.identifier} failed: {outcome.message}",
                                   started.process.identifier)
        return self._sync_answer(outcome)

    async def start(self, request: ExecuteRequest, caller: Caller | None = None) -> "Started":
        """Check, admit, stage and hand over one Execute: what both front doors (WPS, OGC API) share.

        An asynchronous job comes back accepted (with the document its status URL serves), a
        synchronous one finished (its outcome); how either is written to the client is the caller's.
        ``caller`` (anonymous while identity is off) becomes the job's owner; each Execute, accepted
        or refused, is written to the audit log.
        """
        caller = caller or ANONYMOUS
        try:
            started = await self._start(request, caller)
        except UserLimitReached as exc:  # a user at a limit: the line an operator greps for limits
            audit.refused(caller, str(request.identifier)[:255], exc.message)
            raise
        except Exception as exc:
            reason = getattr(exc, "message", "") or type(exc).__name__
            audit.executed(caller, str(request.identifier)[:255], "refused", reason=reason)
            raise
        spec = started.spec
        if started.accepted is not None and self.audit_log is not None:
            self.audit_log.accepted(spec.uuid, caller)  # no await since the hand-over: before the job can end
        outcome = "accepted" if started.accepted is not None else started.outcome.state if started.outcome else "?"
        audit.executed(caller, spec.process_identifier, outcome, job_id=spec.uuid)
        return started

    async def _start(self, request: ExecuteRequest, caller: Caller) -> "Started":
        process, spec, timeout, expire = self.prepare(request)
        spec.owner = caller.user
        references = _references(request)  # from the request as sent: headers and body, for the stager only
        try:
            if references:
                # refused for capacity before anything is fetched; the final check at submit still holds
                await self.engine.admit(spec, process)
                await self._stage(spec, references)
            if spec.store:
                # accepted, or failed with the reason when a scheduler refused the job
                return Started(process, spec, accepted=await self.engine.submit(spec, timeout, expire, process))
        except Exception as exc:  # a refused Execute is not a job: nothing of it stays on the spool
            folder = JobFolder(spec.spool, spec.uuid).path
            await asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, folder, True)
            if isinstance(exc, StoreUnavailable):
                raise ServerBusy(f"{exc}; the job was not accepted, try again later") from None
            raise
        return Started(process, spec, outcome=await self.engine.run_sync(spec, timeout, expire, process))

    async def _stage(self, spec: JobSpec, references: dict[tuple[str, int], InputReference]) -> None:
        """Fetch inputs given by reference into the job folder (see jobs.staging)."""
        if self.stager is None:
            raise NoApplicableCode("inputs by reference are not available on this server")
        await self.stager.stage(spec.uuid, spec.inputs, references)

    @staticmethod
    def _sync_answer(outcome: JobOutcome) -> Answer:
        """A document, or for RawDataOutput the bare value (and an ExceptionReport when the process failed)."""
        if outcome.raw is not None:
            return Answer(outcome.raw.payload, content_type=outcome.raw.mime_type, path=outcome.raw.path, raw=True)
        if outcome.document is None:
            raise NoApplicableCode(outcome.message or "the job produced no response")
        return Answer(outcome.document)
