"""Which web origins may call the gateway from a browser (server.cors_origins; none by default).

Without a policy the gateway sends no Access-Control-* header, so browsers keep other sites'
pages from reading its answers.  (Keeping them from *sending* requests is the job of the
Content-Type check on POST /wps: CORS does not stop a "simple" cross-site request.)
"""
from __future__ import annotations

from dataclasses import dataclass

PREFLIGHT_MAX_AGE = "600"


@dataclass(frozen=True)
class CorsPolicy:
    origins: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for a request from ``origin``, or None (not allowed)."""
        if not origin or not self.origins:
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin in self.origins else None

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """Headers for an answer to a request from ``origin`` (Vary: Origin whenever a policy is set)."""
        if not self.origins:
            return []
        headers = [("Vary", "Origin")]
        allowed = self.allowed_origin(origin)
        if allowed:
            headers.append(("Access-Control-Allow-Origin", allowed))
            headers.append(("Access-Control-Expose-Headers", "Content-Disposition, Content-Length, ETag"))
        return headers

    def preflight_headers(self, origin: str | None, methods: str) -> list[tuple[str, str]] | None:
        """Headers for a preflight (OPTIONS) answer, or None when ``origin`` is not allowed."""
        allowed = self.allowed_origin(origin)
        if allowed is None:
            return None
        return [("Access-Control-Allow-Methods", methods), ("Access-Control-Allow-Headers", "Content-Type"),
                ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE)]
