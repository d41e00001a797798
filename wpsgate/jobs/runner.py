"""Run one job: call the handler in the job's work folder and turn what it produced into documents.

This is the code that runs in a local worker process and, through the
joblauncher, on a compute node.  It needs the job (``JobSpec``) and the process
object, nothing of the gateway: no configuration file, no database, no network.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from ..process import BoundingBox, InputData, Process, ProcessError, WPSRequest, WPSResponse
from ..process.formats import extension_for
from ..process.literals import LiteralError
from ..process.translations import translated
from ..protocol.documents import (ExceptionInfo, JobStatus, OutputValue, ResponseContext, render_execute_response,
                                  xml_safe)
from ..protocol.requests import ExecuteRequest
from .folder import FinalRecord, JobFolder, atomic_write
from .outputs import OutputChoice
from .usage import UsageMeter

ProgressCallback = Callable[[str, int, "bytes | None"], None]  # message, percent, the new document


@dataclass
class JobSpec:
    """Everything a job needs to run anywhere; it pickles."""

    uuid: str
    process_identifier: str
    request: ExecuteRequest
    inputs: dict[str, list[InputData]]
    outputs: tuple[OutputChoice, ...]
    context: ResponseContext
    spool: str
    output_url: str
    store: bool = False
    status_updates: bool = False
    raw: bool = False
    keep_workdir: bool = False
    owner: str | None = None  # the user who asked for the job (None with identity off)


@dataclass
class RawResult:
    """A RawDataOutput answer: the bare value, in memory or as a file."""

    mime_type: str
    payload: bytes | None = None
    path: str | None = None
    encoding: str | None = None


@dataclass
class JobOutcome:
    uuid: str
    state: str
    message: str
    document: bytes | None = None
    raw: RawResult | None = None
    error: ExceptionInfo | None = None
    started: _dt.datetime | None = None
    finished: _dt.datetime | None = None
    output_files: list[str] = field(default_factory=list)
    interrupted: bool = False  # a signal stopped the handler (see FinalRecord.interrupted)
    cpu_seconds: float | None = None  # what the job cost where it ran (jobs.usage)
    peak_memory_mb: float | None = None


FinishCallback = Callable[[JobOutcome, FinalRecord], None]  # writes the job's end (JobFolder.write_final)


class JobInterrupted(BaseException):
    """Raised in a running job when it must stop (a signal from the scheduler); the message says why."""


class OutputProblem(Exception):
    """An output the handler left unset or set to a value its declaration rejects."""


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _file_name(identifier: str, extension: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", identifier) + extension


def _to_bytes(data: Any, mime_type: str) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if "json" in mime_type:
        return json.dumps(data).encode("utf-8")
    return str(data).encode("utf-8")


def _literal_text(declaration: Any, value: Any) -> str:
    if isinstance(value, str) and declaration.dtype.name != "string":
        try:
            value = declaration.dtype.parse(value)
        except LiteralError as exc:
            raise OutputProblem(f"output {declaration.identifier}: {exc}") from None
    try:
        return declaration.dtype.render(value)
    except (TypeError, ValueError) as exc:
        raise OutputProblem(f"output {declaration.identifier}: {exc}") from None


class _Collector:
    """Turns the handler's outputs into OutputValues, storing by-reference outputs in the job folder."""

    def __init__(self, process: Process, spec: JobSpec, folder: JobFolder) -> None:
        self.process = process
        self.spec = spec
        self.folder = folder
        self.files: list[str] = []

    def _store(self, identifier: str, extension: str, payload: bytes | None, source: str | None) -> str:
        name = _file_name(identifier, extension)
        target = os.path.join(self.folder.outputs, name)
        if source is not None:
            shutil.copyfile(source, target + ".part")
            os.replace(target + ".part", target)
        else:
            atomic_write(target, payload or b"", durable=True)
        self.files.append(name)
        return self.spec.output_url + name

    def value(self, choice: OutputChoice, output: Any) -> OutputValue:
        declaration = self.process.output_map[choice.identifier]
        value = OutputValue(identifier=choice.identifier, title=declaration.title, kind=declaration.kind,
                            abstract=translated(declaration, "abstract", self.spec.context.language))
        if declaration.kind == "literal":
            value.text = _literal_text(declaration, output.data)
            value.data_type = declaration.dtype.reference
            value.uom = output.uom or choice.uom or (declaration.uoms[0] if declaration.uoms else None)
            if choice.as_reference:
                value.href = self._store(choice.identifier, ".txt", value.text.encode("utf-8"), None)
                value.mime_type = "text/plain"
            return value
        if declaration.kind == "bbox":
            try:
                box = BoundingBox.from_any(output.data, output.crs)
            except (TypeError, ValueError) as exc:
                raise OutputProblem(f"output {choice.identifier}: {exc}") from None
            value.bbox = BoundingBox(box.ll, box.ur, box.crs or declaration.crss[0], box.dimensions)
            return value
        fmt = choice.format or output.data_format or declaration.data_format
        value.mime_type, value.schema = fmt.mime_type, fmt.schema or None
        if getattr(output, "url", None):  # an output that lives elsewhere is a reference whatever was asked
            value.href = output.url
            return value
        if choice.as_reference:
            extension = fmt.extension or extension_for(fmt.mime_type)
            if output.file is not None:
                value.href = self._store(choice.identifier, extension, None, output.file)
            else:
                value.href = self._store(choice.identifier, extension, _to_bytes(output.data, fmt.mime_type), None)
            value.encoding = fmt.encoding or None
            return value
        payload = _to_bytes(output.data, fmt.mime_type)
        if fmt.binary or (fmt.encoding or "").lower() == "base64":
            value.payload, value.encoding = payload, "base64"
        else:
            value.text = payload.decode("utf-8", errors="replace")
            value.encoding = fmt.encoding or None
        return value

    def raw(self, choice: OutputChoice, output: Any) -> RawResult:
        declaration = self.process.output_map[choice.identifier]
        if declaration.kind == "literal":
            return RawResult("text/plain; charset=utf-8", _literal_text(declaration, output.data).encode("utf-8"))
        if declaration.kind == "bbox":
            box = BoundingBox.from_any(output.data, output.crs)
            text = ",".join(repr(v) for v in box.data) + f",{box.crs or declaration.crss[0]}"
            return RawResult("text/plain; charset=utf-8", text.encode())
        fmt = choice.format or output.data_format or declaration.data_format
        if output.file is not None:
            name = _file_name(choice.identifier, fmt.extension or extension_for(fmt.mime_type))
            target = os.path.join(self.folder.outputs, name)
            shutil.copyfile(output.file, target)
            return RawResult(fmt.mime_type, path=target)
        return RawResult(fmt.mime_type, payload=_to_bytes(output.data, fmt.mime_type))

    def raw_file(self, choice: OutputChoice, output: Any, raw: RawResult) -> RawResult:
        """A raw answer kept in outputs/: a persisted job's answer is read back from its folder by the
        gateway (a job on a scheduler's node has no other way back)."""
        declaration = self.process.output_map[choice.identifier]
        if declaration.kind == "complex":
            fmt = choice.format or output.data_format or declaration.data_format
            extension = fmt.extension or extension_for(fmt.mime_type)
        else:
            extension = ".txt"
        target = os.path.join(self.folder.outputs, _file_name(choice.identifier, extension))
        atomic_write(target, raw.payload or b"", durable=False)
        return RawResult(raw.mime_type, path=target, encoding=raw.encoding)


