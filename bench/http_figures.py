"""The figures both servers answer over HTTP, measured A B A B on the same machine in the same run.

GetCapabilities and DescribeProcess throughput, sync Execute latency, async accept
latency, local end-to-end overhead of ``ultimate_question`` and status polls per
second on a running job.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

from . import httpclient, throughput
from .httpclient import Connection, target_of
from .results import Figure, Results, Target
from .servers import Server
from .settings import Settings
from .stats import median, percentile

FINAL = (b"ProcessSucceeded", b"ProcessFailed")


def alternate(settings: Settings, servers: Sequence[Server], measure: Callable[[Server, int], float | dict],
              rounds: int | None = None) -> dict[str, list]:
    """Round by round, each server once (A B A B ...); returns the values per server name."""
    values: dict[str, list] = {s.name: [] for s in servers}
    for round_ in range(rounds or settings.rounds):
        for server in servers:
            values[server.name].append(measure(server, round_))
    return values


def _expect(response: httpclient.Response, marker: bytes, what: str) -> None:
    if response.status != 200 or marker not in response.body:
        raise RuntimeError(f"{what}: unexpected answer HTTP {response.status}: {response.body[:300]!r}")


# --- throughput -----------------------------------------------------------------------------------------------

def throughput_figures(results: Results, settings: Settings, servers: Sequence[Server], log) -> None:
    for key, label, attr, marker in (
            ("getcapabilities", "GetCapabilities", "capabilities", b"Capabilities"),
            ("describeprocess", "DescribeProcess identifier=ALL", "describe_all", b"ProcessDescriptions")):
        for server in servers:  # a correct answer first, and a warm server
            _expect(httpclient.get(getattr(server, attr)), marker, f"{server.name} {label}")
            throughput.measure(getattr(server, attr), 1, settings.connections)
        details: dict[str, list] = {s.name: [] for s in servers}

        def measure(server: Server, _round: int) -> float:
            cpu = server.cpu()
            data = throughput.measure(getattr(server, attr), settings.seconds, settings.connections)
            data["cpu"] = server.cpu() - cpu
            details[server.name].append(data)
            log(f"  {label:32s} {server.name:8s} {data['requests_per_second']:9.1f} req/s "
                f"(errors {data['errors']}, non-2xx {data['non2xx']})")
            return data["requests_per_second"]

        values = alternate(settings, servers, measure)
        results.add(Figure(
            key, "Throughput", f"{label} at {settings.connections} connections", "req/s", "higher",
            values["wpsgate"], values.get("PyWPS"),
            Target("ratio_min", 50, "≥ 50× PyWPS"),
            detail={"errors": {n: sum(d["errors"] + d["non2xx"] for d in v) for n, v in details.items()},
                    "tool": details["wpsgate"][0]["tool"], "cpu": _cpu_detail(details, settings.seconds)}))


def _cpu_detail(details: dict[str, list[dict]], seconds: float) -> dict[str, dict[str, float]]:
    """Per server: CPU seconds per second of load (cores used) and CPU microseconds per answer."""
    out = {}
    for name, rounds in details.items():
        cpu = sum(d["cpu"] for d in rounds)
        answers = sum(max(0, d["ok"] - d["non2xx"]) for d in rounds)
        out[name] = {"cores": cpu / (seconds * len(rounds)), "us_per_request": 1e6 * cpu / answers if answers else
                     float("nan")}
    return out


# --- latency loops --------------------------------------------------------------------------------------------

def sequential(url: str, count: int, max_seconds: float, marker: bytes, what: str) -> list[float]:
    """Latencies in ms of ``count`` GETs one after another (stops early at ``max_seconds``)."""
    target = target_of(url)
    samples = []
    deadline = time.monotonic() + max_seconds
    with Connection.for_url(url) as connection:
        while len(samples) < count and time.monotonic() < deadline:
            response = connection.get(target)
            _expect(response, marker, what)
            samples.append(response.seconds * 1000)
    return samples


def _percentile_figures(results: Results, values: dict[str, list[list[float]]], key: str, section: str,
                        label: str, p50_target: Target | None, note: str = "") -> None:
    for p, target in ((50, p50_target), (99, None)):
        results.add(Figure(
            f"{key}_p{p}", section, f"{label} p{p}", "ms", "lower",
            [percentile(s, p) for s in values["wpsgate"]],
            [percentile(s, p) for s in values["PyWPS"]] if "PyWPS" in values else None,
            target, note=note if p == 50 else "",
            detail={"samples": {n: sum(len(s) for s in v) for n, v in values.items()}}))


def sync_latency(results: Results, settings: Settings, servers: Sequence[Server], log) -> None:
    def measure(server: Server, _round: int) -> list[float]:
        url = server.execute("hello", "name=World")
        samples = sequential(url, settings.sync_count, settings.sync_seconds, b"Hello World",
                             f"{server.name} sync hello")
        log(f"  sync hello                       {server.name:8s} p50 {percentile(samples, 50):7.2f} ms "
            f"p99 {percentile(samples, 99):7.2f} ms ({len(samples)} requests)")
        return samples

    for server in servers:  # warm up
        sequential(server.execute("hello", "name=World"), 10, 5, b"Hello World", f"{server.name} sync hello")
    values = alternate(settings, servers, measure)
    _percentile_figures(results, values, "sync_hello", "Latency", "sync Execute hello",
                        Target("max", 3.0, "p50 ≤ 3 ms"))


def wait_final(locations: Sequence[str], timeout: float) -> dict[str, int]:
    """Poll status documents until every one is final; counts of succeeded, failed and unfinished."""
    pending = list(locations)
    counts = {"succeeded": 0, "failed": 0, "unfinished": 0}
    deadline = time.monotonic() + timeout
    if not pending:
        return counts
    with Connection.for_url(pending[0]) as connection:
        while pending and time.monotonic() < deadline:
            still = []
            for location in pending:
                body = connection.get(target_of(location)).body
                if b"ProcessSucceeded" in body:
                    counts["succeeded"] += 1
                elif b"ProcessFailed" in body:
                    counts["failed"] += 1
                else:
                    still.append(location)
            pending = still
            if pending:
                time.sleep(0.2)
    counts["unfinished"] = len(pending)
    return counts


def async_accept(results: Results, settings: Settings, servers: Sequence[Server], log) -> None:
    drained: dict[str, list] = {s.name: [] for s in servers}

    def measure(server: Server, _round: int) -> list[float]:
        url = server.execute("hello", "name=World", store=True, status=True)
        target = target_of(url)
        samples, locations = [], []
        deadline = time.monotonic() + settings.accept_seconds
        with Connection.for_url(url) as connection:
            while len(samples) < settings.accept_count and time.monotonic() < deadline:
                response = connection.get(target)
                _expect(response, b"ProcessAccepted", f"{server.name} async hello")
                samples.append(response.seconds * 1000)
                locations.append(server.status_location(response.body))
        counts = wait_final(locations, 120)
        drained[server.name].append(counts)
        log(f"  async accept hello               {server.name:8s} p50 {percentile(samples, 50):7.2f} ms "
            f"p99 {percentile(samples, 99):7.2f} ms ({len(samples)} jobs; then {counts})")
        return samples

    values = alternate(settings, servers, measure)
    _percentile_figures(results, values, "async_accept", "Latency", "async Execute accept (ProcessAccepted)",
                        Target("max", 3.0, "p50 ≤ 3 ms"))
    results.get("async_accept_p50").detail["jobs"] = drained


def async_accept_queued(results: Results, settings: Settings, servers: Sequence[Server], log) -> None:
    """The same accepts while every worker is busy with a sleep job, so the accepted jobs wait in the queue
    instead of running beside the gateway on the same cores: what the accept costs the gateway itself."""
    server = next(s for s in servers if s.name == "wpsgate")
    seconds = 4.0

    def measure(server: Server, _round: int) -> list[float]:
        blockers = []
        for _ in range(settings.workers):
            response = httpclient.get(server.execute("sleep", f"delay={seconds:g}", store=True, status=True))
            _expect(response, b"ProcessAccepted", "wpsgate async sleep")
            blockers.append(server.status_location(response.body))
        time.sleep(0.3)  # both sleep jobs have started
        url = server.execute("hello", "name=World", store=True, status=True)
        samples, locations = [], []
        deadline = time.monotonic() + seconds - 1.0
        with Connection.for_url(url) as connection:
            while len(samples) < settings.accept_count and time.monotonic() < deadline:
                response = connection.get(target_of(url))
                _expect(response, b"ProcessAccepted", "wpsgate async hello (queued)")
                samples.append(response.seconds * 1000)
                locations.append(server.status_location(response.body))
        counts = wait_final(blockers + locations, 120)
        log(f"  async accept hello, workers busy wpsgate  p50 {percentile(samples, 50):7.2f} ms "
            f"p99 {percentile(samples, 99):7.2f} ms ({len(samples)} jobs queued; then {counts})")
        return samples

    values = alternate(settings, [server], measure)
    results.add(Figure(
        "async_accept_queued_p50", "Latency", "async Execute accept p50 with every worker busy", "ms", "lower",
        [percentile(s, 50) for s in values["wpsgate"]], None,
        note="the same submissions while sleep jobs occupy the workers: the accepted jobs wait in the queue "
             "instead of running on the same two cores, so this is the accept's own cost"))


# --- end to end -----------------------------------------------------------------------------------------------

def end_to_end(server: Server, own_seconds: float = 0.4, poll: float = 0.002, timeout: float = 120,
               identifier: str = "ultimate_question") -> float:
    return end_to_end_job(server, own_seconds, poll, timeout, identifier)[0]


def end_to_end_job(server: Server, own_seconds: float = 0.4, poll: float = 0.002, timeout: float = 120,
                   identifier: str = "ultimate_question") -> tuple[float, str]:
    """Seconds from sending the async Execute to receiving ProcessSucceeded, minus the job's own time,
    and the job's status location.

    Polling starts when the job cannot have finished yet (``own_seconds`` after the submission) and then
    runs every ``poll`` seconds, so the polls add at most ``poll`` to the figure.
    """
    url = server.execute(identifier, store=True, status=True)
    started = time.perf_counter()
    response = httpclient.get(url)
    _expect(response, b"ProcessAccepted", f"{server.name} async {identifier}")
    location = server.status_location(response.body)
    target = target_of(location)
    wake = started + own_seconds
    with Connection.for_url(location) as connection:
        time.sleep(max(0.0, wake - time.perf_counter()))
        deadline = started + timeout
        while time.perf_counter() < deadline:
            body = connection.get(target).body
            if b"ProcessSucceeded" in body:
                return time.perf_counter() - started - own_seconds, location
            if b"ProcessFailed" in body:
                raise RuntimeError(f"{server.name}: {identifier} failed: {body[-600:]!r}")
            time.sleep(poll)
    raise RuntimeError(f"{server.name}: {identifier} did not finish within {timeout} s")


def local_end_to_end(results: Results, settings: Settings, servers: Sequence[Server], log) -> None:
    for server in servers:  # warm up
        end_to_end(server)

    def measure(server: Server, _round: int) -> list[float]:
        samples = [end_to_end(server) * 1000 for _ in range(settings.e2e_count)]
        log(f"  e2e ultimate_question - 0.4 s    {server.name:8s} median {median(samples):7.1f} ms "
            f"max {max(samples):7.1f} ms")
        return samples

    values = alternate(settings, servers, measure)
    results.add(Figure(
        "e2e_local", "End to end", "async ultimate_question submit → ProcessSucceeded, minus its 0.4 s, local",
        "ms", "lower", [median(s) for s in values["wpsgate"]],
        [median(s) for s in values["PyWPS"]] if "PyWPS" in values else None,
        Target("max", 20.0, "≤ 20 ms"),
        note="client view: polls every 2 ms once 0.4 s have passed",
        detail={"max": {n: max(max(s) for s in v) for n, v in values.items()}}))


# --- status polls ---------------------------------------------------------------------------------------------

def status_polls(results: Results, settings: Settings, servers: Sequence[Server], log) -> None:
    details: dict[str, list] = {s.name: [] for s in servers}

    def measure(server: Server, _round: int) -> float:
        delay = (settings.seconds + 2.0) / 5  # sleep runs five steps of `delay`: it outlives the measurement
        response = httpclient.get(server.execute("sleep", f"delay={delay:.2f}", store=True, status=True))
        _expect(response, b"ProcessAccepted", f"{server.name} async sleep")
        location = server.status_location(response.body)
        deadline = time.monotonic() + 30
        while b"ProcessStarted" not in httpclient.get(location).body:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name}: the sleep job did not start within 30 s")
            time.sleep(0.05)
        cpu = server.cpu()
        data = throughput.measure(location, settings.seconds, settings.connections)
        data["cpu"] = server.cpu() - cpu
        details[server.name].append(data)
        still = b"ProcessStarted" in httpclient.get(location).body
        log(f"  status polls on a running job    {server.name:8s} {data['requests_per_second']:9.1f} req/s "
            f"(still running after: {still})")
        if not still:
            log(f"  warning: {server.name}'s job ended during the measurement")
        return data["requests_per_second"]

    values = alternate(settings, servers, measure)
    results.add(Figure(
        "status_polls", "Throughput", f"status document polls on a running job at {settings.connections} "
        "connections", "req/s", "higher", values["wpsgate"], values.get("PyWPS"),
        note="PyWPS's status documents are files in its outputpath, served here by its two gunicorn processes "
             "(a blocking read each); wpsgate answers a local job's poll from the latest document its engine "
             "handed over (a scheduler job's document is read on a thread, never on the event loop)",
        detail={"cpu": _cpu_detail(details, settings.seconds)}))
    # leave no sleep job running into the next phase
    time.sleep(2.5)
