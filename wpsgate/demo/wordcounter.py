"""wordcounter: a complex text input, a JSON output by reference."""
import json
import re
from collections import Counter

from wpsgate.process import FORMATS, ComplexInput, ComplexOutput, Process

_WORD = re.compile(r"\w+", re.UNICODE)


class WordCounter(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="wordcounter", title="Word Counter", version="1.0",
            abstract="Counts words in a given text.", keywords=["text", "count"],
            inputs=[ComplexInput("text", "Text document", abstract="A text document to count its words.",
                                 supported_formats=[FORMATS.TEXT])],
            outputs=[ComplexOutput("output", "Word counter result", as_reference=True,
                                   supported_formats=[FORMATS.JSON])],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        """As Emu's wordcounter: words keep their case; most frequent first, ties in reverse word order."""
        counts = Counter()
        with request.inputs["text"][0].stream as stream:
            for line in stream:
                counts.update(_WORD.findall(line))
        response.outputs["output"].data = json.dumps(sorted(((count, word) for word, count in counts.items()),
                                                            reverse=True))
        return response
