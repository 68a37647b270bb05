"""`bouchon serve`, history routes (docs/API.md "History") on small warehouses: a replay-only
warehouse answers empty lists, parameters are checked before the warehouse is read, and a
server started before `bouchon import` never serves a body older than the warehouse.

The cache test imports, one kind after the other, real files or parts of them (the first
rows of the gzip score file) while the server runs, and compares every history body the
server answers with the bodies of a server started afterwards. The segment-history steps stop
an import between two of its batch transactions (SIGSTOP) and kill and resume another: commits that add no raw_source row, which the earlier fingerprint (newest
payload id, newest snapshot) did not see.
"""

import gzip
import json
import signal
import sqlite3
import subprocess
import time

import pytest

from helpers import REPO_ROOT, bouchon_available, bouchon_bin, shared_file
from test_api_history import HISTORY_ROUTES, Served, must, plus_1s, section


def replay_only(db):
    must("replay", "--db", db, REPO_ROOT / "data" / "bordeaux", "-q")
    return db


def bodies(srv):
    """Every history route's body; each asked twice (the second answer may come from the
    cache) and both must agree."""
    out = {}
    for route in HISTORY_ROUTES:
        answers = []
        for _ in range(2):
            code, hdrs, body = srv.request(route)
            assert code == 200, f"GET {route}: {code} {body[:300]!r}"
            assert hdrs["content-type"] == "application/json"
            answers.append(body)
        assert answers[0] == answers[1], route
        out[route] = answers[0]
    return out


def fresh(db):
    """The bodies of a server started now (its cache is empty)."""
    with Served(db) as s:
        return bodies(s)


def count(db, sql, *params):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    if not bouchon_available():
        pytest.fail(f"bouchon binary not built: {bouchon_bin()}")
    return replay_only(tmp_path_factory.mktemp("api_history_empty") / "w.db")


@pytest.fixture(scope="module")
def empty_srv(empty_db):
    with Served(empty_db) as s:
        yield s


def get(srv, path):
    code, hdrs, body = srv.request(path)
    assert code == 200, f"GET {path}: {code} {body[:300]!r}"
    return json.loads(body)


# --------------------------------------------------------------------------------------
# A warehouse without imported history


def test_replay_only_warehouse_answers_empty_lists(empty_srv):
    o = get(empty_srv, "/api/v1/history")
    assert o["history"]["segment_hours"] == 0
    assert o["history"]["first_hour"] is None and o["history"]["last_hour"] is None
    assert o["history"]["minute_segment_hours"] > 0  # the replayed snapshots
    assert (o["first_day"], o["last_day"]) == (None, None)
    assert (o["has_travel_times"], o["has_counts"], o["has_stations"]) == (False, False, False)
    assert o["periods"] == []
    for route, key in [("/api/v1/history/daily", "days"), ("/api/v1/history/profile", "cells"),
                       ("/api/v1/history/trend", "months"),
                       ("/api/v1/history/periods", "periods"),
                       ("/api/v1/corridors", "corridors")]:
        b = get(empty_srv, route)
        assert (b["from"], b["to"], b[key]) == (None, None, []), route
    assert get(empty_srv, "/api/v1/history/profile")["tz"] == "Europe/Paris"
    h = get(empty_srv, "/api/v1/history/hotspots")
    assert h == {"from": None, "to": None, "by_peak_index": [], "by_congested_hours": [],
                 "congested_index": 0.5, "min_known_segment_hours": 24}
    for route in ("/api/v1/corridors.geojson", "/api/v1/stations"):
        assert get(empty_srv, route) == {"type": "FeatureCollection", "features": []}, route


def test_replay_only_warehouse_with_a_range(empty_srv, empty_db):
    # days without data are listed, with null figures, not refused
    d = get(empty_srv, "/api/v1/history/daily?from=2020-01-01&to=2020-01-03")
    assert [x["date"] for x in d["days"]] == ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert all(x["index"] is None and x["known_segment_hours"] == 0 for x in d["days"])
    # a range over the replayed snapshots: their minute rows are the layer there, as in the
    # report
    q = "from=2025-12-18T00:00:00Z&to=2025-12-18T22:59:59Z"
    d = get(empty_srv, "/api/v1/history/daily?" + q)
    (day,) = d["days"]
    assert day["date"] == "2025-12-18" and day["known_segment_hours"] > 0
    assert d["days"] == section(empty_db, "daily", "--from", d["from"], "--to", plus_1s(d["to"]))
    # only one bound on an empty layer: the other one takes its value
    t = get(empty_srv, "/api/v1/history/trend?to=2020-02-01T00:00:00Z")
    assert (t["from"], t["to"]) == ("2020-02-01T00:00:00Z", "2020-02-01T00:00:00Z")
    assert t["months"] == []


