"""inout: one input of every kind, each echoed as an output."""
from wpsgate.process import (FORMATS, AllowedValue, BoundingBoxInput, BoundingBoxOutput, ComplexInput,
                             ComplexOutput, LiteralInput, LiteralOutput, Process)

_CRSS = ["EPSG:4326", "EPSG:3035"]


class InOut(Process):
    def __init__(self) -> None:
        inputs = [
            LiteralInput("string", "String", data_type="string", abstract="Enter a simple string.",
                         default="This is just a string", min_occurs=0),
            LiteralInput("int", "Integer", data_type="integer", allowed_values=[1, 2, 3, 5, 7, 11], default=7,
                         min_occurs=0, abstract="Choose an integer number from allowed values."),
            LiteralInput("float", "Float", data_type="float", min_occurs=0, max_occurs=5, default=3.14,
                         abstract="Enter up to five floats between 0 and 100 (their sum is returned).",
                         allowed_values=[AllowedValue(minval=0.0, maxval=100.0)]),
            LiteralInput("boolean", "Boolean", data_type="boolean", default=True, min_occurs=0,
                         abstract="Make your choice :)"),
            LiteralInput("date", "Date", data_type="date", min_occurs=0, default="2012-05-01",
                         abstract="Enter a date like 2012-05-04."),
            LiteralInput("datetime", "Datetime", data_type="dateTime", min_occurs=0,
                         default="2016-09-02T12:00:00Z", abstract="Enter a datetime like 2016-09-02T12:00:00Z."),
            LiteralInput("string_choice", "String Choice", data_type="string", default="scissor", min_occurs=0,
                         allowed_values=["rock", "paper", "scissor"], abstract="Choose one item form list."),
            BoundingBoxInput("bbox", "Bounding Box", crss=_CRSS, min_occurs=0,
                             abstract="Bounding Box with EPSG:4326 and EPSG:3035."),
            ComplexInput("text", "Text", supported_formats=[FORMATS.TEXT], min_occurs=0,
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
        """As Emu's inout: literals echoed (defaults when not given), the floats summed, text copied."""
        for name in ("string", "int", "boolean", "date", "datetime", "string_choice"):
            response.outputs[name].data = request.inputs[name][0].data
        response.outputs["float"].data = sum(item.data for item in request.inputs["float"])
        if "text" in request.inputs:
            response.outputs["text"].data = request.inputs["text"][0].data
        else:
            response.outputs["text"].data = "request didn't have a text file."
        if "bbox" in request.inputs:  # echoed in the client's CRS form
            response.outputs["bbox"].data = request.inputs["bbox"][0]
        else:
            response.outputs["bbox"].data = [0, 0, 10, 10]
        return response
