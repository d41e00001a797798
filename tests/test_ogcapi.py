"""OGC API – Processes – Part 1: Core against a real gateway, every JSON answer schema-checked.

One gateway for the module (loopback allowed as a network, so inputs by reference and callbacks
can use a loopback receiver; a small maxrequestsize, so the body limit is cheap to reach).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import socket

import pytest
import requests

from .gateway import GatewayProcess, literal_outputs, wait_for
from .ogcapi_helpers import PROBLEM_TYPES, Receiver, wait_status
from .ogcapi_schemas import assert_valid
from .schemas import assert_valid as assert_valid_xml

CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
ALLOWED_ORIGIN = "https://portal.example"
MAX_REQUEST = 64 * 1024


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    gateway = GatewayProcess(str(tmp_path_factory.mktemp("ogcapi")), {
        "server": {"allowednetworks": ["127.0.0.0/8"], "maxrequestsize": MAX_REQUEST,
                   "cors_origins": [ALLOWED_ORIGIN]},
        "processing": {"parallelprocesses": 2}}).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def receiver():
    server = Receiver({"/text.txt": b"to be or not to be"})
    yield server
    server.close()


def get_json(api, path: str, schema: str | None, status: int = 200, **kwargs) -> dict:
    response = api.session.get(api.base + path, timeout=30, **kwargs)
    assert response.status_code == status, response.text[:500]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.json()
    if schema:
        assert_valid(body, schema)
    return body


def execute(api, process: str, body: dict, prefer: str | None = None, headers: dict | None = None,
            **kwargs) -> requests.Response:
    headers = {**({"Prefer": prefer} if prefer else {}), **(headers or {})}
    return api.session.post(f"{api.base}/processes/{process}/execution", json=body, headers=headers, timeout=60,
                            **kwargs)


def problem(response: requests.Response, status: int, kind: str | None = None) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    body = assert_valid(response.json(), "exception")
    if kind:
        assert body["type"] == PROBLEM_TYPES + kind, body
    return body


# --- core: landing page, conformance, API definition ------------------------------------------------------

def test_landing_page_links_everything_the_standard_asks_for(api):
    landing = get_json(api, "/", "landingPage")
    rels = {item["rel"]: item["href"] for item in landing["links"]}
    assert rels["service-desc"] == api.base + "/api"
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/conformance"] == api.base + "/conformance"
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/processes"] == api.base + "/processes"
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/job-list"] == api.base + "/jobs"
    assert rels["service"].startswith(api.base + "/wps?")  # the same processes over WPS 1.0.0


def test_conformance_declares_the_classes_tested_here(api):
    declared = set(get_json(api, "/conformance", "confClasses")["conformsTo"])
    assert declared == {CONF + name for name in ("core", "ogc-process-description", "json", "html", "oas30",
                                                 "job-list", "dismiss", "callback")}


def test_openapi_document_describes_exactly_the_served_routes(api):
    response = api.session.get(api.base + "/api", timeout=10)
    assert response.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    document = response.json()
    assert document["openapi"].startswith("3.0")
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == {("/", "get"), ("/conformance", "get"), ("/api", "get"), ("/processes", "get"),
                         ("/processes/{processID}", "get"), ("/processes/{processID}/execution", "post"),
                         ("/jobs", "get"), ("/jobs/{jobId}", "get"), ("/jobs/{jobId}", "delete"),
                         ("/jobs/{jobId}/results", "get")}
    for path, method in described:  # each is served: never "nothing is served here" nor 405
        url = api.base + path.replace("{processID}", "hello").replace("{jobId}", "0" * 8 + "-0000-0000-0000-" + "0" * 12)
        answer = api.session.request(method.upper(), url, json={} if method == "post" else None, timeout=30)
        assert answer.status_code != 405, (path, method)
        if answer.status_code == 404:
            assert answer.json()["type"] in (PROBLEM_TYPES + "no-such-job",), (path, answer.text)
    for path, item in document["paths"].items():  # every parameter the document names is one the route reads
        for operation in item.values():
            for parameter in operation["parameters"]:
                assert parameter["in"] in ("query", "path", "header")


# --- process list and descriptions ---------------------------------------------------------------------------

def test_process_list_is_valid_and_pages_with_limit(api):
    everything = get_json(api, "/processes", "processList")
    ids = [p["id"] for p in everything["processes"]]
    assert {"hello", "inout", "sleep", "nap", "wordcounter", "bbox"} <= set(ids)
    first = get_json(api, "/processes?limit=2", "processList")
    assert [p["id"] for p in first["processes"]] == ids[:2]
    following = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = api.session.get(following, timeout=10).json()
    assert [p["id"] for p in assert_valid(second, "processList")["processes"]] == ids[2:4]
    problem(api.session.get(api.base + "/processes?limit=0", timeout=10), 400)


def test_fixed_answers_from_the_cache_are_the_handlers_answers(api):
    for path in ("/", "/conformance", "/processes", "/processes/inout"):
        cached = api.session.get(api.base + path, timeout=10)  # answered at the connection
        handled = api.session.get(api.base + path + "?f=json", timeout=10)  # another target: by the handler
        assert cached.content == handled.content and cached.headers["Content-Type"] == handled.headers["Content-Type"]
        for name in ("X-Content-Type-Options", "Content-Security-Policy"):
            assert cached.headers[name] == handled.headers[name], (path, name)


def test_every_description_is_valid_with_a_json_schema_per_input_and_output(api):
    for summary in get_json(api, "/processes", "processList")["processes"]:
        description = get_json(api, f"/processes/{summary['id']}", "process")
        for item in [*description.get("inputs", {}).values(), *description["outputs"].values()]:
            assert_valid(item["schema"], "schema")
        assert description["outputTransmission"] == ["value", "reference"]
        assert any(link["rel"].endswith("/execute") for link in description["links"])


def test_descriptions_carry_types_allowed_values_defaults_formats_and_crss(api):
    inout = get_json(api, "/processes/inout", "process")
    inputs = inout["inputs"]
    assert inputs["int"]["schema"] == {"type": "integer", "enum": [1, 2, 3, 5, 7, 11], "default": 7}
    assert inputs["float"]["schema"] == {"type": "number", "minimum": 0.0, "maximum": 100.0, "default": 3.14}
    assert inputs["float"]["maxOccurs"] == 5 and inputs["float"]["minOccurs"] == 0
    assert inputs["date"]["schema"]["format"] == "date"
    assert inputs["bbox"]["schema"]["properties"]["crs"]["enum"] == [
        "http://www.opengis.net/def/crs/EPSG/0/4326", "http://www.opengis.net/def/crs/EPSG/0/3035"]
    assert inputs["text"]["schema"]["contentMediaType"] == "text/plain"
    assert get_json(api, "/processes/nap", "process")["jobControlOptions"] == ["sync-execute"]
    assert get_json(api, "/processes/sleep", "process")["jobControlOptions"] == [
        "sync-execute", "async-execute", "dismiss"]


def test_unknown_process_is_no_such_process(api):
    problem(api.session.get(api.base + "/processes/nope", timeout=10), 404, "no-such-process")
    problem(execute(api, "nope", {}), 404, "no-such-process")


# --- execution ---------------------------------------------------------------------------------------------

def test_sync_raw_is_the_bare_value_and_document_is_valid_results(api):
    raw = execute(api, "hello", {"inputs": {"name": "World"}})
    assert raw.status_code == 200 and raw.text == "Hello World"
    assert raw.headers["Content-Type"].startswith("text/plain")
    document = execute(api, "hello", {"inputs": {"name": "World"}, "response": "document"})
    assert assert_valid(document.json(), "results") == {"output": "Hello World"}
    assert "Preference-Applied" not in document.headers


def test_inline_qualified_bbox_and_repeated_inputs(api):
    answer = execute(api, "inout", {"response": "document", "inputs": {
        "string": {"value": "a;b=c", "mediaType": "text/plain"}, "int": 3, "float": [1.5, 2.5],
        "boolean": True, "bbox": {"bbox": [0, 40, 10, 50], "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
        "text": {"value": "some text", "mediaType": "text/plain"}}})
    results = assert_valid(answer.json(), "results")
    assert results["string"] == "a;b=c" and results["int"] == 3 and results["float"] == 4.0  # Emu sums the floats
    assert results["boolean"] is True
    assert results["bbox"]["value"] == {"bbox": [0.0, 40.0, 10.0, 50.0],
                                        "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}
    assert results["text"] == {"mediaType": "text/plain", "value": "some text"}


def test_bbox_in_the_wps_spelling_and_output_as_reference(api):
    answer = execute(api, "bbox", {"response": "document", "inputs": {"bbox": {"bbox": [1, 2, 3, 4], "crs": "EPSG:3035"}}})
    assert assert_valid(answer.json(), "results")["bbox"]["value"]["crs"].endswith("/EPSG/0/3035")
    by_reference = execute(api, "wordcounter", {"response": "document", "inputs": {"text": "to be or not to be"},
                                                 "outputs": {"output": {"transmissionMode": "reference"}}})
    link = assert_valid(by_reference.json(), "results")["output"]
    assert link["type"] == "application/json" and link["href"].startswith(api.base + "/outputs/")
    assert api.session.get(link["href"], timeout=10).json()[:2] == [[2, "to"], [2, "be"]]  # Emu: ties in reverse word order


def test_input_by_reference_is_staged_under_the_address_policy(api, receiver):
    answer = execute(api, "wordcounter", {"response": "document", "outputs": {"output": {"transmissionMode": "value"}},
                                          "inputs": {"text": {"href": receiver.base + "/text.txt", "type": "text/plain"}}})
    result = assert_valid(answer.json(), "results")["output"]
    assert result["mediaType"] == "application/json" and result["value"][0] == [2, "to"]
    refused = execute(api, "wordcounter", {"inputs": {"text": {"href": "http://169.254.169.254/latest/meta-data"}}})
    assert "not allowed" in problem(refused, 400, "invalid-input")["detail"]


def test_raw_with_several_outputs_is_multipart(api):
    answer = execute(api, "inout", {"inputs": {"string": "x"}, "outputs": {"string": {}, "int": {}}})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("multipart/related; boundary=")
    assert b"Content-ID: <string>" in answer.content and b"\r\n\r\nx\r\n" in answer.content


def test_async_with_prefer_header(api):
    answer = execute(api, "ultimate_question", {}, prefer="respond-async")
    assert answer.status_code == 201 and answer.headers["Preference-Applied"] == "respond-async"
    info = assert_valid(answer.json(), "statusInfo")
    assert info["status"] == "accepted" and answer.headers["Location"] == f"{api.base}/jobs/{info['jobID']}"
    final = wait_status(api.session, answer.headers["Location"], ("successful", "failed"))
    assert_valid(final, "statusInfo")
    assert final["status"] == "successful" and final["progress"] == 100
    results_link = next(l["href"] for l in final["links"] if l["rel"].endswith("/results"))
    assert get_json(api, results_link.replace(api.base, ""), "results") == {"answer": "42"}


def test_process_without_async_runs_sync_even_when_async_is_preferred(api):
    answer = execute(api, "nap", {"inputs": {"delay": 0}, "response": "document"}, prefer="respond-async, wait=10")
    assert answer.status_code == 200 and "Preference-Applied" not in answer.headers
    assert assert_valid(answer.json(), "results") == {"output": "done sleeping"}


def test_results_not_ready_then_dismiss_cancels_and_removes(api):
    answer = execute(api, "sleep", {"inputs": {"delay": 5}}, prefer="respond-async")
    href = answer.headers["Location"]
    wait_status(api.session, href, ("running",))
    problem(api.session.get(href + "/results", timeout=10), 404, "result-not-ready")
    dismissed = api.session.delete(href, timeout=30)
    assert dismissed.status_code == 200
    assert assert_valid(dismissed.json(), "statusInfo")["status"] == "dismissed"
    assert get_json(api, href.replace(api.base, ""), "statusInfo")["status"] == "dismissed"
    problem(api.session.get(href + "/results", timeout=10), 404)
    job_id = href.rsplit("/", 1)[1]
    assert api.session.get(f"{api.base}/status/{job_id}.xml", timeout=10).status_code == 404  # files removed


def test_failed_job_reports_the_reason_and_its_results_are_a_problem(api):
    answer = execute(api, "show_error", {"inputs": {"message": "the river is dry", "nice": True}}, prefer="respond-async")
    final = wait_status(api.session, answer.headers["Location"], ("successful", "failed"))
    assert final["status"] == "failed" and "the river is dry" in final["message"]
    body = problem(api.session.get(answer.headers["Location"] + "/results", timeout=10), 500, "job-results-failed")
    assert "the river is dry" in body["detail"]
    sync = execute(api, "show_error", {"inputs": {"message": "sync too", "nice": True}, "response": "document"})
    assert "sync too" in problem(sync, 500, "job-results-failed")["detail"]


def test_timeout_is_the_wps_timeout(api):
    answer = execute(api, "sleep", {"inputs": {"delay": 2}, "timeout": 1}, prefer="respond-async")
    final = wait_status(api.session, answer.headers["Location"], ("successful", "failed"))
    assert final["status"] == "failed" and "timed out" in final["message"]


# --- jobs across protocols, the job list ------------------------------------------------------------------

def test_a_wps_job_appears_in_jobs_with_its_results(api):
    accepted = api.execute("hello", "name=WPS", storeExecuteResponse="true", status="true")
    location = accepted.text.split('statusLocation="', 1)[1].split('"', 1)[0]
    job_id = location.rsplit("/", 1)[1][:-4]
    api.wait_final(location)
    info = get_json(api, f"/jobs/{job_id}", "statusInfo")
    assert info["processID"] == "hello" and info["status"] == "successful"
    assert get_json(api, f"/jobs/{job_id}/results", "results") == {"output": "Hello WPS"}
    listed = get_json(api, "/jobs?processID=hello&status=successful&limit=100", "jobList")
    assert job_id in [job["jobID"] for job in listed["jobs"]]


def test_an_ogcapi_job_has_its_wps_status_document(api):
    answer = execute(api, "hello", {"inputs": {"name": "OGC"}}, prefer="respond-async")
    info = wait_status(api.session, answer.headers["Location"], ("successful",))
    document = api.session.get(f"{api.base}/status/{info['jobID']}.xml", timeout=10)
    root = assert_valid_xml(document.content)
    assert literal_outputs(root) == {"output": "Hello OGC"}


def test_job_list_filters_and_pages(api):
    for name in ("a", "b", "c"):
        assert execute(api, "hello", {"inputs": {"name": name}}).status_code == 200
    page = get_json(api, "/jobs?processID=hello&limit=2", "jobList")
    assert len(page["jobs"]) == 2 and all(job["processID"] == "hello" for job in page["jobs"])
    following = next(link["href"] for link in page["links"] if link["rel"] == "next")
    second = assert_valid(api.session.get(following, timeout=10).json(), "jobList")
    assert not {j["jobID"] for j in second["jobs"]} & {j["jobID"] for j in page["jobs"]}
    assert all(job["processID"] == "hello" for job in second["jobs"])
    assert get_json(api, "/jobs?type=other", "jobList")["jobs"] == []
    assert all(j["status"] == "failed" for j in get_json(api, "/jobs?status=failed", "jobList")["jobs"])
    future = (_dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get_json(api, f"/jobs?datetime={future}/..", "jobList")["jobs"] == []
    assert get_json(api, f"/jobs?datetime=../{future}&limit=1", "jobList")["jobs"]
    problem(api.session.get(api.base + "/jobs?status=started", timeout=10), 400)
    problem(api.session.get(api.base + "/jobs?datetime=yesterday", timeout=10), 400)
    problem(api.session.get(api.base + "/jobs?limit=100000", timeout=10), 400)


def test_unknown_jobs_are_no_such_job(api):
    problem(api.session.get(api.base + "/jobs/not-a-job", timeout=10), 404, "no-such-job")
    problem(api.session.get(api.base + "/jobs/00000000-0000-0000-0000-000000000000/results", timeout=10), 404,
            "no-such-job")
    problem(api.session.delete(api.base + "/jobs/00000000-0000-0000-0000-000000000000", timeout=10), 404,
            "no-such-job")


# --- hostile and malformed requests ---------------------------------------------------------------------------

def test_bad_inputs_are_problems_naming_the_input(api):
    assert problem(execute(api, "inout", {"inputs": {"int": 4}}), 400)["locator"] == "int"
    assert problem(execute(api, "hello", {"inputs": {}}), 400, "missing-input")["locator"] == "name"
    assert problem(execute(api, "hello", {"inputs": {"nom": "x"}}), 400, "no-such-input")["locator"] == "nom"
    problem(execute(api, "hello", {"inputs": {"name": "x"}, "outputs": {"nope": {}}}), 400, "no-such-output")
    problem(execute(api, "hello", {"inputs": {"name": "x"}, "response": "both"}), 400)
    problem(execute(api, "inout", {"inputs": {"string": "x", "bbox": {"bbox": [1, 2, "x", 4]}}}), 400)
    problem(execute(api, "inout", {"inputs": {"string": "x", "bbox": {"bbox": [1, 2, 3, 4], "crs": "EPSG:1"}}}), 400)
    problem(execute(api, "hello", {"inputs": {"name": "x"}, "subscriber": {"successUri": "file:///etc/passwd"}},
                    prefer="respond-async"), 400)
    problem(execute(api, "hello", ["not", "an", "object"]), 400)


def exchange(port: int, data: bytes) -> tuple[int, bytes]:
    """Send ``data`` over a raw socket and read the answer until the gateway closes the connection."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the gateway answered and closed before all of it was sent: the point
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_body_must_be_json_within_the_limit(api):
    url = f"{api.base}/processes/hello/execution"
    # refused before the body is read, so the gateway closes the connection after answering: a fresh one each
    problem(requests.post(url, data=b'{"inputs": {"name": "x"}}', headers={"Content-Type": "text/plain"},
                          timeout=10), 415, "unsupported-media-type")
    problem(requests.post(url, data=b'{"inputs": {"name": "x"}}', timeout=10), 415)  # no Content-Type
    problem(api.session.post(url, data=b"{nope", headers={"Content-Type": "application/json"}, timeout=10), 400)
    deep = b"[" * 30000 + b"]" * 30000  # within the limit, deeper than the parser goes
    problem(api.session.post(url, data=deep, headers={"Content-Type": "application/json"}, timeout=10), 400)
    head = b"POST /processes/hello/execution HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    # announced too large: refused from the headers, none of the 400 MB is read
    code, body = exchange(api.port, head + b"Content-Length: 400000000\r\n\r\n")
    assert code == 413 and json.loads(body)["type"] == PROBLEM_TYPES + "payload-too-large"
    # chunked, no length to refuse it by: answered once the limit is passed, the rest never read
    code, body = exchange(api.port, head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (100 * MAX_REQUEST)
                          + b" " * (MAX_REQUEST + 4096))
    assert code == 413 and json.loads(body)["type"] == PROBLEM_TYPES + "payload-too-large"
    assert api.session.get(api.base + "/processes", timeout=10).status_code == 200  # still serving


