"""What the identity tests of both modes share: an owner's job, and the check that another caller
can reach it through no route (each answer the same as for a job that does not exist)."""
from __future__ import annotations

import json
import time
import uuid as _uuid
from typing import Any

import requests
from lxml import etree

from .gateway import NS, GatewayProcess, uuid_of


def async_job(gateway: GatewayProcess, headers: dict[str, str], identifier: str = "wordcounter",
              inputs: str = "text=one two three") -> tuple[str, str]:
    """(status location, uuid) of an asynchronous Execute by the caller of ``headers``."""
    response = requests.get(gateway.wps, params={
        "service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": identifier,
        "DataInputs": inputs, "storeExecuteResponse": "true", "status": "true"}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text[:500]
    location = etree.fromstring(response.content).get("statusLocation")
    return location, uuid_of(location)


def wait_succeeded(gateway: GatewayProcess, location: str, headers: dict[str, str]) -> etree._Element:
    final = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        final = etree.fromstring(requests.get(location, headers=headers, timeout=30).content)
        if final.find("wps:Status/wps:ProcessSucceeded", NS) is not None or \
                final.find("wps:Status/wps:ProcessFailed", NS) is not None:
            break
        time.sleep(0.1)
    assert final is not None and final.find("wps:Status/wps:ProcessSucceeded", NS) is not None, \
        etree.tostring(final)[:800]
    return final


def output_href(final: etree._Element) -> str:
    return final.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")


def _answer(response: requests.Response, uuid: str, unknown: str) -> tuple[int, str]:
    return response.status_code, response.text.replace(uuid, unknown)


def job_routes(gateway: GatewayProcess, uuid: str, output_name: str) -> list[tuple[str, str, dict[str, str]]]:
    """(method, URL, extra headers) of every route that reads or dismisses one job."""
    base = gateway.base
    return [
        ("GET", f"{base}/status/{uuid}.xml", {}),
        ("GET", f"{base}/status/{uuid}", {}),
        ("GET", f"{base}/outputs/{uuid}/{output_name}", {}),
        ("HEAD", f"{base}/outputs/{uuid}/{output_name}", {}),
        ("GET", f"{base}/outputs/{uuid}/{output_name}", {"Range": "bytes=0-3"}),
        ("GET", f"{base}/jobs/{uuid}", {}),
        ("GET", f"{base}/jobs/{uuid}/results", {}),
        ("GET", f"{base}/jobs/{uuid}?f=html", {"Accept": "text/html"}),
        ("DELETE", f"{base}/status/{uuid}", {}),
        ("DELETE", f"{base}/jobs/{uuid}", {}),
    ]


def assert_hidden_from(gateway: GatewayProcess, uuid: str, output_name: str, headers: dict[str, str]) -> None:
    """Every job route answers ``headers``'s caller exactly as for an unknown job, and the lists omit it."""
    unknown = str(_uuid.uuid4())
    for method, url, extra in job_routes(gateway, uuid, output_name):
        theirs = requests.request(method, url, headers={**headers, **extra}, timeout=30)
        nobody = requests.request(method, url.replace(uuid, unknown), headers={**headers, **extra}, timeout=30)
        assert theirs.status_code == 404, (method, url, theirs.status_code, theirs.text[:300])
        assert _answer(theirs, uuid, unknown) == _answer(nobody, unknown, unknown), (method, url)
    listed = requests.get(f"{gateway.base}/status/", params={"limit": "1000"}, headers=headers, timeout=30).json()
    assert uuid not in json.dumps(listed)
    for page in (requests.get(f"{gateway.base}/jobs", params={"limit": "1000"}, headers=headers, timeout=30),
                 requests.get(f"{gateway.base}/jobs", params={"limit": "1000", "f": "html"},
                              headers={**headers, "Accept": "text/html"}, timeout=30)):
        assert page.status_code == 200 and uuid not in page.text


def assert_visible_to(gateway: GatewayProcess, uuid: str, href: str, headers: dict[str, str]) -> dict[str, Any]:
    """The owner (or an admin) reads the job through every route; returns its JSON record."""
    base = gateway.base
    assert requests.get(f"{base}/status/{uuid}.xml", headers=headers, timeout=30).status_code == 200
    assert requests.get(href, headers=headers, timeout=30).status_code == 200
    assert requests.get(href, headers={**headers, "Range": "bytes=0-3"}, timeout=30).status_code == 206
    assert requests.get(f"{base}/jobs/{uuid}/results", headers=headers, timeout=30).status_code == 200
    assert requests.get(f"{base}/jobs/{uuid}", headers=headers, timeout=30).status_code == 200
    assert uuid in requests.get(f"{base}/jobs", params={"limit": "1000"}, headers=headers, timeout=30).text
    record = requests.get(f"{base}/status/{uuid}", headers=headers, timeout=30)
    assert record.status_code == 200
    return record.json()
