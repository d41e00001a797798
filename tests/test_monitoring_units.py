"""The monitoring adapters on synthetic events: job metrics, the lifecycle log line, JSON logs, readiness."""
import asyncio
import io
import json
import logging

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from wpsgate.monitoring.events import JobEvent
from wpsgate.monitoring.http_metrics import GatewayMetrics
from wpsgate.monitoring.job_metrics import JobMetrics
from wpsgate.monitoring.json_log import JsonFormatter
from wpsgate.monitoring.lifecycle_log import LifecycleLog, event_fields, format_event
from wpsgate.monitoring.readiness import NamedProbe, ProbeFailed, ReadinessCheck


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def value(registry, name, **labels):
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


# --- job metrics -------------------------------------------------------------------------------------------


def test_job_metrics_follow_a_local_job_from_accepted_to_succeeded():
    registry, clock = CollectorRegistry(), Clock()
    metrics = JobMetrics(registry, clock=clock)
    metrics.observe(JobEvent("accepted", "j1", "sleep", "local", created=1000.0))
    assert value(registry, "wpsgate_jobs", state="queued", process="sleep", backend="local") == 1
    assert value(registry, "wpsgate_queue_depth", backend="local") == 1
    metrics.observe(JobEvent("started", "j1", "sleep", "local"))
    assert value(registry, "wpsgate_jobs", state="queued", process="sleep", backend="local") == 0
    assert value(registry, "wpsgate_jobs", state="running", process="sleep", backend="local") == 1
    assert value(registry, "wpsgate_queue_depth", backend="local") == 0
    assert value(registry, "wpsgate_workers_busy") == 1
    metrics.observe(JobEvent("progress", "j1", "sleep", "local", percent=40))  # no change, no event counted
    assert value(registry, "wpsgate_workers_busy") == 1
    clock.now = 1012.5
    metrics.observe(JobEvent("succeeded", "j1", "sleep", "local"))
    assert value(registry, "wpsgate_workers_busy") == 0
    assert value(registry, "wpsgate_jobs", state="running", process="sleep", backend="local") == 0
    assert value(registry, "wpsgate_job_duration_seconds_count", process="sleep", backend="local",
                 state="succeeded") == 1
    assert value(registry, "wpsgate_job_duration_seconds_sum", process="sleep", backend="local",
                 state="succeeded") == 12.5
    for kind in ("accepted", "started", "succeeded"):
        assert value(registry, "wpsgate_job_events_total", event=kind, process="sleep", backend="local") == 1
    assert value(registry, "wpsgate_job_events_total", event="progress", process="sleep", backend="local") == 0
    assert metrics.unfinished == 0


def test_job_metrics_on_a_scheduler_count_queue_not_workers_and_forget_late_events():
    registry = CollectorRegistry()
    metrics = JobMetrics(registry, clock=Clock())
    for job in ("a", "b"):
        metrics.observe(JobEvent("accepted", job, "regrid", "slurm", created=999.0))
        metrics.observe(JobEvent("submitted", job, "regrid", "slurm", scheduler_id="17"))
    assert value(registry, "wpsgate_queue_depth", backend="slurm") == 2  # submitted: still waiting
    metrics.observe(JobEvent("started", "a", "regrid", "slurm"))
    assert value(registry, "wpsgate_workers_busy") == 0  # a node runs it, not a local worker
    metrics.observe(JobEvent("failed", "a", "regrid", "slurm", reason="walltime"))
    metrics.observe(JobEvent("dismissed", "b", "regrid", "slurm"))
    assert value(registry, "wpsgate_queue_depth", backend="slurm") == 0
    assert value(registry, "wpsgate_job_duration_seconds_count", process="regrid", backend="slurm",
                 state="dismissed") == 1
    # a finished job that expires later is counted as an event but not ended twice
    metrics.observe(JobEvent("expired", "a", "regrid", "slurm", created=1.0))
    assert value(registry, "wpsgate_job_events_total", event="expired", process="regrid", backend="slurm") == 1
    assert value(registry, "wpsgate_job_duration_seconds_count", process="regrid", backend="slurm",
                 state="expired") == 0
    assert value(registry, "wpsgate_jobs", state="running", process="regrid", backend="slurm") == 0


def test_job_metrics_scheduler_calls_time_and_errors():
    registry = CollectorRegistry()
    metrics = JobMetrics(registry)
    metrics.observe(JobEvent("scheduler_submit", backend="drmaa", duration=0.2))
    metrics.observe(JobEvent("scheduler_submit", backend="drmaa", duration=3.0, ok=False, reason="refused"))
    metrics.observe(JobEvent("scheduler_poll", backend="drmaa", duration=0.05, ok=False))
    assert value(registry, "wpsgate_scheduler_submit_seconds_count", backend="drmaa") == 2
    assert value(registry, "wpsgate_scheduler_submit_seconds_sum", backend="drmaa") == 3.2
    assert value(registry, "wpsgate_scheduler_errors_total", backend="drmaa", operation="submit") == 1
    assert value(registry, "wpsgate_scheduler_errors_total", backend="drmaa", operation="poll") == 1
    assert value(registry, "wpsgate_scheduler_poll_seconds_count", backend="drmaa") == 1


