"""hello: the smallest useful process."""
from wpsgate.process import LiteralInput, LiteralOutput, Process


class Hello(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="hello", title="Say Hello", version="1.5",
            abstract="Just says a friendly Hello. Returns a literal string output with Hello plus the inputed name.",
            keywords=["hello", "demo"],
            inputs=[LiteralInput("name", "Your name", abstract="Please enter your name.", data_type="string")],
            outputs=[LiteralOutput("output", "Output response", abstract="A friendly Hello from us.",
                                   data_type="string")],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        response.update_status("Hello started", 0)
        response.outputs["output"].data = "Hello " + request.inputs["name"][0].data
        return response
