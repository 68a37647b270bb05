"""pytest fixtures for the integration tests; the logic lives in helpers.py."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import OdsServer, bouchon_available, bouchon_bin  # noqa: E402


@pytest.fixture
def ods_server():
    """A stand-in Opendatasoft server (scenario normal, snapshot 0950) on a free port;
    change it at run time with .control(...). Stopped after the test."""
    with OdsServer() as server:
        yield server


@pytest.fixture
def ods_server_factory():
    """Call it with OdsServer options to start servers; all are stopped after the test:
    ods = ods_server_factory(scenario="timeout", delay=3, fail_count=-1)."""
    started = []

    def make(**options):
        server = OdsServer(**options)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def bouchon():
    """Path of the bouchon binary; skips the test when it has not been built."""
    if not bouchon_available():
        pytest.skip(f"bouchon binary not built: {bouchon_bin()}")
    return bouchon_bin()
