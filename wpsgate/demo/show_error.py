"""show_error: always fails, to show how failures are reported."""
from wpsgate.process import LiteralInput, LiteralOutput, Process, ProcessError


class ShowError(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="show_error", title="Show a WPS Error", version="1.0",
            abstract="This process will fail intentionally with a WPS error message.", keywords=["error"],
            inputs=[
                LiteralInput("message", "Error Message", data_type="string", default="This process failed intentionally.",
                             min_occurs=0),
                LiteralInput("nice", "Nice Error", data_type="boolean", default=False, min_occurs=0,
                             abstract="Raise a nice error message (ProcessError) instead of a crash."),
            ],
            outputs=[LiteralOutput("output", "Output response", data_type="string")],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        message = request.inputs["message"][0].data
        if request.inputs["nice"][0].data:
            raise ProcessError(message)
        raise Exception(message)
