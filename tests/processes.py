"""Processes that misbehave on purpose, for the job engine's tests."""
import os
import time

from wpsgate import LiteralInput, LiteralOutput, Process
from wpsgate.demo import DEMO_PROCESSES


def _crash(request, response):
    response.update_status("about to crash", 10)
    time.sleep(0.2)
    os._exit(3)


def _spin(request, response):
    response.update_status("spinning", 5)
    while True:
        time.sleep(0.05)


def _hog(request, response):
    response.update_status("allocating", 10)
    chunks = []
    for _ in range(40):  # up to 4 GB, 100 MB at a time, slowly enough for a sampling memory limit
        chunks.append(b"\x01" * (100 * 1024 * 1024))
        time.sleep(0.1)
    response.outputs["output"].data = f"allocated {len(chunks) * 100} MB"


def hog() -> Process:
    return Process(_hog, "hog", "Use a lot of memory", store_supported=True, status_supported=True,
                   outputs=[LiteralOutput("output", "how much", data_type="string")])


def _chatty(request, response):
    print("to stdout from the handler", flush=True)
    os.system("echo to stderr from a child process >&2")
    raise RuntimeError("chatty failed on purpose")


def chatty() -> Process:
    return Process(_chatty, "chatty", "Print and fail", store_supported=True, status_supported=True,
                   outputs=[LiteralOutput("output", "never", data_type="string")])


def _tally(request, response):
    """Append the job's uuid to a file: a job that runs twice shows up twice."""
    with open(request.inputs["path"][0].data, "a") as handle:
        handle.write(request.uuid + "\n")
    time.sleep(float(request.inputs["delay"][0].data))
    response.outputs["output"].data = request.uuid


def tally() -> Process:
    return Process(_tally, "tally", "Count runs", store_supported=True, status_supported=True,
                   inputs=[LiteralInput("path", "file to append to", data_type="string"),
                           LiteralInput("delay", "seconds", data_type="float", default=0.05, min_occurs=0)],
                   outputs=[LiteralOutput("output", "the job's uuid", data_type="string")])


def _sigkill(request, response):
    response.update_status("about to be killed", 10)
    os.kill(os.getpid(), 9)


def sigkill() -> Process:
    return Process(_sigkill, "sigkill", "Die by SIGKILL", store_supported=True, status_supported=True,
                   outputs=[LiteralOutput("output", "never", data_type="string")])


def crash() -> Process:
    return Process(_crash, "crash", "Crash the worker", store_supported=True, status_supported=True,
                   outputs=[LiteralOutput("output", "never", data_type="string")])


def spin() -> Process:
    return Process(_spin, "spin", "Run until killed", store_supported=True, status_supported=True,
                   inputs=[LiteralInput("label", "label", data_type="string", min_occurs=0)],
                   outputs=[LiteralOutput("output", "never", data_type="string")])


def _environ(request, response):
    """Return the job's whole environment, as process code sees it."""
    import json

    response.outputs["output"].data = json.dumps(dict(os.environ))


def environ() -> Process:
    return Process(_environ, "environ", "Show the job's environment", store_supported=True, status_supported=True,
                   outputs=[LiteralOutput("output", "the environment as JSON", data_type="string")])


ALL = [*DEMO_PROCESSES, "tests.processes:crash", "tests.processes:spin", "tests.processes:hog",
       "tests.processes:tally", "tests.processes:sigkill", "tests.processes:chatty", "tests.processes:environ"]
