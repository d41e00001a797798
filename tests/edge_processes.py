"""A process whose output is a page with a script, in every type a browser would run, for tests/test_http_edge.py."""
from wpsgate import LiteralInput, LiteralOutput, Process
from wpsgate.demo import DEMO_PROCESSES
from wpsgate.process import FORMATS, ComplexOutput, Format

# Well-formed XML, so that every format's validation accepts it; the script is what must never run.
PAGE = ('<html xmlns="http://www.w3.org/1999/xhtml"><body><svg xmlns="http://www.w3.org/2000/svg">'
        '<script>fetch("/status/")</script></svg></body></html>')
ACTIVE_FORMATS = [Format("text/html", ".html"), Format("image/svg+xml", ".svg"),
                  Format("application/xhtml+xml", ".xhtml"), FORMATS.XML]


def _page(request, response):
    response.outputs["page"].data = PAGE


def page() -> Process:
    return Process(_page, "page", "Write a page with a script", store_supported=True, status_supported=True,
                   outputs=[ComplexOutput("page", "Page", supported_formats=[*ACTIVE_FORMATS, FORMATS.TEXT])])


def _mark(request, response):
    """Create a file: a job that runs leaves it behind."""
    with open(request.inputs["path"][0].data, "a") as handle:
        handle.write("ran\n")
    response.outputs["output"].data = "ran"


def mark() -> Process:
    return Process(_mark, "mark", "Leave a mark", store_supported=True, status_supported=True,
                   inputs=[LiteralInput("path", "file to create", data_type="string")],
                   outputs=[LiteralOutput("output", "ran", data_type="string")])


ALL = [*DEMO_PROCESSES, "tests.edge_processes:page", "tests.edge_processes:mark"]
