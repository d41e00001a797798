"""Which representation a client wants: ``f=json|html`` first, then the Accept header."""
from __future__ import annotations

from .problems import invalid


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def wants_html(f: str | None, accept: str | None) -> bool:
    """HTML when asked with ``f=html``, or when Accept names text/html above any JSON type it names."""
    if f is not None:
        if f.lower() in ("html", "text/html"):
            return True
        if f.lower() in ("json", "application/json"):
            return False
        raise invalid(f"f must be json or html, not {f[:40]!r}", "f")
    if not accept:
        return False
    html = json = 0.0
    for item in accept.split(",")[:32]:
        media, *params = item.split(";")
        media = media.strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            html = max(html, _quality(params))
        elif media in ("application/json", "application/problem+json") or media.endswith("+json"):
            json = max(json, _quality(params))
    return html > 0 and html > json
