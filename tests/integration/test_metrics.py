"""GET /metrics of `bouchon serve`: Prometheus text format 0.0.4 that `promtool check
metrics` accepts, the warehouse gauges (checked against the warehouse read with sqlite3 and
the real snapshot's facts of shared/data/bordeaux/SOURCES.md), and the server's own request
counter and duration histogram, labelled by route template.

The warehouse: a copy of the real 09:50 snapshot with a few records broken on purpose (so
that the rejected-records gauge has series), then the real 10:00 snapshot.
"""

import csv
import json
import re
import shutil
import sqlite3
import subprocess
import time

import pytest

from helpers import bouchon_bin, run_bouchon
from test_api import Serve, open_events, read_events, real_snapshots, wait_until

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
ROUTES = {"/api/v1/network", "/api/v1/summary", "/api/v1/jams", "/api/v1/queues",
          "/api/v1/hotspots", "/api/v1/profile", "/api/v1/timeseries", "/api/v1/health",
          "/api/v1/events", "/api/v1/segments/{gid}/history", "/healthz", "/metrics", "static",
          "unmatched"}


def parse(text):
    """{name: {frozenset(labels.items()): value}}, plus HELP and TYPE per family."""
    samples, helps, types = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            helps[name] = doc
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"not an exposition line: {line!r}"
            labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                      for k, v in LABEL.findall(m.group(2) or "")}
            samples.setdefault(m.group(1), {})[frozenset(labels.items())] = float(m.group(3))
    return samples, helps, types


