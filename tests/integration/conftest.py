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
    """Path of the bouchon binary; the test fails when it has not been built
    (a missing binary is a broken build, never a reason to skip)."""
    if not bouchon_available():
        pytest.fail(f"bouchon binary not built: {bouchon_bin()}")
    return bouchon_bin()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test, left out of the sanitized run")


@pytest.fixture
def real_snapshots():
    """The two real ci_trafi_l snapshots bundled in data/bordeaux (09:50, 10:00)."""
    root = Path(__file__).resolve().parents[2] / "data" / "bordeaux"
    files = [root / "ci_trafi_l_2025-12-18T0950.csv", root / "ci_trafi_l_2025-12-18T1000.csv"]
    for f in files:
        if not f.exists():
            pytest.fail(f"missing bundled snapshot {f}")
    return files


@pytest.fixture
def warehouse(tmp_path, bouchon, real_snapshots):
    """A warehouse built by replaying the two real snapshots."""
    from helpers import run_bouchon

    db = tmp_path / "w.db"
    r = run_bouchon("replay", "--db", str(db), *map(str, real_snapshots))
    assert r.returncode == 0, r.stderr
    return db
