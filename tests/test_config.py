"""Configuration (YAML, environment, validation), the command line, and loading processes from dotted paths."""
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

import wpsgate
from wpsgate.config import Config, ConfigError, config_from_mapping, load_config
from wpsgate.demo import DEMO_PROCESSES
from wpsgate.registry import load_processes

from .gateway import NS, literal_outputs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1024 * 1024


def config(data=None, environ=None, **kwargs) -> Config:
    return config_from_mapping(data, environ={} if environ is None else environ, **kwargs)


def config_error(data=None, environ=None) -> str:
    with pytest.raises(ConfigError) as info:
        config(data, environ)
    return str(info.value)


# --- defaults, YAML, environment --------------------------------------------------------------------------


def test_defaults():
    c = config()
    assert c == load_config(None, environ={})
    assert (c.server.bind, c.server.port, c.server.maxrequestsize, c.server.maxsingleinputsize) == \
        ("127.0.0.1", 5000, 3 * MB, 3 * MB)
    assert c.server.base_url == "http://127.0.0.1:5000"
    assert c.processing.mode == "local" and c.processing.workers >= 1
    assert c.metadata.languages == ("en-US",) and c.processes == ()
    assert c.logging.level == "INFO"


def test_yaml_file(tmp_path):
    path = tmp_path / "wpsgate.yml"
    path.write_text(textwrap.dedent("""\
        metadata:
          title: My WPS
          keywords: [a, b]
          languages: [en-US, de-DE]
        server:
          port: 8094
          url: https://wps.example.org/
          maxrequestsize: 5mb
          maxsingleinputsize: 512 KiB
          workdir: work
        processing:
          parallelprocesses: 3
          default_timeout: 60
        processes:
          - wpsgate.demo.hello:Hello
        """))
    c = load_config(str(path), environ={})
    assert c.metadata.title == "My WPS" and c.metadata.keywords == ("a", "b")
    assert c.metadata.languages == ("en-US", "de-DE")
    assert c.server.port == 8094 and c.server.base_url == "https://wps.example.org"
    assert (c.server.maxrequestsize, c.server.maxsingleinputsize) == (5 * MB, 512 * 1024)
    assert c.processing.workers == 3 and c.processing.default_timeout == 60.0
    assert c.processes == ("wpsgate.demo.hello:Hello",)
    assert c.workdir == os.path.abspath("work") and c.spool == os.path.join(os.path.abspath("work"), "spool")


def test_empty_yaml_file_is_the_defaults(tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text("# nothing here\n")
    assert load_config(str(path), environ={}) == config()


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "server: [\n"])
def test_yaml_file_not_a_mapping_or_broken(tmp_path, text):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path), environ={})
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "nope.yml"), environ={})


def test_environment_overrides(tmp_path):
    path = tmp_path / "wpsgate.yml"
    path.write_text("server:\n  port: 8094\n  bind: 0.0.0.0\n")
    environ = {"WPSGATE_SERVER__PORT": "9000", "WPSGATE_SERVER__MAXREQUESTSIZE": "5mb",
               "WPSGATE_PROCESSING__PARALLELPROCESSES": "2", "WPSGATE_SERVER__DEBUG": "true",
               "WPSGATE_METADATA__LANGUAGES": "en-US,de-DE", "OTHER_VAR": "x", "WPSGATE_NOSECTION": "ignored"}
    c = load_config(str(path), environ=environ)
    assert c.server.port == 9000 and c.server.bind == "0.0.0.0"
    assert c.server.maxrequestsize == 5 * MB and c.processing.parallelprocesses == 2 and c.server.debug is True
    assert c.metadata.languages == ("en-US", "de-DE")
    assert c.server.base_url == "http://127.0.0.1:9000"


def test_environment_uses_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("WPSGATE_SERVER__PORT", "8123")
    assert config_from_mapping({}).server.port == 8123


def test_explicit_overrides_win_over_environment():
    c = config({"server": {"port": 1}}, {"WPSGATE_SERVER__PORT": "2"}, overrides={"server": {"port": 3}})
    assert c.server.port == 3


@pytest.mark.parametrize("text", ["0123", "yes", "1.10", "off", "2024-01-01"])
def test_environment_text_values_are_taken_verbatim(text):
    """A text setting given by environment keeps the characters the operator typed (YAML would read 0123
    as the octal number 83, yes as true and 1.10 as 1.1)."""
    c = config(environ={"WPSGATE_METADATA__CONTACT_PHONE": text, "WPSGATE_METADATA__TITLE": text})
    assert (c.metadata.contact_phone, c.metadata.title) == (text, text)


