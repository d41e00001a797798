"""The Process class process authors subclass or instantiate, PyWPS-style."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .io import Metadata, OutputData, _metadata
from .translations import normalise_translations


@dataclass(frozen=True)
class Resources:
    """What a job of this process asks of a batch scheduler.

    ``walltime`` in seconds, ``memory`` in MiB; ``native`` is passed verbatim to the
    scheduler (sbatch options, or a DRMAA native specification).
    """

    walltime: float | None = None
    memory: int | None = None
    cpus: int | None = None
    queue: str | None = None
    native: str = ""


class Process:
    """A WPS process: a handler and the inputs and outputs it declares.

    ``handler(request, response)`` reads ``request.inputs`` and fills
    ``response.outputs``; it may call ``response.update_status(message, percent)``.
    It runs in a worker process or on a compute node, in the job's own work
    folder (also available as ``self.workdir``).
    """

    def __init__(self, handler: Callable[[Any, Any], Any], identifier: str, title: str, abstract: str = "",
                 keywords: Iterable[str] | None = None, profile: Iterable[str] | None = None,
                 metadata: Iterable[Any] | None = None, inputs: Iterable[Any] | None = None,
                 outputs: Iterable[Any] | None = None, version: str = "None", store_supported: bool = False,
                 status_supported: bool = False, grass_location: Any = None, translations: Any = None,
                 resources: Resources | dict | None = None) -> None:
        if not identifier:
            raise ValueError("a process needs an identifier")
        self.handler = handler
        self.identifier = identifier
        self.title = title or identifier
        self.abstract = abstract or ""
        self.keywords = tuple(keywords or ())
        self.profile = tuple(profile or ())
        self.metadata: tuple[Metadata, ...] = _metadata(metadata)
        self.inputs = list(inputs or ())
        self.outputs = list(outputs or ())
        self.version = version
        self.store_supported = bool(store_supported)
        self.status_supported = bool(status_supported)
        self.resources = resources if isinstance(resources, Resources) else Resources(**(resources or {}))
        self.translations = normalise_translations(translations)
        self.workdir: str | None = None
        for group in (self.inputs, self.outputs):
            seen = set()
            for item in group:
                if item.identifier in seen:
                    raise ValueError(f"process {identifier}: duplicate identifier {item.identifier}")
                seen.add(item.identifier)
        self.input_map = {i.identifier: i for i in self.inputs}
        self.output_map = {o.identifier: o for o in self.outputs}

    def __repr__(self) -> str:
        return f"<Process {self.identifier}>"


class WPSRequest:
    """What a handler reads: ``inputs`` (identifier -> list of InputData) and the request options."""

    def __init__(self, identifier: str, inputs: dict[str, list[Any]], *, uuid: str = "", language: str = "en-US",
                 store_execute: bool = False, status: bool = False, lineage: bool = False,
                 outputs: dict[str, Any] | None = None, output_url: str = "", output_folder: str = "") -> None:
        self.identifier = identifier
        self.inputs = inputs
        self.uuid = uuid
        self.language = language
        self.store_execute = store_execute
        self.status = status
        self.lineage = lineage
        self.outputs = outputs or {}
        self.version = "1.0.0"
        # where the job's outputs are served from and stored (for handlers that store files themselves)
        self.output_url = output_url
        self.output_folder = output_folder


StatusReporter = Callable[[str, "float | None"], None]


class WPSResponse:
    """What a handler fills: ``outputs`` (identifier -> OutputData) and progress reports."""

    def __init__(self, process: Process, uuid: str = "", reporter: StatusReporter | None = None) -> None:
        self.process = process
        self.uuid = uuid
        self.outputs = {o.identifier: OutputData(o) for o in process.outputs}
        self._reporter = reporter
        self.message = ""
        self.status_percentage = 0

    def update_status(self, message: str, status_percentage: float | None = None, status: Any = None,
                      clean: bool = True) -> None:
        """Report progress; ``status_percentage`` is 0..100 (values outside are clamped)."""
        if status_percentage is not None:
            self.status_percentage = max(0, min(100, int(status_percentage)))
        self.message = str(message)
        if self._reporter is not None:
            self._reporter(self.message, self.status_percentage)