def _collect(process: Process, spec: JobSpec, response: WPSResponse,
             folder: JobFolder) -> tuple[list[OutputValue], RawResult | None, list[str]]:
    collector = _Collector(process, spec, folder)
    values: list[OutputValue] = []
    raw = None
    for choice in spec.outputs:
        output = response.outputs[choice.identifier]
        if not output.is_set:
            if choice.explicit:
                raise OutputProblem(f"the process did not produce output {choice.identifier}")
            continue
        if spec.raw:
            raw = collector.raw(choice, output)
            if spec.store and raw.payload is not None:
                raw = collector.raw_file(choice, output, raw)
        else:
            values.append(collector.value(choice, output))
    return values, raw, collector.files


def failure_message(exc: BaseException) -> str:
    """What a scientist reads when a handler raised: the message alone for ProcessError, else type and message."""
    if isinstance(exc, ProcessError):
        return str(exc) or "the process failed"
    text = str(exc)
    return f"process raised {type(exc).__name__}: {text}" if text else f"process raised {type(exc).__name__}"


def run_job(process: Process, spec: JobSpec, on_progress: ProgressCallback | None = None,
            finish: FinishCallback | None = None) -> JobOutcome:
    """Run the handler of ``process`` for ``spec`` and return its outcome (never raises for handler errors).

    The job's end is written by ``finish`` (the joblauncher adds its exit code, signal and peak memory
    to the record), else here: the final record and document of a stored job, the record alone of a
    failed synchronous one (its traceback, for the operator)."""
    folder = JobFolder(spec.spool, spec.uuid).create()
    started = _now()
    meter = UsageMeter.start()
    context = spec.context

    def report(message: str, percent: float | None) -> None:
        pct = int(percent or 0)
        document = None
        if spec.status_updates:
            document = render_execute_response(context, JobStatus("started", xml_safe(message), pct))
            folder.write_status(document, durable=False)
        if on_progress is not None:
            on_progress(message, pct, document)

    for values in spec.inputs.values():
        for item in values:
            item.workdir = folder.work
    previous_cwd = os.getcwd()
    process.workdir = folder.work
    request = WPSRequest(process.identifier, spec.inputs, uuid=spec.uuid, language=context.language,
                         store_execute=spec.store, status=spec.status_updates, lineage=context.lineage,
                         outputs={c.identifier: c for c in spec.outputs}, output_url=spec.output_url,
                         output_folder=folder.outputs)
    response = WPSResponse(process, spec.uuid, report)
    error: ExceptionInfo | None = None
    details = ""
    interrupted = False
    outputs: list[OutputValue] = []
    raw = None
    files: list[str] = []
    try:
        os.chdir(folder.work)
        report("Process started", 0)
        process.handler(request, response)
        outputs, raw, files = _collect(process, spec, response, folder)
    except OutputProblem as exc:
        error = ExceptionInfo("NoApplicableCode", str(exc))
    except JobInterrupted as exc:
        error = ExceptionInfo("NoApplicableCode", xml_safe(str(exc)))
        interrupted = True
    except (Exception, SystemExit) as exc:  # a handler's failure of any kind fails the job, truthfully
        error = ExceptionInfo("NoApplicableCode", xml_safe(failure_message(exc)))
        details = traceback.format_exc()
    finally:
        os.chdir(previous_cwd)
        if not spec.keep_workdir:
            shutil.rmtree(folder.work, ignore_errors=True)
    finished = _now()
    if error is None:
        status = JobStatus("succeeded", f"Process {process.title} finished", 100)
        outcome = JobOutcome(spec.uuid, "succeeded", status.message, raw=raw, started=started, finished=finished,
                             output_files=files)
    else:
        status = JobStatus("failed", error.text, error=error)
        outcome = JobOutcome(spec.uuid, "failed", error.text, error=error, started=started, finished=finished)
    outcome.interrupted = interrupted
    outcome.cpu_seconds, outcome.peak_memory_mb = meter.read()
    if not spec.raw or error is not None or spec.store:  # a persisted job's end is read from its document
        outcome.document = render_execute_response(context, status, outputs)
    record = FinalRecord(state=outcome.state, message=outcome.message, started=started.isoformat(),
                         finished=finished.isoformat(), interrupted=interrupted, outputs=files, traceback=details,
                         cpu_seconds=outcome.cpu_seconds, peak_memory_mb=outcome.peak_memory_mb)
    if raw is not None and raw.path is not None and error is None:
        record.raw_output, record.raw_mime_type = os.path.basename(raw.path), raw.mime_type
    if finish is not None:
        finish(outcome, record)
    elif spec.store:
        folder.write_final(record, outcome.document)
    elif details:
        folder.write_final(record, None)
    return outcome
