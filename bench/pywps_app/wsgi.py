"""The WSGI application gunicorn serves: PyWPS's Service at /wps, its status documents and outputs at /outputs/.

PyWPS writes status documents and outputs into ``server.outputpath`` and puts
``server.outputurl`` in its answers; a deployment serves that folder with some web
server. Here the same gunicorn workers serve it (a plain file read), as wpsgate serves
its own ``/status/<uuid>.xml``. The configuration file is named by $BENCH_PYWPS_CFG.
"""
import configparser
import os

from pywps import Service

from .processes import processes

CONFIG = os.environ["BENCH_PYWPS_CFG"]
_parser = configparser.ConfigParser(interpolation=None)
_parser.read(CONFIG)
OUTPUTS = os.path.realpath(_parser.get("server", "outputpath"))
service = Service(processes=processes(), cfgfiles=[CONFIG])

_TYPES = {".xml": "text/xml; charset=utf-8", ".json": "application/json", ".txt": "text/plain"}


def _not_found(start_response):
    body = b"not found"
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _output(path_info, start_response):
    name = path_info[len("/outputs/"):]
    real = os.path.realpath(os.path.join(OUTPUTS, name))
    if not real.startswith(OUTPUTS + os.sep) or not os.path.isfile(real):
        return _not_found(start_response)
    with open(real, "rb") as handle:
        body = handle.read()
    content_type = _TYPES.get(os.path.splitext(real)[1], "application/octet-stream")
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                              ("Cache-Control", "no-cache")])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/outputs/"):
        return _output(path, start_response)
    if path.rstrip("/") == "/wps":
        return service(environ, start_response)
    return _not_found(start_response)
