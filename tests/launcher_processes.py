"""Processes for the joblauncher tests: importable as ``tests.launcher_processes`` on a "node"."""
import os

from wpsgate.process import LiteralInput, LiteralOutput, Process


class Greeter(Process):
    """A process built with constructor arguments: the job must carry its state, not just its class."""

    def __init__(self, greeting: str, punctuation: str = "!") -> None:
        self.greeting = greeting
        self.punctuation = punctuation
        super().__init__(
            self._handler, identifier="greeter", title="Greeter", version="2.0",
            inputs=[LiteralInput("name", "Name", data_type="string")],
            outputs=[LiteralOutput("output", "Greeting", data_type="string")],
            store_supported=True, status_supported=True)

    def _handler(self, request, response):
        name = request.inputs["name"][0].data
        response.outputs["output"].data = f"{self.greeting} {name}{self.punctuation}"
        return response


def _touch(request, response):
    """Creates the file named by input ``path``: a job that must not run leaves no such file."""
    path = request.inputs["path"][0].data
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"ran in {os.getcwd()}\n")
    response.outputs["output"].data = "touched " + path
    return response


def touch() -> Process:
    return Process(_touch, "touch", "Create a marker file", store_supported=True, status_supported=True,
                   inputs=[LiteralInput("path", "Marker file", data_type="string")],
                   outputs=[LiteralOutput("output", "What was done", data_type="string")])


def _where(request, response):
    """Reports the working folder the handler ran in."""
    response.outputs["output"].data = os.getcwd()
    return response


def where() -> Process:
    return Process(_where, "where", "Where do I run", store_supported=True, status_supported=True,
                   outputs=[LiteralOutput("output", "The working folder", data_type="string")])
