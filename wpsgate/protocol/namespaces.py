"""XML namespaces and schema locations of WPS 1.0.0 and OWS 1.1."""

WPS = "http://www.opengis.net/wps/1.0.0"
OWS = "http://www.opengis.net/ows/1.1"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = "http://www.w3.org/XML/1998/namespace"
NSMAP = {"wps": WPS, "ows": OWS, "xlink": XLINK, "xsi": XSI}
SCHEMAS = "http://schemas.opengis.net/wps/1.0.0/"
OWS_SCHEMAS = "http://schemas.opengis.net/ows/1.1.0/"


def wps(tag: str) -> str:
    return f"{{{WPS}}}{tag}"


def ows(tag: str) -> str:
    return f"{{{OWS}}}{tag}"


def xlink(tag: str) -> str:
    return f"{{{XLINK}}}{tag}"
