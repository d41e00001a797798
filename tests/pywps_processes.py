"""PyWPS processes for the adapter tests, written exactly as a PyWPS author writes them (nothing of wpsgate)."""
import json
import os

from pywps import (FORMATS, BoundingBoxInput, BoundingBoxOutput, ComplexInput, ComplexOutput, LiteralInput,
                   LiteralOutput, Process, UOM)
from pywps.app.Common import Metadata
from pywps.app.exceptions import ProcessError
from pywps.inout.literaltypes import AllowedValue
from pywps.inout.outputs import MetaFile, MetaLink4
from pywps.validator.allowed_value import ALLOWEDVALUETYPE


class Kinds(Process):
    """One input and output of every kind; the handler reports what PyWPS's objects gave it."""

    def __init__(self):
        inputs = [
            LiteralInput("string", "String", data_type="string", default="a default"),
            LiteralInput("int", "Integer", data_type="integer", allowed_values=[1, 2, 3], default=2),
            LiteralInput("float", "Float", data_type="float", min_occurs=0, max_occurs=3, uoms=[UOM("metre")],
                         allowed_values=[AllowedValue(ALLOWEDVALUETYPE.RANGE, minval=0, maxval=10)]),
            LiteralInput("uri", "Link", data_type="anyURI", min_occurs=0),
            LiteralInput("when", "Date", data_type="date", min_occurs=0),
            LiteralInput("angle", "Angle", data_type="angle", min_occurs=0),
            ComplexInput("text", "Text", supported_formats=[FORMATS.TEXT], min_occurs=0),
            ComplexInput("doc", "JSON document", supported_formats=[FORMATS.JSON], min_occurs=0),
            BoundingBoxInput("bbox", "Area", crss=["epsg:4326", "epsg:3035"], min_occurs=0),
        ]
        outputs = [
            LiteralOutput("report", "What the handler saw", data_type="string"),
            LiteralOutput("length", "A length", data_type="float", uoms=[UOM("metre"), UOM("feet")]),
            ComplexOutput("copy", "Copy of the text", supported_formats=[FORMATS.TEXT]),
            ComplexOutput("json", "JSON", supported_formats=[FORMATS.JSON, FORMATS.TEXT], as_reference=True),
            ComplexOutput("files", "MetaLink", supported_formats=[FORMATS.META4]),
            BoundingBoxOutput("bbox", "Area", crss=["epsg:4326"]),
        ]
        super().__init__(self._handler, identifier="pywps_kinds", title="Every kind", abstract="Kinds of IO.",
                         keywords=["test"], version="2.0", inputs=inputs, outputs=outputs,
                         metadata=[Metadata("Docs", "https://example.org/docs")],
                         store_supported=True, status_supported=True)

    def _handler(self, request, response):
        response.update_status("reading", 10)                       # positional
        response.update_status(message="still reading", status_percentage=20)   # keywords
        seen = {"string": request.inputs["string"][0].data, "int": request.inputs["int"][0].data,
                "language": request.language, "workdir_is_cwd": self.workdir == os.getcwd()}
        if "float" in request.inputs:
            seen["floats"] = [f.data for f in request.inputs["float"]]
            seen["uom"] = request.inputs["float"][0].uom
        if "uri" in request.inputs:
            seen["uri"] = request.inputs["uri"][0].data.netloc   # PyWPS parses anyURI
        if "when" in request.inputs:
            seen["when"] = request.inputs["when"][0].data.isoformat()
        if "angle" in request.inputs:
            seen["angle"] = request.inputs["angle"][0].data
        if "text" in request.inputs:
            text = request.inputs["text"][0]
            seen["text_data"] = text.data
            seen["text_stream_is_binary"] = isinstance(text.stream.read(), bytes)
            seen["text_url"] = text.url
            seen["text_file_exists"] = os.path.isfile(text.file)
            seen["text_mime"] = text.data_format.mime_type
            response.outputs["copy"].file = text.file
        if "doc" in request.inputs:
            seen["doc"] = json.loads(request.inputs["doc"][0].data)
        if "bbox" in request.inputs:
            box = request.inputs["bbox"][0]
            seen["bbox"] = [box.data, box.crs]
            response.outputs["bbox"].data = box.data
            response.outputs["bbox"].crs = box.crs
        seen["json_format"] = response.outputs["json"].data_format.mime_type
        response.outputs["report"].data = json.dumps(seen, sort_keys=True)
        response.outputs["length"].data = 1.5
        response.outputs["length"].uom = UOM("feet")
        response.outputs["json"].data = json.dumps({"ok": True})
        metalink = MetaLink4("files", "Two files", workdir=self.workdir)
        for number in range(2):
            member = MetaFile(f"member_{number}", "A member", fmt=FORMATS.TEXT)
            member.data = f"member {number}"
            metalink.append(member)
        response.outputs["files"].data = metalink.xml
        response.update_status("done", 90)
        return response


class Fails(Process):
    def __init__(self):
        super().__init__(self._handler, identifier="pywps_fails", title="Fails",
                         inputs=[LiteralInput("nice", "Nice", data_type="boolean")],
                         outputs=[LiteralOutput("output", "Never", data_type="string")],
                         store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        if request.inputs["nice"][0].data:
            raise ProcessError("the river is frozen")
        raise KeyError("/secret/path/on/the/node")


class Translated(Process):
    def __init__(self):
        super().__init__(
            self._handler, identifier="pywps_translated", title="Translated process", abstract="In English.",
            inputs=[LiteralInput("n", "A number", data_type="integer",
                                 translations={"fr-CA": {"title": "Un nombre"}})],
            outputs=[LiteralOutput("out", "Output #1", abstract="One more.", data_type="integer",
                                   translations={"fr-CA": {"title": "Sortie #1", "abstract": "Un de plus."}})],
            translations={"fr-CA": {"title": "Processus traduit", "abstract": "En français."},
                          "de-DE": {"title": "Übersetzter Prozess"}})

    @staticmethod
    def _handler(request, response):
        response.outputs["out"].data = request.inputs["n"][0].data + 1
        return response


def every():
    """A factory, as a configuration may name one."""
    return [Kinds(), Fails(), Translated()]
