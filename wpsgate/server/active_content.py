"""Headers that keep what a process produced from running as the gateway's own web page.

A process output is data written by whoever wrote (or fed) the process.  Served from the
gateway's origin as HTML, SVG or XML, a browser would run its scripts with the gateway's
origin: they could read status documents and outputs of other jobs, or submit jobs.  So
every output, RawDataOutput answer and status document carries ``nosniff`` (no guessing
HTML in a text/plain file), and types a browser renders as active content get
``Content-Security-Policy: sandbox`` (a unique origin, no script) and, by default, a
``Content-Disposition: attachment`` (saved, not shown).  WPS clients read the body and
ignore these headers.
"""
from __future__ import annotations

import re

NOSNIFF = ("X-Content-Type-Options", "nosniff")
SANDBOX = ("Content-Security-Policy", "sandbox")

# Rendered by browsers as documents that can run script or load other resources.  Any other
# */*+xml type (GML, KML, Atom, ...) is treated the same: XML can carry XHTML and SVG elements.
ACTIVE_TYPES = frozenset({
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/xsl",
    "application/xslt+xml", "application/javascript", "text/javascript", "application/ecmascript",
    "text/ecmascript", "application/x-javascript", "application/wasm", "multipart/x-mixed-replace",
    "application/x-shockwave-flash", "text/cache-manifest", "application/vnd.wap.xhtml+xml", "text/vtt",
})
POLICIES = ("attachment", "sandbox", "inline")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._+-]")


def media_type(content_type: str) -> str:
    """``Text/HTML; charset=utf-8`` -> ``text/html``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_active(content_type: str) -> bool:
    """Whether a browser would render this type as a document that can run script."""
    base = media_type(content_type)
    return base in ACTIVE_TYPES or base.endswith("+xml") or not base or "/" not in base


def output_headers(content_type: str, policy: str, filename: str | None = None,
                   disposition: str | None = None) -> list[tuple[str, str]]:
    """The headers to send with an output of ``content_type`` under ``policy`` (server.active_outputs).

    ``disposition`` is what the caller would send for a harmless type (``inline`` for a
    RawDataOutput file, nothing for /outputs); an active type under ``attachment`` is
    always sent as an attachment.
    """
    headers = [NOSNIFF]
    active = is_active(content_type)
    if active and policy != "inline":
        headers.append(SANDBOX)
    if active and policy == "attachment":
        disposition = "attachment"
    if disposition:
        name = _UNSAFE_FILENAME.sub("_", filename) if filename else ""
        headers.append(("Content-Disposition", f'{disposition}; filename="{name}"' if name else disposition))
    return headers
