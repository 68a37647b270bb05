"""Fixtures of the streaming tests: ONE real 3-broker cluster for the module, the inputs
and the reference warehouse (a direct `bouchon replay` of the same inputs)."""

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_helpers import (SNAPSHOTS, Cluster, bouchon_bin, make_synthetic_slice,  # noqa: E402
                           run)


@pytest.fixture(scope="module")
def bouchon():
    path = bouchon_bin()
    if not path.is_file():
        pytest.fail(f"bouchon binary not built: {path}")
    return path


@pytest.fixture(scope="module")
def cluster(bouchon):
    """The repository's 3-node KRaft cluster in a private state dir; stopped and
    deleted at the end of the module (also when a test fails)."""
    c = Cluster()
    try:
        c.start()
    except Exception:
        c.clean()
        shutil.rmtree(c.data, ignore_errors=True)
        raise
    yield c
    c.clean()
    shutil.rmtree(c.data, ignore_errors=True)


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="bouchon-stream-test-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def inputs(workdir):
    """The two real snapshots and a 90-minute synthetic slice (07:45-09:14, the
    morning peak) of bench/gen_synthetic_day.py."""
    syn = workdir / "synthetic"
    syn.mkdir()
    make_synthetic_slice(syn, first="0745", minutes=90)
    real = [SNAPSHOTS / "ci_trafi_l_2025-12-18T0950.csv", SNAPSHOTS / "ci_trafi_l_2025-12-18T1000.csv"]
    for f in real:
        assert f.exists(), f
    return [*real, syn]


@pytest.fixture(scope="module")
def reference(workdir, inputs, bouchon):
    """What a direct `bouchon replay` of the same inputs stores."""
    db = workdir / "reference.db"
    r = run("-q", "replay", "--db", db, *inputs, timeout=300)
    assert r.returncode == 0, r.stderr
    return db
