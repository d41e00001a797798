"""Read what a job's status document says, tolerating a shared filesystem's delays."""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ..protocol.namespaces import OWS, WPS

_STATES = {"ProcessAccepted": "accepted", "ProcessStarted": "started", "ProcessPaused": "started",
           "ProcessSucceeded": "succeeded", "ProcessFailed": "failed"}


@dataclass(frozen=True)
class DocumentState:
    state: str
    percent: int = 0
    message: str = ""

    @property
    def final(self) -> bool:
        return self.state in ("succeeded", "failed")


def read_document_state(path: str) -> DocumentState | None:
    """The state in the status document at ``path``; None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            root = etree.fromstring(handle.read())
    except (OSError, etree.XMLSyntaxError):
        return None
    status = root.find(f"{{{WPS}}}Status")
    if status is None or len(status) == 0:
        return None
    element = status[0]
    state = _STATES.get(etree.QName(element).localname)
    if state is None:
        return None
    if state == "failed":
        text = element.findtext(f".//{{{OWS}}}ExceptionText") or "the process failed"
        return DocumentState("failed", 0, text)
    percent = element.get("percentCompleted")
    return DocumentState(state, int(percent) if percent and percent.isdigit() else 0, (element.text or "").strip())