def value(samples, name, **labels):
    return samples[name][frozenset(labels.items())]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    if not bouchon_bin().is_file():
        pytest.fail(f"bouchon binary not built: {bouchon_bin()}")
    d = tmp_path_factory.mktemp("metrics")
    src0950, src1000 = real_snapshots()
    broken = d / "ci_trafi_l_2025-12-18T0950_broken.csv"
    with open(src0950, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    head = rows[0]
    gid, mdate, etat = head.index("gid"), head.index("mdate"), head.index("etat")
    for i in (1, 2, 3):
        rows[i][gid] = "abc"               # rejected: gid is not an integer
    for i in (4, 5):
        rows[i][mdate] = ""                # rejected: missing mdate
    rows[6][mdate] = "yesterday"           # rejected: not a date
    rows[7][etat] = "BOUCHE"               # coerced to INCONNU: not counted as rejected
    with open(broken, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    path = d / "w.db"
    r = run_bouchon("replay", "--db", path, broken, src1000, timeout=120)
    assert r.returncode == 3, r.stderr  # 3: some records were rejected, the rest stored
    return path


@pytest.fixture(scope="module")
def srv(db):
    with Serve(db) as s:
        yield s


def scrape(srv):
    code, hdrs, body = srv.request("/metrics")
    assert code == 200
    return hdrs, body.decode("utf-8")


def test_content_type_and_promtool(srv, tmp_path):
    for path in ["/api/v1/summary", "/api/v1/network", "/api/v1/segments/2153/history",
                 "/api/v1/segments/999999/history", "/api/v1/summary?limit=0", "/nope",
                 "/api/v1/nope", "/healthz"]:
        srv.request(path)
    hdrs, text = scrape(srv)
    assert hdrs["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert hdrs["cache-control"] == "no-store"
    saved = tmp_path / "metrics.txt"
    saved.write_text(text)
    if not shutil.which("promtool"):
        pytest.fail("promtool (prometheus) is not installed")
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


def test_every_family_is_documented_and_named_by_convention(srv):
    samples, helps, types = parse(scrape(srv)[1])
    families = set(helps)
    assert families == set(types)
    for fam, kind in types.items():
        assert fam.startswith("bouchon_")
        assert re.fullmatch(r"[a-z][a-z0-9_]*", fam)
        assert helps[fam]
        if kind == "counter":
            assert fam.endswith("_total")
        else:
            assert not fam.endswith("_total")
        if kind == "histogram":
            assert fam.endswith("_seconds")
    for name in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or (base in types and types[base] == "histogram"), name


def test_warehouse_gauges(srv, db):
    samples, _, types = parse(scrape(srv)[1])
    # the real 10:00 snapshot (SOURCES.md)
    for state, n in {"FLUIDE": 432, "DENSE": 16, "EMBOUTEILLE": 22, "PARALYSE": 0,
                     "INCONNU": 224}.items():
        assert value(samples, "bouchon_segments", state=state) == n
    assert types["bouchon_segments"] == "gauge"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    at, share, cong, known, newest = con.execute(
        "SELECT at, congested_share, congested_km, known_km, newest_mdate FROM snapshot "
        "ORDER BY at DESC LIMIT 1").fetchone()
    active = con.execute("SELECT count(*) FROM jam_episode WHERE end IS NULL").fetchone()[0]
    reasons = dict(con.execute("SELECT reason, count(*) FROM rejected WHERE coerced = 0 "
                               "GROUP BY reason").fetchall())
    coerced = con.execute("SELECT count(*) FROM rejected WHERE coerced = 1").fetchone()[0]
    con.close()
    assert at == 1766048450
    assert value(samples, "bouchon_last_snapshot_timestamp_seconds") == at
    assert abs(value(samples, "bouchon_congested_share") - share) < 1e-12
    assert abs(value(samples, "bouchon_congested_km") - cong) < 1e-9
    assert abs(value(samples, "bouchon_congested_km") - 10.34) < 0.01
    assert abs(value(samples, "bouchon_known_km") - known) < 1e-9
    assert abs(value(samples, "bouchon_known_km") - 164.70) < 0.01
    assert value(samples, "bouchon_active_jams") == active == 22
    age = value(samples, "bouchon_newest_observation_age_seconds")
    assert abs(age - (time.time() - newest)) < 120
    # rejected records, by reason, coerced fields left out
    assert sum(reasons.values()) == 6 and coerced >= 1
    got = {dict(k)["reason"]: v for k, v in samples["bouchon_rejected_records"].items()}
    assert got == reasons
    assert len(got) <= 20


def settled_scrape(srv):
    """A scrape once every earlier request is counted (a request is counted when its
    answer has been sent, a moment after the client read it): two scrapes agree on every
    route but /metrics itself."""
    def requests(samples):
        return {k: v for k, v in samples.get("bouchon_http_requests_total", {}).items()
                if dict(k)["route"] != "/metrics"}

    prev = parse(scrape(srv)[1])[0]
    for _ in range(50):
        time.sleep(0.05)
        cur = parse(scrape(srv)[1])[0]
        if requests(cur) == requests(prev):
            return cur
        prev = cur
    return prev


def test_request_counter_and_histogram(srv):
    before = settled_scrape(srv)
    n = 7
    for _ in range(n):
        assert srv.request("/api/v1/summary")[0] == 200
    for gid in (2153, 2155, 999999):
        srv.request(f"/api/v1/segments/{gid}/history")
    srv.request("/api/v1/jams?from=bad")

    def count(s, route, code):
        return s.get("bouchon_http_requests_total", {}).get(
            frozenset({"route": route, "code": str(code)}.items()), 0)

    after = settled_scrape(srv)
    assert count(after, "/api/v1/summary", 200) - count(before, "/api/v1/summary", 200) == n
    hist = "/api/v1/segments/{gid}/history"
    assert count(after, hist, 200) - count(before, hist, 200) == 2
    assert count(after, hist, 404) - count(before, hist, 404) == 1
    assert count(after, "/api/v1/jams", 400) - count(before, "/api/v1/jams", 400) == 1
    # labels are route templates, never raw paths
    for key in after["bouchon_http_requests_total"]:
        labels = dict(key)
        assert labels["route"] in ROUTES, labels
        assert re.fullmatch(r"[1-5][0-9][0-9]", labels["code"])
    # the histogram: cumulative buckets, +Inf = count = requests of that route
    buckets = {}
    for key, v in after["bouchon_http_request_duration_seconds_bucket"].items():
        labels = dict(key)
        assert labels["route"] in ROUTES
        buckets.setdefault(labels["route"], []).append(
            (float("inf") if labels["le"] == "+Inf" else float(labels["le"]), v))
    for route, bs in buckets.items():
        bs.sort()
        counts = [v for _, v in bs]
        assert counts == sorted(counts), route
        total = value(after, "bouchon_http_request_duration_seconds_count", route=route)
        assert bs[-1] == (float("inf"), total)
        assert value(after, "bouchon_http_request_duration_seconds_sum", route=route) >= 0
        answered = sum(v for k, v in after["bouchon_http_requests_total"].items()
                       if dict(k)["route"] == route)
        assert total == answered, route
    assert buckets["/api/v1/summary"][-1][1] >= n


def test_event_stream_gauge(srv):
    with open_events(srv.port) as sock:
        assert read_events(sock, 1)[0]
        samples, _, _ = parse(scrape(srv)[1])
        assert value(samples, "bouchon_http_event_streams") == 1
    assert wait_until(lambda: value(parse(scrape(srv)[1])[0], "bouchon_http_event_streams") == 0,
                      timeout=10)


def test_empty_warehouse(tmp_path):
    """Before the first snapshot the snapshot gauges have no series, promtool still accepts
    the output, and the API answers with empty figures."""
    header = tmp_path / "ci_trafi_l_empty.csv"
    header.write_text("geo_point_2d;geo_shape;gml_id;gid;ident;typevoie;etat;cdate;mdate;"
                      "origine;commune;code_commune\n")
    empty = tmp_path / "e.db"
    r = run_bouchon("replay", "--db", empty, header)
    assert r.returncode == 0, r.stderr
    with Serve(empty) as s:
        _, text = scrape(s)
        samples, helps, _ = parse(text)
        assert "bouchon_segments" in helps and not samples.get("bouchon_segments")
        assert "bouchon_last_snapshot_timestamp_seconds" not in samples
        assert value(samples, "bouchon_active_jams") == 0
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        code, _, body = s.request("/api/v1/health")
        assert code == 200 and json.loads(body)["status"] == "empty"
        code, _, body = s.request("/api/v1/network")
        assert code == 200 and json.loads(body)["features"] == []
        for path in ["/api/v1/summary", "/api/v1/jams", "/api/v1/queues", "/api/v1/hotspots",
                     "/api/v1/profile", "/api/v1/timeseries"]:
            code, _, body = s.request(path)
            assert code == 200, (path, body)
        assert json.loads(s.request("/api/v1/timeseries")[2]) == {
            "from": None, "to": None, "points": []}