@pytest.mark.parametrize("value,expected", [
    ("5mb", 5 * MB), ("5MB", 5 * MB), ("5 MiB", 5 * MB), ("512k", 512 * 1024), ("512kb", 512 * 1024),
    ("1.5gb", int(1.5 * 1024 ** 3)), ("100", 100), ("100b", 100), (2048, 2048), ("1t", 1024 ** 4),
])
def test_sizes(value, expected):
    assert config({"server": {"maxrequestsize": value}}).server.maxrequestsize == expected


@pytest.mark.parametrize("value", ["5 parsecs", "mb", "-5mb", "", True, "1.2.3mb", "..kb"])
def test_bad_sizes_name_the_key(value):
    assert "server.maxrequestsize" in config_error({"server": {"maxrequestsize": value}})


def test_zero_size_refused():
    assert "server.maxsingleinputsize" in config_error({"server": {"maxsingleinputsize": 0}})


# --- errors name the key ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data,key", [
    ({"server": {"prot": 8080}}, "server.prot"),
    ({"sever": {"port": 8080}}, "sever"),
    ({"processing": {"modus": "local"}}, "processing.modus"),
    ({"metadata": {"titel": "x"}}, "metadata.titel"),
])
def test_unknown_key(data, key):
    message = config_error(data)
    assert message.startswith(key + ":") and "unknown key" in message


def test_unknown_key_from_environment():
    assert config_error(environ={"WPSGATE_SERVER__PROT": "1"}).startswith("server.prot:")


@pytest.mark.parametrize("data,key", [
    ({"server": {"port": "abc"}}, "server.port"),
    ({"server": {"port": 1.5}}, "server.port"),
    ({"server": {"port": True}}, "server.port"),
    ({"server": {"port": 70000}}, "server.port"),
    ({"server": {"debug": "yes please"}}, "server.debug"),
    ({"processing": {"sync_wait": "soon"}}, "processing.sync_wait"),
    ({"processing": {"sync_wait": 0}}, "processing.sync_wait"),
    ({"processing": {"parallelprocesses": -1}}, "processing.parallelprocesses"),
    ({"metadata": {"title": {"a": 1}}}, "metadata.title"),
    ({"metadata": {"keywords": 5}}, "metadata.keywords"),
    ({"metadata": {"languages": []}}, "metadata.languages"),
    ({"logging": {"level": "CHATTY"}}, "logging.level"),
    ({"processes": {"a": 1}}, "processes"),
])
def test_wrong_type_or_value(data, key):
    assert config_error(data).startswith(key), config_error(data)


def test_wrong_type_from_environment():
    assert config_error(environ={"WPSGATE_SERVER__PORT": "abc"}).startswith("server.port:")


@pytest.mark.parametrize("mode", ["pbs", "LOCAL", "", "lsf"])
def test_bad_processing_mode(mode):
    message = config_error({"processing": {"mode": mode}})
    assert message.startswith("processing.mode:") and "local" in message


def test_section_that_is_not_a_mapping():
    message = config_error({"server": 5})
    assert message.startswith("server:"), message


def test_config_is_immutable():
    c = config()
    with pytest.raises(Exception):
        c.server.port = 1  # type: ignore[misc]


# --- command line -----------------------------------------------------------------------------------------


def cli(*args, env=None, timeout=30):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WPSGATE_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "wpsgate", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=environment)


def test_cli_version():
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"wpsgate {wpsgate.__version__}"


def test_cli_without_command_shows_help():
    result = cli()
    assert result.returncode == 2 and "serve" in result.stdout


@pytest.mark.parametrize("content,key", [
    ("server:\n  prot: 8080\n", "server.prot"),
    ("server:\n  port: eighty\n", "server.port"),
    ("processing:\n  mode: pbs\n", "processing.mode"),
    ("server:\n  maxrequestsize: 1.2.3mb\n", "server.maxrequestsize"),
])
def test_cli_bad_config_exits_2_naming_the_key(tmp_path, content, key):
    path = tmp_path / "bad.yml"
    path.write_text(content)
    result = cli("serve", "--config", str(path))
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("wpsgate: configuration error:")


def test_cli_bad_environment_exits_2(tmp_path):
    result = cli("serve", env={"WPSGATE_SERVER__PROT": "1"})
    assert result.returncode == 2 and "server.prot" in result.stderr


