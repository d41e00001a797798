"""The route table of the OGC API: what is served, and (the same table) what /api describes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import handlers

JOB_ID = r"([^/]+)"
PROCESS_ID = r"([^/]+)"


@dataclass(frozen=True)
class Operation:
    summary: str
    operation_id: str
    parameters: tuple[str, ...] = ()  # names in openapi.PARAMETERS
    responses: tuple[tuple[str, str, str], ...] = ()  # (status, description, schema name or "")
    request_body: str = ""  # schema name of a JSON body


@dataclass(frozen=True)
class Route:
    path: str  # as OpenAPI writes it
    pattern: str  # as Tornado matches it
    handler: type
    operations: dict[str, Operation] = field(default_factory=dict)


_FORMAT = ("f",)
ROUTES: tuple[Route, ...] = (
    Route("/", r"/", handlers.LandingHandler, {"get": Operation(
        "Landing page", "getLandingPage", _FORMAT, (("200", "links to the API", "landingPage"),))}),
    Route("/conformance", r"/conformance/?", handlers.ConformanceHandler, {"get": Operation(
        "Conformance classes", "getConformanceClasses", (), (("200", "the conformance classes", "confClasses"),))}),
    Route("/api", r"/api/?", handlers.OpenAPIHandler, {"get": Operation(
        "This API definition", "getAPI", (), (("200", "the OpenAPI 3.0 document", ""),))}),
    Route("/processes", r"/processes/?", handlers.ProcessListHandler, {"get": Operation(
        "Processes", "getProcesses", ("limit", "offset", "f"), (("200", "process summaries", "processList"),))}),
    Route("/processes/{processID}", rf"/processes/{PROCESS_ID}", handlers.ProcessHandler, {"get": Operation(
        "Process description", "getProcessDescription", ("processID", "f"),
        (("200", "the process description", "process"), ("404", "no such process", "exception")))}),
    Route("/processes/{processID}/execution", rf"/processes/{PROCESS_ID}/execution", handlers.ExecutionHandler,
          {"post": Operation(
              "Execute a process", "execute", ("processID", "Prefer"),
              (("200", "results (response=document), or the bare output (response=raw)", "results"),
               ("201", "the job was accepted (Prefer: respond-async)", "statusInfo"),
               ("400", "the request is not valid for the process", "exception"),
               ("404", "no such process", "exception"), ("413", "the body is too large", "exception"),
               ("415", "the body is not application/json", "exception"),
               ("500", "the process failed", "exception"), ("503", "the gateway is busy", "exception")),
              request_body="execute")}),
    Route("/jobs", r"/jobs/?", handlers.JobListHandler, {"get": Operation(
        "Jobs", "getJobs", ("processIDQuery", "status", "type", "datetime", "jobLimit", "cursor", "f"),
        (("200", "statusInfo of jobs, newest first", "jobList"),))}),
    Route("/jobs/{jobId}", rf"/jobs/{JOB_ID}", handlers.JobHandler, {
        "get": Operation("Job status", "getStatus", ("jobId",),
                         (("200", "the job's statusInfo", "statusInfo"), ("404", "no such job", "exception"))),
        "delete": Operation("Dismiss a job", "dismiss", ("jobId",),
                            (("200", "the dismissed job's statusInfo", "statusInfo"),
                             ("404", "no such job", "exception")))}),
    Route("/jobs/{jobId}/results", rf"/jobs/{JOB_ID}/results", handlers.ResultsHandler, {"get": Operation(
        "Job results", "getResult", ("jobId",),
        (("200", "the results", "results"), ("404", "no such job, or results not ready", "exception"),
         ("500", "the job failed", "exception")))}),
)


def tornado_rules(routes: tuple[Route, ...], api: Any) -> list[tuple[str, type, dict[str, Any]]]:
    return [(route.pattern, route.handler, {"api": api}) for route in routes]
