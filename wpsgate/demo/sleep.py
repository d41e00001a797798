"""sleep: a long job in five steps, for watching progress."""
import time

from wpsgate.process import LiteralInput, LiteralOutput, Process


class Sleep(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="sleep", title="Sleep Process", version="1.0",
            abstract="Testing a long running process, in the sleep. This process will sleep for a given delay "
                     "or 2 seconds per step (five steps).",
            keywords=["sleep", "long running"],
            inputs=[LiteralInput("delay", "Delay between every update", data_type="float", default=2.0,
                                 min_occurs=0)],
            outputs=[LiteralOutput("sleep_output", "Sleep Output", data_type="string")],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        delay = request.inputs["delay"][0].data if "delay" in request.inputs else 2.0
        for percent in (0, 20, 40, 60, 80):
            response.update_status(f"PyWPS Process started. Waiting... ({percent}%)", percent)
            time.sleep(delay)
        response.outputs["sleep_output"].data = "done sleeping"
        return response
