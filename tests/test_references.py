"""Inputs by reference: http(s) downloads with the address policy, the gateway's own outputs, file:// paths."""
import http.server
import json
import os
from urllib.parse import quote

import pytest
from lxml import etree

from .gateway import NS, exception_of
from .loopback import loopback_server
from .schemas import assert_valid


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/words.txt":
            body = b"one two two three three three"
        elif self.path == "/big.txt":
            body = b"word " * 2000
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/words.txt")
            self.end_headers()
            return
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    """A loopback HTTP server that is not the gateway: the source of referenced inputs."""
    with loopback_server(_Handler) as server:
        yield server.url


def counts(response):
    assert response.status_code == 200, response.text
    root = assert_valid(response.content)
    failed = root.find("wps:Status/wps:ProcessFailed", NS)
    assert failed is None, response.text
    text = root.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:ComplexData", namespaces=NS)
    return json.loads(text)


def by_reference(href, **attributes):
    extra = "".join(f"@{k}={quote(v, safe='')}" for k, v in attributes.items())
    return f"text=@xlink:href={quote(href, safe='')}{extra}"


def test_loopback_reference_is_denied_by_default(gateway, origin):
    response = gateway.execute("wordcounter", by_reference(origin + "/words.txt"),
                               ResponseDocument="output@asReference=false")
    assert response.status_code == 400
    code, locator, text = exception_of(response)
    assert (code, locator) == ("InvalidParameterValue", "text")
    assert "not allowed" in text


@pytest.fixture
def open_gateway(fresh_gateway, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "words.txt").write_text("alpha beta beta")
    (tmp_path / "data2").mkdir()
    (tmp_path / "data2" / "secret.txt").write_text("secret secret")
    (data / "escape.txt").symlink_to(tmp_path / "data2" / "secret.txt")
    gateway = fresh_gateway({"server": {"allowednetworks": ["127.0.0.0/8"], "maxsingleinputsize": "1kb",
                                        "allowedinputpaths": [str(data)]}})
    gateway.data = data
    return gateway


def test_allowed_loopback_reference_is_downloaded(open_gateway, origin):
    response = open_gateway.execute("wordcounter", by_reference(origin + "/words.txt"),
                                    ResponseDocument="output@asReference=false")
    assert counts(response) == [[3, "three"], [2, "two"], [1, "one"]]


def test_redirect_is_followed_and_checked(open_gateway, origin):
    response = open_gateway.execute("wordcounter", by_reference(origin + "/redirect"),
                                    ResponseDocument="output@asReference=false")
    assert counts(response)[0] == [3, "three"]


def test_reference_over_the_size_limit(open_gateway, origin):
    response = open_gateway.execute("wordcounter", by_reference(origin + "/big.txt"))
    code, locator, _ = exception_of(response)
    assert (response.status_code, code, locator) == (413, "FileSizeExceeded", "text")


def test_reference_that_fails_says_why(open_gateway, origin):
    response = open_gateway.execute("wordcounter", by_reference(origin + "/missing.txt"))
    code, locator, text = exception_of(response)
    assert (response.status_code, code, locator) == (400, "InvalidParameterValue", "text")
    assert "404" in text


def test_post_reference_with_body(open_gateway, origin):
    body = f"""<?xml version="1.0"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
  xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink">
 <ows:Identifier>wordcounter</ows:Identifier>
 <wps:DataInputs><wps:Input><ows:Identifier>text</ows:Identifier>
  <wps:Reference xlink:href="{origin}/echo" method="POST" mimeType="text/plain">
   <wps:Header key="X-Test" value="1"/><wps:Body>posted posted words</wps:Body></wps:Reference>
 </wps:Input></wps:DataInputs>
 <wps:ResponseForm><wps:ResponseDocument><wps:Output asReference="false"><ows:Identifier>output</ows:Identifier>
 </wps:Output></wps:ResponseDocument></wps:ResponseForm>
</wps:Execute>"""
    assert counts(open_gateway.post(body)) == [[2, "posted"], [1, "words"]]


def test_post_reference_with_body_reference(open_gateway, origin):
    body = f"""<?xml version="1.0"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
  xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink">
 <ows:Identifier>wordcounter</ows:Identifier>
 <wps:DataInputs><wps:Input><ows:Identifier>text</ows:Identifier>
  <wps:Reference xlink:href="{origin}/echo" method="POST" mimeType="text/plain">
   <wps:BodyReference xlink:href="{origin}/words.txt"/></wps:Reference>
 </wps:Input></wps:DataInputs>
 <wps:ResponseForm><wps:ResponseDocument><wps:Output asReference="false"><ows:Identifier>output</ows:Identifier>
 </wps:Output></wps:ResponseDocument></wps:ResponseForm>
</wps:Execute>"""
    # the echo server answers with the body it was sent: the body fetched from the BodyReference
    assert counts(open_gateway.post(body)) == [[3, "three"], [2, "two"], [1, "one"]]


def test_own_output_feeds_the_next_job_under_the_default_policy(gateway):
    first = etree.fromstring(gateway.execute("hello", "name=chained words",
                                             ResponseDocument="output@asReference=true").content)
    href = first.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")
    response = gateway.execute("wordcounter", by_reference(href, mimeType="text/plain"),
                               ResponseDocument="output@asReference=false")
    assert counts(response) == [[1, "words"], [1, "chained"], [1, "Hello"]]  # case kept, ties in reverse order


def test_file_reference_inside_allowed_paths(open_gateway):
    response = open_gateway.execute("wordcounter", by_reference("file://" + str(open_gateway.data / "words.txt")),
                                    ResponseDocument="output@asReference=false")
    assert counts(response) == [[2, "beta"], [1, "alpha"]]


@pytest.mark.parametrize("relative", ["../data2/secret.txt", "escape.txt", "../data2", "/etc/passwd"])
def test_file_reference_outside_allowed_paths_is_refused(open_gateway, relative):
    path = relative if relative.startswith("/") else os.path.join(str(open_gateway.data), relative)
    response = open_gateway.execute("wordcounter", by_reference("file://" + path))
    code, locator, text = exception_of(response)
    assert (response.status_code, code, locator) == (400, "InvalidParameterValue", "text")
    assert "secret secret" not in response.text and "root:" not in response.text


def test_file_reference_prefix_trick(fresh_gateway, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data2").mkdir()
    (tmp_path / "data2" / "x.txt").write_text("hidden")
    gateway = fresh_gateway({"server": {"allowedinputpaths": [str(tmp_path / "data")]}})
    response = gateway.execute("wordcounter", by_reference("file://" + str(tmp_path / "data2" / "x.txt")))
    assert exception_of(response)[:2] == ("InvalidParameterValue", "text")


def test_unsupported_scheme(gateway):
    response = gateway.execute("wordcounter", by_reference("ftp://example.invalid/x.txt"))
    code, locator, text = exception_of(response)
    assert (code, locator) == ("InvalidParameterValue", "text") and "ftp" in text