def test_job_metrics_share_the_gateway_registry_and_parse():
    gateway = GatewayMetrics("9.9", process_collector=False)
    JobMetrics(gateway.registry).observe(JobEvent("accepted", "x", "hello", "local"))
    gateway.observe_http("wps", "GET", 200, 0.002)
    body, content_type = gateway.render()
    assert content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"wpsgate_jobs", "wpsgate_http_responses", "wpsgate_build_info", "wpsgate_queue_depth"} <= names


# --- the lifecycle log ----------------------------------------------------------------------------------------


def test_lifecycle_line_names_job_process_backend_and_scheduler_id():
    line = format_event(JobEvent("submitted", "3f2c", "regrid", "slurm", scheduler_id="4711"))
    assert line == "job 3f2c submitted: process=regrid backend=slurm scheduler_id=4711"


def test_lifecycle_line_quotes_reasons_and_identities_so_they_cannot_forge_lines():
    event = JobEvent("failed", "j9", "hello", "local", reason='bad "input"\nERROR forged line',
                     user="ann", client="10.0.0.1")
    line = format_event(event)
    assert "\n" not in line
    assert line.startswith("job j9 failed: process=hello backend=local reason=")
    assert '\\"input\\"' in line and "\\nERROR forged line" in line
    assert 'user="ann" client="10.0.0.1"' in line
    assert event_fields(event)["user"] == "ann"  # ready for the JSON log
    assert "user" not in event_fields(JobEvent("accepted", "j9", "hello", "local"))  # until users exist


def test_lifecycle_log_one_info_line_per_event_and_progress_at_debug(caplog):
    log = LifecycleLog()
    caplog.set_level(logging.INFO, logger="wpsgate.jobs.lifecycle")
    kinds = ["accepted", "submitted", "started", "progress", "succeeded", "dismissed", "expired", "failed"]
    for kind in kinds:
        log.observe(JobEvent(kind, "j1", "sleep", "drmaa", scheduler_id="12" if kind != "accepted" else ""))
    records = [r for r in caplog.records if r.name == "wpsgate.jobs.lifecycle"]
    assert [r.getMessage().split()[2].rstrip(":") for r in records] == [k for k in kinds if k != "progress"]
    assert all(r.levelno == logging.INFO for r in records)
    assert records[1].getMessage() == "job j1 submitted: process=sleep backend=drmaa scheduler_id=12"


def test_failed_scheduler_call_is_a_warning(caplog):
    caplog.set_level(logging.DEBUG, logger="wpsgate.jobs.lifecycle")
    LifecycleLog().observe(JobEvent("scheduler_poll", backend="slurm", duration=30.0, ok=False,
                                    reason="squeue did not answer"))
    record = caplog.records[-1]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == 'scheduler_poll: backend=slurm reason="squeue did not answer" duration=30.000s ' \
                                  'ok=False'


# --- JSON logs ------------------------------------------------------------------------------------------------


def _json_lines(emit):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"wpsgate.test.json.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    emit(logger)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_log_lines_carry_level_logger_message_and_lifecycle_fields():
    def emit(logger):
        logger.info("serving %d processes", 9)
        LifecycleLog(logger).observe(JobEvent("submitted", "j2", "regrid", "slurm", scheduler_id="88"))
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logger.exception("monitor round failed")

    first, second, third = _json_lines(emit)
    assert first["level"] == "INFO" and first["message"] == "serving 9 processes" and first["time"].endswith("Z")
    assert second["event"] == "submitted" and second["job_id"] == "j2" and second["scheduler_id"] == "88"
    assert second["backend"] == "slurm" and second["process"] == "regrid"
    assert third["level"] == "ERROR" and "ValueError: boom" in third["exception"]


# --- readiness ------------------------------------------------------------------------------------------------


def test_readiness_is_coalesced_cached_and_never_piles_up_hung_probes():
    calls = {"good": 0, "hung": 0}
    release = None

    async def good():
        calls["good"] += 1

    async def hung():
        calls["hung"] += 1
        await release.wait()

    async def bad():
        raise ProbeFailed("connection refused by db.internal:5432")

    async def scenario():
        nonlocal release
        release = asyncio.Event()
        check = ReadinessCheck([NamedProbe("store", good, "the job store cannot be written"),
                                NamedProbe("scheduler", hung, "the scheduler does not answer"),
                                NamedProbe("spool", bad, "the spool cannot be written")], timeout=0.05, ttl=0.0)
        first, second = await asyncio.gather(check.check(), check.check())  # one check for both callers
        assert first is second and calls == {"good": 1, "hung": 1}
        assert not first.ready
        summary = first.as_json()
        assert summary["status"] == "unready" and summary["checks"]["store"] == {"ok": True, "detail": "ok"}
        assert "db.internal" not in json.dumps(summary)  # the error goes to the log, not to clients
        third = await check.check()
        assert calls["hung"] == 1  # still hanging: not called again
        assert "no answer for" in third.as_json()["checks"]["scheduler"]["detail"]
        release.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        fourth = await check.check()
        assert calls["hung"] == 2 and fourth.as_json()["checks"]["scheduler"]["ok"]

    asyncio.run(scenario())
