"""The job engine on the local pool: async jobs, status documents, timeouts, queue, dismiss, restart."""
import json
import os
import threading
import time

import requests
from lxml import etree

from .gateway import NS, exception_of, literal_outputs, status_of, uuid_of, wait_for
from .processes import ALL
from .schemas import assert_valid


def submit(gateway, identifier, inputs="", **params):
    response = gateway.execute(identifier, inputs, storeExecuteResponse="true", **params)
    assert response.status_code == 200, response.text
    root = assert_valid(response.content)
    assert root.find("wps:Status/wps:ProcessAccepted", NS) is not None, response.text
    return root.get("statusLocation")


def test_async_hello_first_poll_and_final_document(gateway):
    location = submit(gateway, "hello", "name=Async", status="true")
    first = gateway.session.get(location, timeout=10)
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/xml")
    assert_valid(first.content)
    final = gateway.wait_final(location)
    assert_valid(etree.tostring(final))
    assert literal_outputs(final) == {"output": "Hello Async"}
    assert final.get("statusLocation") == location


def test_async_without_status_updates_still_ends(gateway):
    location = submit(gateway, "ultimate_question")
    final = gateway.wait_final(location)
    assert literal_outputs(final) == {"answer": "42"}


def test_progress_rises_and_polls_never_see_partial_documents(gateway):
    location = submit(gateway, "sleep", "delay=0.25", status="true")
    percents, errors, stop = [], [], threading.Event()

    def hammer():
        session = requests.Session()
        while not stop.is_set():
            body = session.get(location, timeout=10).content
            try:
                assert_valid(body)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    pollers = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in pollers:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            document = etree.fromstring(gateway.session.get(location, timeout=10).content)
            state = status_of(document)
            if state == "ProcessStarted":
                percents.append(int(document.find("wps:Status/wps:ProcessStarted", NS).get("percentCompleted")))
            if state in ("ProcessSucceeded", "ProcessFailed"):
                break
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in pollers:
            thread.join()
    assert state == "ProcessSucceeded"
    assert not errors, errors[:3]
    assert len(set(percents)) >= 3, percents
    assert percents == sorted(percents)


def test_outputs_by_reference_served_with_etag_range_and_type(gateway):
    location = submit(gateway, "wordcounter", "text=b a b c b a", ResponseDocument="output@asReference=true")
    final = gateway.wait_final(location)
    href = final.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")
    whole = gateway.session.get(href, timeout=10)
    assert whole.status_code == 200
    assert whole.headers["Content-Type"] == "application/json"
    assert whole.json() == [[3, "b"], [2, "a"], [1, "c"]]
    etag = whole.headers["ETag"]
    assert gateway.session.get(href, headers={"If-None-Match": etag}, timeout=10).status_code == 304
    part = gateway.session.get(href, headers={"Range": "bytes=1-4"}, timeout=10)
    assert part.status_code == 206 and part.content == whole.content[1:5]
    assert part.headers["Content-Range"] == f"bytes 1-4/{len(whole.content)}"


def test_output_and_status_paths_cannot_escape_the_spool(gateway):
    with open(os.path.join(gateway.workdir, "job.key"), "rb") as handle:
        key = handle.read().strip()
    for path in ["/outputs/..%2f..%2fjob.key/x", "/outputs/00000000-0000-0000-0000-000000000000/..%2fstatus.xml",
                 "/outputs/00000000-0000-0000-0000-000000000000/%2e%2e", "/status/..%2fjob.key.xml",
                 "/outputs/../job.key"]:
        response = gateway.session.get(gateway.base + path, timeout=10)
        assert response.status_code == 404, (path, response.status_code)
        assert key not in response.content


def test_rawdata_output_of_complex_output_streams_the_value(gateway):
    response = gateway.execute("wordcounter", "text=x y x", RawDataOutput="output")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == [[2, "x"], [1, "y"]]


def test_failed_async_job_reports_the_reason(gateway):
    location = submit(gateway, "show_error", "message=the sky fell;nice=true", status="true")
    final = gateway.wait_final(location)
    assert_valid(etree.tostring(final))
    text = final.findtext("wps:Status/wps:ProcessFailed/ows:ExceptionReport/ows:Exception/ows:ExceptionText",
                          namespaces=NS)
    assert text == "the sky fell"
    record = gateway.session.get(gateway.base + "/status/" + uuid_of(location), timeout=10).json()
    assert record["status"] == "failed" and record["message"] == "the sky fell"


