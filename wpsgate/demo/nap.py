"""nap: a short sleep that can only run synchronously (storeSupported=false)."""
import time

from wpsgate.process import LiteralInput, LiteralOutput, Process


class Nap(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="nap", title="Afternoon Nap (supports sync calls only)", version="1.0",
            abstract="This process will have a short nap for a given delay or 1 second. It only supports "
                     "synchronous calls.",
            keywords=["nap", "sync"],
            inputs=[LiteralInput("delay", "Delay", data_type="float", default=1.0, min_occurs=0)],
            outputs=[LiteralOutput("output", "Nap Output", data_type="string")],
            store_supported=False, status_supported=False)

    @staticmethod
    def _handler(request, response):
        delay = request.inputs["delay"][0].data if "delay" in request.inputs else 1.0
        time.sleep(delay)
        response.outputs["output"].data = "done sleeping"
        return response
