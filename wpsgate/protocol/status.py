"""Reading a WPS status document back: which state it reports, its percent and its message.

The one parser of status states, beside the renderer (``documents.STATUS_TAGS``) whose tags
it reverses, so that a state added there is read back here.  The gateway's monitor, the job
view and ``joblauncher inspect`` all use it.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .documents import STATUS_TAGS
from .namespaces import OWS, WPS

# ProcessPaused reads as started: a job's row knows running or not, nothing finer.
STATE_OF_TAG = {tag: ("started" if state == "paused" else state) for state, tag in STATUS_TAGS.items()}
_STATUS = f"{{{WPS}}}Status"


@dataclass(frozen=True)
class DocumentState:
    """What a status document says: ``state`` (accepted, started, succeeded, failed), percent and message."""

    state: str
    percent: int = 0
    message: str = ""

    @property
    def final(self) -> bool:
        return self.state in ("succeeded", "failed")


def parse_status_document(data: bytes) -> DocumentState | None:
    """The state reported by a status document; None when it is not one (torn, empty, another document)."""
    try:
        root = etree.fromstring(data)
    except (etree.XMLSyntaxError, ValueError):
        return None
    status = root.find(_STATUS)
    if status is None or len(status) == 0:
        return None
    element = status[0]
    if not isinstance(element.tag, str):
        return None
    state = STATE_OF_TAG.get(etree.QName(element).localname)
    if state is None:
        return None
    if state == "failed":
        text = element.findtext(f".//{{{OWS}}}ExceptionText") or "the process failed"
        return DocumentState("failed", 0, text)
    percent = element.get("percentCompleted")
    return DocumentState(state, int(percent) if percent and percent.isdigit() else 0, (element.text or "").strip())


def read_document_state(path: str) -> DocumentState | None:
    """The state in the status document at ``path``; None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return parse_status_document(data)
