"""ultimate_question: a short job (about 0.4 s) that reports progress in four steps."""
import time

from wpsgate.process import LiteralOutput, Process


class UltimateQuestion(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="ultimate_question", title="Answer to the ultimate question",
            abstract="This process gives the answer to the ultimate question of life, the universe, and everything.",
            version="2.0", keywords=["life", "universe", "everything"],
            outputs=[LiteralOutput("answer", "Answer to Ultimate Question", data_type="string")],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        for step, message in enumerate(("Thinking ...", "Still thinking ...", "Almost done ...", "Done")):
            response.update_status(message, step * 25)
            time.sleep(0.1)
        response.outputs["answer"].data = "42"
        return response
