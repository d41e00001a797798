"""The process API: what a process author imports (the names PyWPS authors know)."""
from .errors import ProcessError
from .formats import FORMATS, Format
from .io import (BoundingBox, BoundingBoxInput, BoundingBoxOutput, ComplexInput, ComplexOutput, InputData,
                 LiteralInput, LiteralOutput, Metadata, OutputData, UOM)
from .literals import AllowedValue, AnyValue, ValuesReference
from .process import Process, Resources, WPSRequest, WPSResponse
from .validation import MODE

__all__ = [
    "AllowedValue", "AnyValue", "BoundingBox", "BoundingBoxInput", "BoundingBoxOutput", "ComplexInput",
    "ComplexOutput", "FORMATS", "Format", "InputData", "LiteralInput", "LiteralOutput", "MODE", "Metadata",
    "OutputData", "Process", "ProcessError", "Resources", "UOM", "ValuesReference", "WPSRequest", "WPSResponse",
]