def test_status_api_lists_filters_and_pages(gateway):
    locations = [submit(gateway, "hello", f"name=p{i}") for i in range(3)]
    for location in locations:
        gateway.wait_final(location)
    uuids = [uuid_of(loc) for loc in locations]
    listing = gateway.session.get(gateway.base + "/status/", params={"process": "hello", "limit": 3},
                                  timeout=10).json()
    assert [job["uuid"] for job in listing["jobs"]] == uuids[::-1]
    following = gateway.session.get(gateway.base + "/status/", timeout=10,
                                    params={"process": "hello", "limit": 2, "cursor": listing["next_cursor"]}).json()
    assert all(job["uuid"] not in uuids for job in following["jobs"])
    offset = gateway.session.get(gateway.base + "/status/", params={"process": "hello", "limit": 1, "offset": 1},
                                 timeout=10).json()
    assert [job["uuid"] for job in offset["jobs"]] == [uuids[1]]
    failed = gateway.session.get(gateway.base + "/status/", params={"status": "failed"}, timeout=10).json()
    assert all(job["status"] == "failed" for job in failed["jobs"])
    one = gateway.session.get(gateway.base + "/status/" + uuids[0], timeout=10).json()
    assert one["status"] == "succeeded" and one["status_location"] == locations[0]
    missing = gateway.session.get(gateway.base + "/status/00000000-0000-0000-0000-000000000000", timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()
    assert gateway.session.get(gateway.base + "/status/", params={"limit": "x"}, timeout=10).status_code == 400


def test_expire_removes_documents_and_outputs(gateway):
    location = submit(gateway, "wordcounter", "text=a", EXPIRE="1")
    final = gateway.wait_final(location)
    href = final.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")
    assert gateway.session.get(href, timeout=10).status_code == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and gateway.session.get(location, timeout=10).status_code != 404:
        time.sleep(0.2)
    assert gateway.session.get(location, timeout=10).status_code == 404
    assert gateway.session.get(href, timeout=10).status_code == 404
    record = gateway.session.get(gateway.base + "/status/" + uuid_of(location), timeout=10).json()
    assert record["status"] == "expired" and record["outputs"] == [] and record["status_location"] is None


def test_timeout_kills_the_job_and_the_pool_recovers(fresh_gateway):
    gateway = fresh_gateway({"processing": {"parallelprocesses": 1}, "processes": ALL})
    location = submit(gateway, "spin", TIMEOUT="1", status="true")
    started = time.monotonic()
    final = gateway.wait_final(location, timeout=20)
    assert time.monotonic() - started < 10
    assert status_of(final) == "ProcessFailed"
    assert "timed out after 1 s" in etree.tostring(final).decode()
    again = gateway.execute("hello", "name=after")  # served by the replacement worker
    assert literal_outputs(etree.fromstring(again.content)) == {"output": "Hello after"}


def test_timeout_is_clamped_to_the_server_maximum(fresh_gateway):
    gateway = fresh_gateway({"processing": {"parallelprocesses": 1, "max_timeout": 1}, "processes": ALL})
    final = gateway.wait_final(submit(gateway, "spin", TIMEOUT="3600"), timeout=20)
    assert "timed out after 1 s" in etree.tostring(final).decode()


def test_worker_death_fails_the_job_and_is_replaced(fresh_gateway):
    gateway = fresh_gateway({"processing": {"parallelprocesses": 1}, "processes": ALL})
    final = gateway.wait_final(submit(gateway, "crash", status="true"), timeout=20)
    assert status_of(final) == "ProcessFailed"
    assert "exit code 3" in etree.tostring(final).decode()
    sync = gateway.execute("hello", "name=again")
    assert literal_outputs(etree.fromstring(sync.content)) == {"output": "Hello again"}


def wait_started(gateway, location):
    """Until the job at ``location`` is on a worker (its row says started), at most 10 s."""
    wait_for(lambda: gateway.session.get(gateway.base + "/status/" + uuid_of(location), timeout=5).json()["status"]
             == "started", 10, f"{location} did not start within 10 s")


def test_queue_limit_and_sync_wait_give_server_busy(fresh_gateway):
    gateway = fresh_gateway({"processing": {"parallelprocesses": 1, "maxqueue": 1, "sync_wait": 0.5},
                             "processes": ALL})
    running = submit(gateway, "spin")
    wait_started(gateway, running)
    queued = submit(gateway, "hello", "name=q")
    busy = gateway.execute("hello", "name=x", storeExecuteResponse="true")
    assert busy.status_code == 503
    assert exception_of(busy)[0] == "ServerBusy"
    assert_valid(busy.content)
    sync_busy = gateway.execute("hello", "name=x")
    assert sync_busy.status_code == 503 and exception_of(sync_busy)[0] == "ServerBusy"
    # dismiss the running job: its worker is killed, the queued job runs next
    dismissed = gateway.session.delete(gateway.base + "/status/" + uuid_of(running), timeout=10).json()
    assert dismissed["status"] == "dismissed"
    assert gateway.session.get(running, timeout=10).status_code == 404
    assert literal_outputs(gateway.wait_final(queued, timeout=20)) == {"output": "Hello q"}


def test_dismiss_a_queued_job_removes_it(fresh_gateway):
    gateway = fresh_gateway({"processing": {"parallelprocesses": 1}, "processes": ALL})
    running = submit(gateway, "spin")
    queued = submit(gateway, "hello", "name=never")
    record = gateway.session.delete(gateway.base + "/status/" + uuid_of(queued), timeout=10).json()
    assert record["status"] == "dismissed"
    assert gateway.session.get(queued, timeout=10).status_code == 404
    gateway.session.delete(gateway.base + "/status/" + uuid_of(running), timeout=10)
    time.sleep(1.0)
    assert gateway.session.get(gateway.base + "/status/" + uuid_of(queued), timeout=10).json()["status"] == \
        "dismissed"
    unknown = gateway.session.delete(gateway.base + "/status/00000000-0000-0000-0000-000000000000", timeout=10)
    assert unknown.status_code == 404


def test_restart_fails_running_jobs_and_resumes_queued_ones(fresh_gateway, tmp_path):
    workdir = str(tmp_path / "restart")
    config = {"processing": {"parallelprocesses": 1}, "processes": ALL}
    gateway = fresh_gateway(config, workdir=workdir)
    running = submit(gateway, "spin")
    wait_started(gateway, running)
    queued = [submit(gateway, "hello", f"name=q{i}") for i in range(3)]
    gateway.kill()
    restarted = fresh_gateway(config, workdir=workdir, port=gateway.port)
    final = restarted.wait_final(running, timeout=20)
    assert status_of(final) == "ProcessFailed"
    assert "gateway restarted" in etree.tostring(final).decode()
    for i, location in enumerate(queued):
        assert literal_outputs(restarted.wait_final(location, timeout=30)) == {"output": f"Hello q{i}"}
    records = [restarted.session.get(restarted.base + "/status/" + uuid_of(loc), timeout=5).json()
               for loc in queued]
    assert [r["status"] for r in records] == ["succeeded"] * 3


def test_a_stop_while_a_job_runs_leaves_no_error_in_the_log(fresh_gateway):
    """SIGTERM with a job on a worker: the worker goes with the gateway, and nothing is left unhandled."""
    gateway = fresh_gateway({"processing": {"parallelprocesses": 1}, "processes": ALL})
    running = submit(gateway, "spin")
    wait_started(gateway, running)
    gateway.stop()
    assert gateway.process.returncode == 0
    log = gateway.log()
    assert "stopping" in log
    assert " ERROR " not in log and "never retrieved" not in log, log[-2000:]


def test_job_output_and_traceback_are_kept_with_the_job(fresh_gateway):
    gateway = fresh_gateway({"processes": ALL})
    location = submit(gateway, "chatty")
    final = gateway.wait_final(location)
    assert "chatty failed on purpose" in etree.tostring(final).decode()
    folder = os.path.join(gateway.workdir, "spool", uuid_of(location))
    with open(os.path.join(folder, "job.log")) as handle:
        log = handle.read()
    assert "to stdout from the handler" in log and "to stderr from a child process" in log
    with open(os.path.join(folder, "result.json")) as handle:
        record = json.load(handle)
    assert record["state"] == "failed" and "RuntimeError" in record["traceback"]
    assert "to stdout from the handler" not in gateway.log()  # not mixed into the gateway's own log


def test_sync_jobs_are_recorded_and_leave_only_what_their_answer_points_at(fresh_gateway):
    gateway = fresh_gateway({"processing": {"parallelprocesses": 1}})
    by_value = gateway.execute("hello", "name=record")
    assert literal_outputs(assert_valid(by_value.content)) == {"output": "Hello record"}
    by_reference = gateway.execute("wordcounter", "text=one two two", ResponseDocument="output@asReference=true")
    reference = assert_valid(by_reference.content).find(".//wps:Reference", NS).get("href")

    def listed():
        jobs = gateway.session.get(gateway.base + "/status/", params={"limit": 10}, timeout=10).json()["jobs"]
        return jobs if len(jobs) == 2 else None

    jobs = wait_for(listed, 10, "both sync jobs in the job list")
    assert [(job["process"], job["async"], job["status"]) for job in jobs] == [
        ("wordcounter", False, "succeeded"), ("hello", False, "succeeded")]
    spool = os.path.join(gateway.workdir, "spool")
    # the by-value job's folder goes; the by-reference job's output stays, served until it expires
    wait_for(lambda: not os.path.exists(os.path.join(spool, jobs[1]["uuid"])), 10, "the hello folder removed")
    assert os.path.isdir(os.path.join(spool, jobs[0]["uuid"]))
    assert requests.get(reference, timeout=10).status_code == 200