def test_schema_1_warehouse_says_why(tmp_path):
    # a warehouse last written by a binary older than `bouchon import` (schema 1) has no
    # history tables: a clear 503, not a failed query (the version is what the server reads)
    db = replay_only(tmp_path / "w.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with Served(db) as s:
        for route in HISTORY_ROUTES:
            code, _, body = s.request(route)
            assert code == 503, (route, body)
            assert "schema 1" in json.loads(body)["error"]["message"]
        code, _, _ = s.request("/api/v1/summary")
        assert code == 200


# --------------------------------------------------------------------------------------
# Parameters


@pytest.mark.parametrize("path,status,words", [
    ("/api/v1/history/daily?from=yesterday", 400, "'from'"),
    ("/api/v1/history/daily?from=2020-13-01", 400, "'from'"),
    ("/api/v1/history/daily?to=2020-03-01T00:00:00", 400, "'to'"),  # no offset
    ("/api/v1/history/daily?from=2021-01-01T00:00:00Z&to=2020-01-01T00:00:00Z", 400,
     "'from' is after 'to'"),
    ("/api/v1/history/trend?from=2018-01-01T00:00:00Z&to=2022-01-01T00:00:00Z", 400,
     "3 years"),
    ("/api/v1/history/profile?foo=1", 400, "unknown parameter 'foo'"),
    ("/api/v1/history/daily?limit=5", 400, "unknown parameter 'limit'"),
    ("/api/v1/history/hotspots?limit=0", 400, "'limit'"),
    ("/api/v1/history/hotspots?limit=1001", 400, "'limit'"),
    ("/api/v1/history/hotspots?by=segment", 400, "unknown parameter 'by'"),
    ("/api/v1/history/periods?at=2020-01-01", 400, "unknown parameter 'at'"),
    ("/api/v1/history?from=2020-01-01", 400, "unknown parameter 'from'"),
    ("/api/v1/stations?to=2020-01-01", 400, "unknown parameter 'to'"),
    ("/api/v1/corridors.geojson?limit=3", 400, "unknown parameter 'limit'"),
    ("/api/v1/corridors?from=2021-01-01&from=2021-02-01", 400, "more than once"),
    ("/api/v1/corridors?to=", 400, "no value"),
    ("/api/v1/history/nope", 404, "no such endpoint"),
    ("/api/v1/history/daily/", 404, "no such endpoint"),
])
def test_bad_requests(empty_srv, path, status, words):
    code, hdrs, body = empty_srv.request(path)
    assert code == status, body
    assert hdrs["content-type"] == "application/json"
    err = json.loads(body)["error"]
    assert err["status"] == status
    assert words in err["message"]


def test_only_get_and_head(empty_srv):
    code, hdrs, _ = empty_srv.request("/api/v1/history/daily", method="POST", body=b"")
    assert code == 405 and hdrs["allow"] == "GET, HEAD"
    code, hdrs, body = empty_srv.request("/api/v1/stations", method="HEAD")
    assert code == 200 and body == b"" and int(hdrs["content-length"]) > 0


# --------------------------------------------------------------------------------------
# The cache follows `bouchon import`


def score_part(path, first, count):
    """Lines first .. first + count - 1 (1-based, after the header) of the gzip score file,
    written as a plain CSV."""
    with gzip.open(shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"), "rt",
                   newline="") as src, open(path, "w", newline="") as out:
        out.write(src.readline())
        for i, line in enumerate(src, 1):
            if i >= first + count:
                break
            if i >= first:
                out.write(line)
    return path


def wait_stopped(p, timeout=10):
    """Waits until the kernel reports p stopped (state T): no more commits from it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{p.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("T", "t", "Z", "X"):
            return
        time.sleep(0.001)
    raise AssertionError(f"process {p.pid} did not stop")


def stopped_partway(db, path, *extra):
    """Starts `import --kind segment-history` of path with --batch-rows 500 and stops it
    (SIGSTOP) between two commits: the file registered, some of its rows stored, not
    completed. Returns the stopped process."""
    before = count(db, "SELECT count(*) FROM hourly_score")
    p = subprocess.Popen([str(bouchon_bin()), "import", "--db", str(db), "--kind",
                          "segment-history", "--batch-rows", "500", "-q", *map(str, extra),
                          str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            p.send_signal(signal.SIGSTOP)
            wait_stopped(p)
            done = count(db, "SELECT max(completed) FROM raw_source WHERE name = ?", str(path))
            if done == 0 and count(db, "SELECT count(*) FROM hourly_score") > before:
                return p
            if done == 1 or p.poll() is not None:
                break
            p.send_signal(signal.SIGCONT)
            time.sleep(0.003)
        raise AssertionError(f"the import ended before it could be stopped partway "
                             f"(rc {p.poll()})")
    except BaseException:
        p.kill()
        p.wait()
        raise


def resume(p):
    p.send_signal(signal.SIGCONT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err.decode(errors="replace")


DAILY, OVERVIEW = "/api/v1/history/daily", "/api/v1/history"
HOURLY = [DAILY, "/api/v1/history/profile", "/api/v1/history/trend",
          "/api/v1/history/hotspots", OVERVIEW]


def changed(a, b):
    return sorted(r for r in HISTORY_ROUTES if a[r] != b[r])


def test_cache_follows_every_import(tmp_path):
    db = replay_only(tmp_path / "w.db")
    # the import commits after each 4 MB region of the file that reaches --batch-rows:
    # 300,000 rows (10 MB) are three regions, two commits before the last one
    part_a = score_part(tmp_path / "scores_a.csv", 1, 300_000)
    part_b = score_part(tmp_path / "scores_b.csv", 300_001, 300_000)
    H = "history/"
    with Served(db) as srv:
        before = bodies(srv)
        assert before == fresh(db)

        # 1. segment-history, seen between two batch transactions, then completed
        sources = count(db, "SELECT count(*) FROM raw_source")
        p = stopped_partway(db, part_a, "--segments",
                            shared_file(H + "ci_trafi_l_segments_2020-03.geojson"))
        try:
            mid = bodies(srv)
            assert mid == fresh(db)
            assert set(HOURLY) <= set(changed(before, mid))
            assert json.loads(mid[DAILY])["days"], "a partial import shows its first rows"
            registered = count(db, "SELECT count(*) FROM raw_source")
        finally:
            resume(p)
        # the completion added no payload row: the old fingerprint saw nothing
        assert count(db, "SELECT count(*) FROM raw_source") == registered > sources
        done = bodies(srv)
        assert done == fresh(db)
        assert DAILY in changed(mid, done)

        # 2. an interrupted import (killed between two batches) and its resumption
        p = stopped_partway(db, part_b)
        try:
            mid = bodies(srv)
            assert DAILY in changed(done, mid)
        finally:
            p.kill()
            p.wait()
        killed = bodies(srv)
        assert killed == mid == fresh(db)
        registered = count(db, "SELECT count(*) FROM raw_source")
        must("import", "--db", db, "--kind", "segment-history", part_b, "-q")
        # resumed in its own raw_source row (no new one)
        assert count(db, "SELECT count(*) FROM raw_source") == registered
        assert count(db, "SELECT completed FROM raw_source WHERE name = ?", str(part_b)) == 1
        resumed = bodies(srv)
        assert resumed == fresh(db)
        assert DAILY in changed(killed, resumed)
        whole = json.loads(resumed[OVERVIEW])["history"]
        assert whole["segment_hours"] == count(db, "SELECT count(*) FROM hourly_score")

        # 3.. the other kinds, one import each
        steps = [
            (["travel-times", "--corridors", shared_file(H + "ci_tpstj_a_corridors.geojson"),
              shared_file("ci_tpstj_a_2025-12-17T1405Z.csv")],
             {OVERVIEW, "/api/v1/corridors", "/api/v1/corridors.geojson"}),
            (["sensors", shared_file("pc_capte_p_2022-03-10T1040.json"), shared_file("pc_capte_ponct_p.json"),
              shared_file(H + "pc_capte_p_hourly_network_total_2020-11_2022-01.csv")],
             {OVERVIEW, "/api/v1/stations"}),
            (["counts", shared_file("comptage-du-trafic-2023.csv"), shared_file("comptage_trafic_2019.json"),
              shared_file("comptage_trafic_2021.json")],
             {OVERVIEW, "/api/v1/stations"}),
            (["works", shared_file("ci_chantier_2024-10-01.csv")], set()),
            (["periods", shared_file(H + "lockdowns_fr.csv")], {OVERVIEW, "/api/v1/history/periods"}),
        ]
        prev = resumed
        for args, expect in steps:
            must("import", "--db", db, "--kind", *args, "-q")
            now = bodies(srv)
            assert now == fresh(db), f"after import --kind {args[0]}"
            assert set(changed(prev, now)) == expect, f"after import --kind {args[0]}"
            prev = now
