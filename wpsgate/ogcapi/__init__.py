"""OGC API – Processes – Part 1: Core 1.0, a second front door to the same processes and jobs as WPS.

``make_routes`` gives the Tornado rules; ``wpsgate.server.app`` registers them beside /wps.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .callbacks import CallbackSender
from .catalogue import Catalogue
from .context import APIContext
from .openapi import openapi_document
from .handlers import JSON_HEADERS
from .routes import ROUTES, tornado_rules


def make_routes(config: Any, service: Any, engine: Any, base: str,
                answers: Any = None) -> tuple[list, CallbackSender]:
    """The rules of this API and its callback sender (whose ``close`` the gateway calls on stop).

    With ``answers`` (the gateway's AnswerCache), the JSON answers that never change (landing page,
    conformance, API definition, process list and descriptions) are put there, so that those GETs
    are answered at the connection, as GetCapabilities is; HTML is negotiated on the normal path.
    """
    processes = service.processes
    catalogue = Catalogue(config.metadata, processes, base, service.urls.capabilities,
                          openapi_document(ROUTES, base, config.metadata.title))
    callbacks = CallbackSender(engine, base, config.spool, config.server.allowednetworks,
                               max_follow_seconds=config.processing.max_timeout + 86400.0)
    api = APIContext(base=base, processes=processes, service=service, engine=engine, spool=config.spool,
                     catalogue=catalogue, callbacks=callbacks, max_request_size=config.server.maxrequestsize)
    if answers is not None:
        for target, body, content_type in catalogue.fixed_answers(""):
            answers.set(quote(target, safe="/:@!$&'()*+,;=-._~"), body, content_type, JSON_HEADERS)
    return tornado_rules(ROUTES, api), callbacks
