"""What the OGC API handlers share: the processes, the WPS service and job engine, the pre-rendered
catalogue, the callback sender and the request limit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class APIContext:
    base: str
    processes: dict[str, Any]
    service: Any  # wpsgate.service.WPSService: prepare, admission, staging and hand-over of Execute
    engine: Any  # the job engine: read, current, dismiss, store
    spool: str
    catalogue: Any
    callbacks: Any
    max_request_size: int
