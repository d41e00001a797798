"""The same demo processes as wpsgate/demo/, written with PyWPS's own API.

Identifiers, inputs, outputs and handler work match wpsgate's demo processes
(which follow birdhouse Emu), so both servers describe and run the same thing.
"""
import json
import re
import time
from collections import Counter

from pywps import (FORMATS, BoundingBoxInput, BoundingBoxOutput, ComplexInput, ComplexOutput, LiteralInput,
                   LiteralOutput, Process)
from pywps.app.exceptions import ProcessError
from pywps.inout.literaltypes import AllowedValue
from pywps.validator.allowed_value import ALLOWEDVALUETYPE
from pywps.validator.mode import MODE

_CRSS = ["EPSG:4326", "EPSG:3035"]
_WORD = re.compile(r"\w+", re.UNICODE)


class Hello(Process):
    def __init__(self):
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


class UltimateQuestion(Process):
    def __init__(self):
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


class Sleep(Process):
    def __init__(self):
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


class Nap(Process):
    def __init__(self):
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


class WordCounter(Process):
    def __init__(self):
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
        counts = Counter()
        with request.inputs["text"][0].stream as stream:
            for line in stream:
                if isinstance(line, bytes):
                    line = line.decode("utf-8", "replace")
                counts.update(word.lower() for word in _WORD.findall(line))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        response.outputs["output"].data = json.dumps([[count, word] for word, count in ranked])
        return response


class InOut(Process):
    def __init__(self):
        inputs = [
            LiteralInput("string", "String", data_type="string", abstract="Enter a simple string."),
            LiteralInput("int", "Integer", data_type="integer", allowed_values=[1, 2, 3, 5, 7, 11], default=7,
                         min_occurs=0, abstract="Choose an integer number from allowed values."),
            LiteralInput("float", "Float", data_type="float", min_occurs=0, max_occurs=5,
                         abstract="Enter up to five floats between 0 and 100.",
                         allowed_values=[AllowedValue(allowed_type=ALLOWEDVALUETYPE.RANGE, minval=0.0,
                                                      maxval=100.0)]),
            LiteralInput("boolean", "Boolean", data_type="boolean", default=False, min_occurs=0,
                         abstract="Make your choice :)"),
            LiteralInput("date", "Date", data_type="date", min_occurs=0, default="2017-05-11",
                         abstract="Enter a date like 2012-05-04."),
            LiteralInput("datetime", "Datetime", data_type="dateTime", min_occurs=0,
                         default="2017-09-10T16:15:00Z", abstract="Enter a datetime like 2016-09-02T12:00:00Z."),
            LiteralInput("string_choice", "String Choice", data_type="string", default="scissor", min_occurs=0,
                         allowed_values=["rock", "paper", "scissor"], abstract="Choose one item form list."),
            BoundingBoxInput("bbox", "Bounding Box", crss=_CRSS, min_occurs=0,
                             abstract="Bounding Box with EPSG:4326 and EPSG:3035."),
            ComplexInput("text", "Text", supported_formats=[FORMATS.TEXT], min_occurs=0, mode=MODE.NONE,
                         abstract="Enter a URL pointing to a text document (optional)."),
        ]
        outputs = [
            LiteralOutput("string", "String", data_type="string"),
            LiteralOutput("int", "Integer", data_type="integer"),
            LiteralOutput("float", "Float", data_type="float"),
            LiteralOutput("boolean", "Boolean", data_type="boolean"),
            LiteralOutput("date", "Date", data_type="date"),
            LiteralOutput("datetime", "DateTime", data_type="dateTime"),
            LiteralOutput("string_choice", "String Choice", data_type="string"),
            BoundingBoxOutput("bbox", "Bounding Box", crss=_CRSS),
            ComplexOutput("text", "Text", supported_formats=[FORMATS.TEXT]),
        ]
        super().__init__(self._handler, identifier="inout", title="In and Out", version="1.0",
                         abstract="Testing all WPS input and output parameters.", keywords=["kinds", "test"],
                         inputs=inputs, outputs=outputs, store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        for name in ("string", "int", "float", "boolean", "date", "datetime", "string_choice", "text"):
            values = request.inputs.get(name)
            if values:
                response.outputs[name].data = values[0].data
        if request.inputs.get("bbox"):
            response.outputs["bbox"].data = request.inputs["bbox"][0].data
        return response


class Box(Process):
    def __init__(self):
        super().__init__(
            self._handler, identifier="bbox", title="Bounding box in- and out", version="0.2",
            abstract="Give bounding box, return the same.", keywords=["bbox"],
            inputs=[BoundingBoxInput("bbox", "Bounding Box", crss=_CRSS, min_occurs=0)],
            outputs=[BoundingBoxOutput("bbox", "Bounding Box", crss=_CRSS)],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        if request.inputs.get("bbox"):
            response.outputs["bbox"].data = request.inputs["bbox"][0].data
        else:
            response.outputs["bbox"].data = [-180.0, -90.0, 180.0, 90.0]
        return response


_OPERATIONS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
}


class BinaryOperator(Process):
    def __init__(self):
        super().__init__(
            self._handler, identifier="binaryoperatorfornumbers", title="Binary Operator for Numbers",
            abstract="Performs operation on two numbers and returns the answer. This example process is taken "
                     "from Climate4Impact.", version="1.0", keywords=["calculator"],
            inputs=[
                LiteralInput("inputa", "Input 1", data_type="float", default=2.0, min_occurs=0,
                             abstract="Enter Input 1"),
                LiteralInput("inputb", "Input 2", data_type="float", default=3.0, min_occurs=0,
                             abstract="Enter Input 2"),
                LiteralInput("operator", "Operator", data_type="string", default="add", min_occurs=0,
                             allowed_values=list(_OPERATIONS), abstract="Choose a binary Operator"),
            ],
            outputs=[LiteralOutput("output", "Binary operator result", data_type="float")],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        a = request.inputs["inputa"][0].data
        b = request.inputs["inputb"][0].data
        operator = request.inputs["operator"][0].data
        try:
            response.outputs["output"].data = _OPERATIONS[operator](a, b)
        except ZeroDivisionError:
            raise ProcessError("division by zero: inputb must not be 0 for divide") from None
        return response


class ShowError(Process):
    def __init__(self):
        super().__init__(
            self._handler, identifier="show_error", title="Show a WPS Error", version="1.0",
            abstract="This process will fail intentionally with a WPS error message.", keywords=["error"],
            inputs=[
                LiteralInput("message", "Error Message", data_type="string",
                             default="This process failed intentionally.", min_occurs=0),
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


def processes():
    """The nine demo processes, in wpsgate's order."""
    return [Hello(), UltimateQuestion(), Sleep(), Nap(), WordCounter(), InOut(), Box(), BinaryOperator(),
            ShowError()]
