"""A pytest plugin that points birdhouse Emu's test client at a running wpsgate over loopback HTTP.

Emu's tests build ``client_for(Service(processes=[...]))``: a werkzeug test client
around a PyWPS WSGI application.  With this plugin loaded (``-p emu_gateway_plugin``),
that client's application is a small WSGI proxy that sends each request to the
gateway named by ``WPSGATE_EMU_GATEWAY`` (an http://127.0.0.1 URL) and returns its
answer unchanged, so every assertion and response helper (``WpsTestResponse``,
``xpath``, ``assert_response_success``) is Emu's and PyWPS's own.  The PyWPS
``Service`` the tests construct is never called.

One thing the proxy adds: an XML POST body the test sends without a Content-Type
gets ``text/xml``, as every WPS client sends it (wpsgate refuses untyped bodies;
see README "Security and reliability").
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import requests

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "te",
               "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"}


def gateway_proxy(url: str) -> Callable[[dict, Callable], Iterable[bytes]]:
    """A WSGI application forwarding each request to the gateway at ``url`` (loopback only)."""
    if urlsplit(url).hostname not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError(f"the Emu suite talks to a gateway on loopback only, not {url}")
    session = requests.Session()

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers = {}
        if environ.get("HTTP_ACCEPT"):
            headers["Accept"] = environ["HTTP_ACCEPT"]
        if body is not None:
            content_type = environ.get("CONTENT_TYPE") or ""
            if not content_type and body.lstrip().startswith(b"<"):
                content_type = "text/xml"
            headers["Content-Type"] = content_type
        answer = session.request(environ["REQUEST_METHOD"], url + ("?" + query if query else ""), data=body,
                                 headers=headers, timeout=180, allow_redirects=False)
        start_response(f"{answer.status_code} {answer.reason}",
                       [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP])
        return [answer.content]

    return application


def pytest_configure(config: Any) -> None:
    import pywps.tests

    url = os.environ["WPSGATE_EMU_GATEWAY"]
    proxy = gateway_proxy(url)
    original = pywps.tests.WpsClient

    class GatewayClient(original):  # type: ignore[misc, valid-type]
        """PyWPS's test client, its application replaced by the proxy to the gateway."""

        def __init__(self, application: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(proxy, *args, **kwargs)

    pywps.tests.WpsClient = GatewayClient