@pytest.mark.parametrize("target", ["/", "/conformance", "/api", "/processes", "/processes/hello", "/jobs",
                                    "/jobs/00000000-0000-0000-0000-000000000000",
                                    "/jobs/00000000-0000-0000-0000-000000000000/results"])
def test_no_other_route_takes_a_body(api, target):
    code, body = exchange(api.port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
                          + b"Content-Length: 400000000\r\n\r\n")
    assert code == 413 and json.loads(body)["status"] == 413


def test_no_other_method_is_served(api):
    problem(api.session.post(api.base + "/jobs", json={}, timeout=10), 405)
    problem(api.session.put(api.base + "/processes/hello", timeout=10), 405)
    problem(api.session.get(api.base + "/processes?f=xml", timeout=10), 400)


def test_cors_policy_applies(api):
    allowed = api.session.get(api.base + "/processes", headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    other = api.session.get(api.base + "/processes", headers={"Origin": "https://evil.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = api.session.options(f"{api.base}/processes/hello/execution", timeout=10, headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Prefer" in preflight.headers["Access-Control-Allow-Headers"]  # asynchronous execution from a page
    accepted = execute(api, "hello", {"inputs": {"name": "x"}}, prefer="respond-async",
                       headers={"Origin": ALLOWED_ORIGIN})
    assert accepted.status_code == 201 and accepted.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert {"Location", "Preference-Applied"} <= set(accepted.headers["Access-Control-Expose-Headers"].split(", "))
    refused = api.session.options(f"{api.base}/processes/hello/execution", timeout=10, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 405


# --- HTML ------------------------------------------------------------------------------------------------------

def test_html_pages_render_with_a_strict_policy(api):
    for path in ("/", "/processes", "/processes/inout", "/jobs"):
        for kwargs in ({"params": {"f": "html"}}, {"headers": {"Accept": "text/html,*/*;q=0.8"}}):
            page = api.session.get(api.base + path, timeout=10, **kwargs)
            assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
            policy = page.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
            assert not re.search(r"<link|<iframe|<object|<embed|\bsrc=", page.text)  # nothing loaded from anywhere
    assert "<h1>Processes</h1>" in api.session.get(api.base + "/processes?f=html", timeout=10).text
    assert api.session.get(api.base + "/processes", headers={"Accept": "*/*"}, timeout=10).headers[
        "Content-Type"].startswith("application/json")


def test_job_messages_are_escaped_in_the_job_list(api):
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    answer = execute(api, "show_error", {"inputs": {"message": hostile, "nice": True}}, prefer="respond-async")
    wait_status(api.session, answer.headers["Location"], ("failed",))
    page = api.session.get(api.base + "/jobs?f=html&processID=show_error", timeout=10).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and page.count("<script>") == 1  # only the dashboard's own


# --- callbacks -----------------------------------------------------------------------------------------------

def test_callbacks_reach_the_subscriber(api, receiver):
    subscriber = {"successUri": receiver.base + "/ok", "inProgressUri": receiver.base + "/progress",
                  "failedUri": receiver.base + "/failed"}
    answer = execute(api, "sleep", {"inputs": {"delay": 0.4}, "subscriber": subscriber}, prefer="respond-async")
    job_id = answer.json()["jobID"]
    results = wait_for(lambda: receiver.received("/ok"), 60, "no success callback")
    assert assert_valid(results[0], "results") == {"sleep_output": "done sleeping"}
    progress = receiver.received("/progress")
    assert progress and all(assert_valid(p, "statusInfo")["jobID"] == job_id for p in progress)
    assert {p["status"] for p in progress} == {"running"}
    assert not receiver.received("/failed")
    failing = execute(api, "show_error", {"inputs": {"message": "no luck", "nice": True},
                                          "subscriber": {"failedUri": receiver.base + "/failed"}},
                      prefer="respond-async")
    failure = wait_for(lambda: receiver.received("/failed"), 60, "no failure callback")[0]
    assert assert_valid(failure, "exception")["jobID"] == failing.json()["jobID"] and "no luck" in failure["detail"]


def test_callbacks_obey_the_address_policy_and_are_retried(receiver):
    """Sent by the gateway's sender: refused for loopback unless allowed (nothing arrives), retried after a 503."""
    import asyncio

    from wpsgate.ogcapi.callbacks import CallbackSender

    async def send(networks: tuple[str, ...], path: str) -> bool:
        sender = CallbackSender(engine=None, base="http://gateway.example", spool="/nonexistent",
                                allowed_networks=networks, timeout=5)
        try:
            return await sender.send(receiver.base + path, {"status": "successful"})
        finally:
            sender.close()

    assert asyncio.run(send((), "/refused")) is False
    assert receiver.received("/refused") == [] and ("/refused", {"status": "successful"}) not in receiver.posts
    receiver.failures["/flaky"] = 1
    assert asyncio.run(send(("127.0.0.0/8",), "/flaky")) is True
    assert receiver.received("/flaky") == [{"status": "successful"}] and receiver.failures["/flaky"] == 0
