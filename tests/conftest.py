import pytest

from .gateway import GatewayProcess


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    """One gateway with the demo processes for the tests that do not restart it."""
    process = GatewayProcess(str(tmp_path_factory.mktemp("gateway")),
                             {"processing": {"cleanup_interval": 1.0}}).start()
    yield process
    process.stop()


@pytest.fixture
def fresh_gateway(tmp_path):
    """A gateway of the test's own, for tests that configure, restart or kill it."""
    started = []

    def start(config=None, workdir=None, port=None, env=None):
        process = GatewayProcess(workdir or str(tmp_path / f"gw{len(started)}"), config, port, env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