def test_cli_missing_config_file(tmp_path):
    result = cli("serve", "--config", str(tmp_path / "missing.yml"))
    assert result.returncode == 2 and "missing.yml" in result.stderr


def test_cli_unknown_process_module(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump({"server": {"workdir": str(tmp_path / "w"), "port": 5999},
                                    "processes": ["no_such_module_here:Process"]}))
    result = cli("serve", "--config", str(path))
    assert result.returncode == 2 and "no_such_module_here" in result.stderr


# --- processes from dotted paths --------------------------------------------------------------------------

MODULE = '''
from wpsgate import LiteralInput, LiteralOutput, Process


class Scale(Process):
    """A process with constructor arguments: built by a factory."""

    def __init__(self, factor, identifier="scale"):
        self.factor = factor
        super().__init__(self._handler, identifier=identifier, title=f"Multiply by {factor}",
                         inputs=[LiteralInput("x", "X", data_type="float")],
                         outputs=[LiteralOutput("y", "Y", data_type="float")])

    def _handler(self, request, response):
        response.outputs["y"].data = request.inputs["x"][0].data * self.factor
        return response


class Plain(Process):
    def __init__(self):
        super().__init__(lambda request, response: response, identifier="plain", title="Plain")


def triple():
    return Scale(3, identifier="triple")


def several():
    return [Scale(10, identifier="ten"), Scale(100, identifier="hundred")]


instance = Scale(2, identifier="double")


class Holder:
    make = staticmethod(lambda: Scale(5, identifier="five"))


def broken():
    raise RuntimeError("no licence server")


NOT_A_PROCESS = "just a string"
'''


@pytest.fixture
def process_module(tmp_path, monkeypatch):
    name = "wpsgate_test_procs_" + os.path.basename(tmp_path).replace("-", "_")
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_load_processes_defaults_to_demos():
    processes = load_processes(None)
    assert list(processes) == ["hello", "ultimate_question", "sleep", "nap", "wordcounter", "inout", "bbox",
                               "binaryoperatorfornumbers", "show_error"]
    assert len(DEMO_PROCESSES) == 9 and load_processes([]).keys() == processes.keys()


def test_load_processes_every_form(process_module):
    m = process_module
    processes = load_processes([f"{m}:Plain", f"{m}.triple", f"{m}:several", f"{m}:instance", f"{m}:Holder.make",
                                "wpsgate.demo.hello.Hello"])
    assert list(processes) == ["plain", "triple", "ten", "hundred", "double", "five", "hello"]
    assert processes["triple"].factor == 3 and processes["five"].factor == 5
    assert processes["hello"].title == "Say Hello"


@pytest.mark.parametrize("path,fragment", [
    ("{m}:Scale", "failed to build"),               # a class that needs arguments
    ("{m}:broken", "no licence server"),
    ("{m}:NOT_A_PROCESS", "is not a Process"),
    ("{m}:Missing", "has no attribute"),
    ("no_such_module_xyz:Thing", "cannot import"),
    ("justaname", "not a dotted path"),
    ("{m}:", "not a dotted path"),
])
def test_load_processes_errors(process_module, path, fragment):
    path = path.format(m=process_module)
    with pytest.raises(ConfigError) as info:
        load_processes([path])
    message = str(info.value)
    assert message.startswith("processes:") and fragment in message
    assert path.split(":")[0] in message


def test_load_processes_duplicate_identifier(process_module):
    with pytest.raises(ConfigError, match="'double' is defined twice"):
        load_processes([f"{process_module}:instance", f"{process_module}:instance"])


def test_gateway_serves_processes_from_a_module(tmp_path, monkeypatch, fresh_gateway, process_module):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    gateway = fresh_gateway({"processes": [f"{process_module}:triple", f"{process_module}:Plain",
                                           "wpsgate.demo.hello:Hello"]})
    from lxml import etree

    capabilities = etree.fromstring(gateway.get(service="WPS", request="GetCapabilities").content)
    assert [e.text for e in capabilities.iterfind("wps:ProcessOffer" "ings/wps:Process/ows:Identifier", NS)] == \
        ["triple", "plain", "hello"]
    response = gateway.execute("triple", "x=1.5")
    assert response.status_code == 200, response.text
    assert literal_outputs(etree.fromstring(response.content)) == {"y": "4.5"}
    assert gateway.execute("hello", "name=A", RawDataOutput="output").text == "Hello A"
