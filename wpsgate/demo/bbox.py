"""bbox: a bounding box in, the same bounding box out."""
from wpsgate.process import BoundingBoxInput, BoundingBoxOutput, Process


class Box(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="bbox", title="Bounding box in- and out", version="0.2",
            abstract="Give bounding box, return the same.", keywords=["bbox"],
            inputs=[BoundingBoxInput("bbox", "Bounding Box", crss=["EPSG:4326", "EPSG:3035"], min_occurs=0)],
            outputs=[BoundingBoxOutput("bbox", "Bounding Box", crss=["EPSG:4326", "EPSG:3035"])],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        if "bbox" in request.inputs:
            response.outputs["bbox"].data = request.inputs["bbox"][0]
        else:
            response.outputs["bbox"].data = [-180.0, -90.0, 180.0, 90.0]
            response.outputs["bbox"].crs = "EPSG:4326"
        return response
