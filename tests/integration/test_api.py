"""`bouchon serve`: the HTTP API, static files, events and limits, on a warehouse built by
replaying the two real Bordeaux snapshots with the real binary.

Figures are checked against `bouchon report --json` (the same queries must give the same
JSON), against the warehouse read directly with sqlite3, and against GDAL for GeoJSON.
Python 3.11 stdlib + pytest; `ogrinfo` (gdal-bin) is required.
"""

import concurrent.futures
import csv
import datetime as dt
import gzip
import http.client
import json
import queue
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import REPO_ROOT, bouchon_bin, run_bouchon

# --------------------------------------------------------------------------------------
# Helpers (test_metrics.py imports them too)

SNAPSHOT_NAMES = ["ci_trafi_l_2025-12-18T0950.csv", "ci_trafi_l_2025-12-18T1000.csv"]


def real_snapshots():
    """The two real ci_trafi_l snapshots: the repository's data/bordeaux copy, else the
    shared data folder."""
    for root in (REPO_ROOT / "data" / "bordeaux", REPO_ROOT.parent / "shared" / "data" / "bordeaux",
                 Path("/work/shared/data/bordeaux")):
        files = [root / n for n in SNAPSHOT_NAMES]
        if all(f.is_file() for f in files):
            return files
    raise FileNotFoundError("the real ci_trafi_l snapshots were not found")


def build_warehouse(db, *inputs):
    r = run_bouchon("replay", "--db", db, *(inputs or real_snapshots()), timeout=120)
    assert r.returncode == 0, r.stderr
    return db


def report_json(db, *args):
    r = run_bouchon("report", "--db", db, "--json", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


class Serve:
    """`bouchon serve --listen 127.0.0.1:0` on a warehouse; reads the chosen port from
    the "serving http://HOST:PORT" line on stderr."""

    def __init__(self, db, assets=None, listen="127.0.0.1:0", extra=(), startup_timeout=15):
        self.args = [str(bouchon_bin()), "serve", "--db", str(db), "--listen", listen]
        if assets is not None:
            self.args += ["--assets", str(assets)]
        self.args += list(extra)
        self.startup_timeout = startup_timeout
        self.proc = None
        self.lines = []
        self.host = None
        self.port = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        first = queue.Queue()

        def drain():
            for line in self.proc.stderr:
                self.lines.append(line)
                if line.startswith("serving http://"):
                    first.put(line)
            first.put(None)

        threading.Thread(target=drain, daemon=True).start()
        try:
            line = first.get(timeout=self.startup_timeout)
        except queue.Empty:
            line = None
        if not line:
            self.stop()
            raise RuntimeError("bouchon serve did not start: " + "".join(self.lines))
        hostport = line.strip()[len("serving http://"):]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        return self

    @property
    def base(self):
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
                raise
        return proc.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        return "".join(self.lines)

    def request(self, path, method="GET", headers=None, body=None, timeout=30):
        """Raw request (the path is sent exactly as given): (status, headers with lower-case
        names, body bytes)."""
        host = self.host.strip("[]")
        conn = http.client.HTTPConnection(host, self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"{self.host}:{self.port}")
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def shifted_snapshots(src, out_dir, count, step_s=60, first_shift_s=60):
    """Writes `count` new snapshots derived from the real file src: every mdate of the
    newest refresh moved later by first_shift_s + k*step_s, and a few states rotated so
    that the loader has state changes, episodes and queues to write. Returns the paths."""
    with open(src, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    header, body = rows[0], rows[1:]
    i_mdate, i_etat = header.index("mdate"), header.index("etat")
    newest = max(r[i_mdate] for r in body)
    cycle = {"FLUIDE": "DENSE", "DENSE": "EMBOUTEILLE", "EMBOUTEILLE": "FLUIDE"}
    paths = []
    for k in range(count):
        shift = dt.timedelta(seconds=first_shift_s + k * step_s)
        out_rows = [header]
        for n, r in enumerate(body):
            r = list(r)
            if r[i_mdate] == newest:
                r[i_mdate] = (dt.datetime.fromisoformat(r[i_mdate]) + shift).isoformat()
                if n % 11 == k % 11 and r[i_etat] in cycle:
                    r[i_etat] = cycle[r[i_etat]]
            out_rows.append(r)
        path = Path(out_dir) / f"ci_trafi_l_shifted_{k:03d}.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, delimiter=";").writerows(out_rows)
        paths.append(path)
    return paths


def wait_until(pred, timeout=10, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------
# Fixtures: one read-only server for most tests, others where the data must change

CONGESTED = {"EMBOUTEILLE", "PARALYSE"}
STATES = ["FLUIDE", "DENSE", "EMBOUTEILLE", "PARALYSE", "INCONNU"]


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory):
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="module")
def db(tmp_module):
    if not bouchon_bin().is_file():
        pytest.fail(f"bouchon binary not built: {bouchon_bin()}")
    return build_warehouse(tmp_module / "w.db")


@pytest.fixture(scope="module")
def assets(tmp_module):
    """A small assets folder, with a symlink that points out of it."""
    d = tmp_module / "web"
    (d / "images").mkdir(parents=True)
    (d / "index.html").write_text("<!doctype html><title>Bouchon</title><p>dashboard</p>\n")
    (d / "app.js").write_text("/* app */\n" + "var x = 1;\n" * 400)
    (d / "style.css").write_text("body { color: black; }\n")
    (d / "images" / "marker.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    secret = tmp_module / "secret.txt"
    secret.write_text("root:x:0:0:secret outside the assets folder\n")
    (d / "escape.txt").symlink_to(secret)
    (d / "inside.txt").symlink_to(d / "style.css")
    return d


@pytest.fixture(scope="module")
def srv(db, assets):
    with Serve(db, assets) as s:
        yield s
        assert s.alive(), "the server died during the tests:\n" + s.stderr()


def get_json(srv, path, status=200, headers=None):
    code, hdrs, body = srv.request(path, headers=headers)
    assert code == status, f"GET {path}: {code} {body[:300]!r}"
    assert hdrs["content-type"].startswith("application/json"), hdrs
    return json.loads(body)


def shared_report(db, *args):
    return json.loads(report_json(db, *args))


# --------------------------------------------------------------------------------------
# Status codes, shapes, and agreement with `bouchon report`

ENDPOINTS = ["/api/v1/network", "/api/v1/summary", "/api/v1/jams", "/api/v1/queues",
             "/api/v1/hotspots", "/api/v1/profile", "/api/v1/timeseries", "/api/v1/health"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_endpoints_answer_json(srv, path):
    code, hdrs, body = srv.request(path)
    assert code == 200, body
    assert hdrs["content-type"] == "application/json"
    assert hdrs["cache-control"] == "no-store"
    assert hdrs["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in hdrs["content-security-policy"]
    assert "http" not in hdrs["content-security-policy"]  # no CDN allowed
    json.loads(body)


def test_head_has_headers_only(srv):
    code, hdrs, body = srv.request("/api/v1/summary", method="HEAD")
    assert code == 200 and body == b""
    assert int(hdrs["content-length"]) > 100


def test_healthz(srv):
    code, hdrs, body = srv.request("/healthz")
    assert (code, body) == (200, b"ok\n")
    assert hdrs["content-type"].startswith("text/plain")


def test_summary_is_the_report(srv, db):
    text = report_json(db)
    code, _, body = srv.request("/api/v1/summary")
    assert code == 200
    assert json.loads(body) == json.loads(text)
    assert body.decode() == text  # byte for byte, as promised in docs/API.md


@pytest.mark.parametrize("query,args", [
    ("at=2025-12-18T08:55:00Z", ["--at", "2025-12-18T08:55:00Z"]),
    ("at=2025-12-18T09:55:00%2B01:00", ["--at", "2025-12-18T09:55:00+01:00"]),
    ("at=2025-12-18T09:55:00+01:00", ["--at", "2025-12-18T09:55:00+01:00"]),
    ("from=2025-12-18T08:55:00Z&to=2025-12-18T09:00:50Z&limit=3",
     ["--from", "2025-12-18T08:55:00Z", "--to", "2025-12-18T09:00:50Z", "--limit", "3"]),
    ("min_duration=601&limit=1000", ["--min-duration", "601", "--limit", "1000"]),
    ("history=false", ["--no-history"]),
    ("history=true&limit=5", ["--limit", "5"]),
])
def test_summary_with_options_is_the_report(srv, db, query, args):
    assert get_json(srv, "/api/v1/summary?" + query) == shared_report(db, *args)


def test_network_geojson(srv, tmp_module):
    fc = get_json(srv, "/api/v1/network")
    summary = get_json(srv, "/api/v1/summary")
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == 694
    counts = dict.fromkeys(STATES, 0)
    stale = 0
    keys = {"gid", "ident", "state", "mdate", "state_age_s", "stale", "length_m", "typevoie",
            "commune", "code_commune", "origine"}
    for f in fc["features"]:
        assert f["type"] == "Feature"
        g = f["geometry"]
        assert g["type"] in ("LineString", "MultiLineString")
        first = g["coordinates"][0] if g["type"] == "LineString" else g["coordinates"][0][0]
        lon, lat = first
        assert -1.2 < lon < 0 and 44.5 < lat < 45.2  # [lon, lat] around Bordeaux
        p = f["properties"]
        assert set(p) == keys
        assert isinstance(p["gid"], int) and p["gid"] > 0
        assert p["mdate"].endswith("Z")
        assert p["state_age_s"] >= 0
        counts[p["state"]] += 1
        stale += p["stale"]
        assert p["stale"] == (p["state"] != "INCONNU" and p["state_age_s"] > 900)
    assert counts == summary["latest"]["states"]
    assert stale == summary["latest"]["stale"]
    assert len({f["properties"]["gid"] for f in fc["features"]}) == 694
    # GDAL reads it as GeoJSON, from stdin and from a file
    code, _, body = srv.request("/api/v1/network")
    r = subprocess.run(["ogrinfo", "-ro", "-al", "-so", "/vsistdin/"], input=body,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"Feature Count: 694" in r.stdout
    saved = tmp_module / "network.geojson"
    saved.write_bytes(body)
    r = subprocess.run(["ogrinfo", "-ro", "-al", "-so", str(saved)], capture_output=True,
                       timeout=60)
    assert r.returncode == 0 and b"Feature Count: 694" in r.stdout, r.stderr


def test_network_gzip(srv):
    plain = srv.request("/api/v1/network")
    code, hdrs, body = srv.request("/api/v1/network", headers={"Accept-Encoding": "gzip"})
    assert code == 200
    assert hdrs["content-encoding"] == "gzip"
    assert "accept-encoding" in hdrs["vary"].lower()
    assert len(body) < len(plain[2]) / 3
    assert json.loads(gzip.decompress(body)) == json.loads(plain[2])
    assert "content-encoding" not in plain[1]
    assert "accept-encoding" in plain[1]["vary"].lower()
    # refused or absent gzip: identity
    for ae in ("gzip;q=0", "br", "identity"):
        code, hdrs, body = srv.request("/api/v1/network", headers={"Accept-Encoding": ae})
        assert "content-encoding" not in hdrs, ae
        assert body == plain[2]
    # a small body is not compressed
    code, hdrs, body = srv.request("/api/v1/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in hdrs and len(body) < 1024


def test_summary_gzip(srv):
    code, hdrs, body = srv.request("/api/v1/summary", headers={"Accept-Encoding": "deflate, gzip"})
    assert hdrs.get("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(body)) == get_json(srv, "/api/v1/summary")


def test_jams_are_the_report_jams(srv, db):
    ts = get_json(srv, "/api/v1/timeseries")
    first, last = ts["points"][0]["at"], ts["points"][-1]["at"]
    j = get_json(srv, "/api/v1/jams")
    assert (j["from"], j["to"]) == (first, last)
    rep = shared_report(db, "--from", first, "--to", last)
    assert j["jams"] == rep["jams"]
    assert len([x for x in j["jams"] if x["end"] is None]) == 22
    j2 = get_json(srv, f"/api/v1/jams?from={first}&to={last}")
    assert j2 == j
    # no end nobody saw in these ten minutes; the key is always there
    assert all(x["right_censored"] is False for x in j["jams"])


def test_jams_and_hotspots_never_count_past_the_data(srv, db):
    # The latest snapshot is 2025-12-18T09:00:50Z: a `to` years later adds nothing.
    base = "from=2025-12-18T00:00:00Z&limit=1000"
    last = get_json(srv, f"/api/v1/hotspots?{base}&to=2025-12-18T09:00:50Z")
    far = get_json(srv, f"/api/v1/hotspots?{base}&to=2028-12-01T00:00:00Z")
    assert far["to"] == "2028-12-01T00:00:00Z"
    assert far["hotspots"] == last["hotspots"]
    assert max(h["congested_s"] for h in far["hotspots"]) == 650  # 08:50:00 -> 09:00:50
    for by in ("typevoie", "commune"):
        assert get_json(srv, f"/api/v1/hotspots?by={by}&{base}&to=2028-12-01T00:00:00Z"
                        )["hotspots"] == \
            get_json(srv, f"/api/v1/hotspots?by={by}&{base}&to=2025-12-18T09:00:50Z")["hotspots"]
    jl = get_json(srv, "/api/v1/jams?from=2025-12-18T00:00:00Z&to=2025-12-18T09:00:50Z")
    jf = get_json(srv, "/api/v1/jams?from=2025-12-18T00:00:00Z&to=2028-12-01T00:00:00Z")
    assert jf["jams"] == jl["jams"] and len(jf["jams"]) == 32
    assert sum(1 for j in jf["jams"] if j["end"] is None) == 22
    # the segment history's jams agree with /jams over the same far range
    gid = next(j["gid"] for j in jf["jams"] if j["end"] is None)
    h = get_json(srv, f"/api/v1/segments/{gid}/history?from=2025-12-18T00:00:00Z"
                      "&to=2028-12-01T00:00:00Z")
    assert h["jams"] == [j for j in jf["jams"] if j["gid"] == gid]
    assert h["jams"][-1]["duration_s"] <= 650


def test_queues(srv, db):
    rep = shared_report(db)
    q = get_json(srv, "/api/v1/queues")
    assert q["at"] == rep["latest"]["at"] == "2025-12-18T09:00:50Z"
    assert q["queues"] == rep["queues"]
    assert len(q["queues"]) == len(rep["queues"]) == 15
    first = get_json(srv, "/api/v1/queues?at=2025-12-18T08:55:00Z")
    assert first["at"] == "2025-12-18T08:50:50Z"
    assert first["queues"] == shared_report(db, "--at", "2025-12-18T08:55:00Z")["queues"]
    none = get_json(srv, "/api/v1/queues?at=2020-01-01T00:00:00Z")
    assert none == {"at": None, "queues": []}


@pytest.mark.parametrize("by", ["segment", "typevoie", "commune"])
def test_hotspots(srv, db, by):
    h = get_json(srv, f"/api/v1/hotspots?by={by}&limit=5")
    assert h["by"] == by and h["from"] and h["to"]
    assert 1 <= len(h["hotspots"]) <= 5
    key = "congested_s" if by == "segment" else "congested_km_h"
    values = [r[key] for r in h["hotspots"]]
    assert values == sorted(values, reverse=True)
    for r in h["hotspots"]:
        assert {"key", "congested_s", "episodes", "length_m", "congested_km_h"} <= set(r)
    if by == "segment":
        rep = shared_report(db, "--from", h["from"], "--to", h["to"], "--limit", "5")
        assert h["hotspots"] == rep["hotspots"]
    # grouped totals match the per-segment rows
    seg = get_json(srv, f"/api/v1/hotspots?by=segment&limit=1000&from={h['from']}&to={h['to']}")
    if by != "segment":
        total = sum(r["congested_s"] for r in seg["hotspots"])
        allrows = get_json(srv, f"/api/v1/hotspots?by={by}&limit=1000")["hotspots"]
        assert sum(r["congested_s"] for r in allrows) == total
    default = get_json(srv, "/api/v1/hotspots")
    assert default["by"] == "segment" and len(default["hotspots"]) <= 20


def test_profile_against_hourly_segment(srv, db):
    p = get_json(srv, "/api/v1/profile")
    assert p["tz"] == "Europe/Paris"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    known_s, dense_s, cong_s = con.execute(
        "SELECT sum(s_fluide + s_dense + s_congested), sum(s_dense), sum(s_congested) "
        "FROM hourly_segment").fetchone()
    hours = con.execute("SELECT DISTINCT hour FROM hourly_segment ORDER BY 1").fetchall()
    con.close()
    cells = p["cells"]
    assert abs(sum(c["known_segment_hours"] for c in cells) - known_s / 3600) < 1e-6
    # 2025-12-18 is a Thursday; UTC 08:00 and 09:00 are 09:00 and 10:00 in Paris (winter)
    assert [(c["weekday"], c["hour"]) for c in cells] == [
        (4, dt.datetime.fromtimestamp(h, dt.timezone.utc).hour + 1) for (h,) in hours]
    for c in cells:
        assert 0 <= c["congested_share"] <= 1 and 0 <= c["index"] <= 1
    weighted = sum(c["congested_share"] * c["known_segment_hours"] for c in cells)
    assert abs(weighted * 3600 - cong_s) < 1e-3
    weighted_index = sum(c["index"] * c["known_segment_hours"] for c in cells) * 3600
    assert abs(weighted_index - (dense_s + 2 * cong_s) / 2) < 1e-3
    assert get_json(srv, "/api/v1/profile?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")[
        "cells"] == []


def test_profile_on_daylight_saving_days(db, tmp_path):
    """Hour rows around both 2025 DST changes: each UTC hour lands in exactly one local
    (weekday, hour) cell; the autumn 02:00 gets two UTC hours, the spring 02:00 none."""
    copy = tmp_path / "dst.db"
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    seg = dst.execute("SELECT min(segment_id) FROM segment").fetchone()[0]
    rows = []
    for day, first in (("2025-03-30", "2025-03-29T22:00:00+00:00"),
                       ("2025-10-26", "2025-10-25T22:00:00+00:00")):
        t0 = int(dt.datetime.fromisoformat(first).timestamp())
        for k in range(7):  # UTC 22:00 .. 04:00, around the change at 01:00 UTC
            rows.append((seg, t0 + 3600 * k, 3600 - 60 * k, 0, 60 * k, 0))
    dst.executemany("INSERT INTO hourly_segment VALUES (?, ?, ?, ?, ?, ?)", rows)
    dst.commit()
    dst.close()
    with Serve(copy) as s:
        for frm, to, want in [
            # spring: local Sat 23h, Sun 0h 1h (CET), then 3h 4h 5h 6h (CEST): no 2h
            ("2025-03-29T22:00:00Z", "2025-03-30T04:00:00Z",
             [(6, 23), (7, 0), (7, 1), (7, 3), (7, 4), (7, 5), (7, 6)]),
            # autumn: local Sun 0h 1h 2h (CEST), 2h again 3h 4h (CET): 2h twice
            ("2025-10-25T22:00:00Z", "2025-10-26T04:00:00Z",
             [(7, 0), (7, 1), (7, 2), (7, 3), (7, 4), (7, 5)]),
        ]:
            p = get_json(s, f"/api/v1/profile?from={frm}&to={to}")
            cells = [(c["weekday"], c["hour"]) for c in p["cells"]]
            assert cells == want, (frm, cells)
            hours = {(c["weekday"], c["hour"]): c["known_segment_hours"] for c in p["cells"]}
            assert abs(sum(hours.values()) - 7) < 1e-9  # 7 UTC hours, none lost or doubled
            if frm.startswith("2025-10"):
                assert abs(hours[(7, 2)] - 2) < 1e-9
                # congested share of the doubled cell: both UTC hours pooled
                c2 = next(c for c in p["cells"] if (c["weekday"], c["hour"]) == (7, 2))
                assert abs(c2["congested_share"] - (60 * 2 + 60 * 3) / 7200) < 1e-9


def test_timeseries_is_the_snapshot_table(srv, db):
    ts = get_json(srv, "/api/v1/timeseries")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT at, congested_share, congested_km, dense_km, known_km, "
                       "unknown_share FROM snapshot ORDER BY at").fetchall()
    con.close()
    assert len(ts["points"]) == len(rows) == 2
    for p, r in zip(ts["points"], rows):
        assert p["at"] == dt.datetime.fromtimestamp(r[0], dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        for k, v in zip(["congested_share", "congested_km", "dense_km", "known_km",
                         "unknown_share"], r[1:]):
            assert abs(p[k] - v) <= 1e-9 * max(1.0, abs(v)), k  # 10 significant digits
    assert (ts["from"], ts["to"]) == (ts["points"][0]["at"], ts["points"][-1]["at"])
    one = get_json(srv, "/api/v1/timeseries?from=2025-12-18T09:00:00Z")
    assert [p["at"] for p in one["points"]] == ["2025-12-18T09:00:50Z"]


def changed_segment(db):
    """A segment whose state changed between the two snapshots, with its intervals."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    seg_id, gid = con.execute(
        "SELECT s.segment_id, s.gid FROM segment s JOIN state_interval i USING (segment_id) "
        "WHERE i.end IS NOT NULL ORDER BY s.gid LIMIT 1").fetchone()
    rows = con.execute("SELECT start, end, state FROM state_interval WHERE segment_id = ? "
                       "ORDER BY start", (seg_id,)).fetchall()
    names = dict(con.execute("SELECT state, name FROM state_name"))
    con.close()
    return seg_id, gid, rows, names


def iso(t):
    return None if t is None else dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def test_segment_history(srv, db):
    seg_id, gid, rows, names = changed_segment(db)
    h = get_json(srv, f"/api/v1/segments/{gid}/history")
    assert h["gid"] == gid
    assert {"ident", "typevoie", "commune", "length_m", "intervals", "jams"} <= set(h)
    assert [(i["start"], i["end"], i["state"]) for i in h["intervals"]] == [
        (iso(a), iso(b), names[s]) for a, b, s in rows]
    assert h["intervals"][-1]["end"] is None
    for i in h["intervals"]:
        assert i["duration_s"] >= 0
    closed = [i for i in h["intervals"] if i["end"]]
    assert closed and all(i["duration_s"] > 0 for i in closed)
    # the open interval runs to the latest snapshot
    last = h["intervals"][-1]
    latest = dt.datetime.fromisoformat("2025-12-18T09:00:50+00:00")
    assert last["duration_s"] == int((latest - dt.datetime.fromisoformat(
        last["start"].replace("Z", "+00:00"))).total_seconds())
    # its jams are the /jams items of that segment
    jams = get_json(srv, "/api/v1/jams")["jams"]
    assert h["jams"] == [j for j in jams if j["gid"] == gid]
    # the network feature of that gid agrees
    feat = [f for f in get_json(srv, "/api/v1/network")["features"]
            if f["properties"]["gid"] == gid][0]
    assert feat["properties"]["state"] == last["state"]
    assert feat["properties"]["ident"] == h["ident"]


def test_segment_history_of_a_congested_segment_has_jams(srv):
    fc = get_json(srv, "/api/v1/network")
    f = next(f for f in fc["features"] if f["properties"]["state"] in CONGESTED)
    h = get_json(srv, f"/api/v1/segments/{f['properties']['gid']}/history")
    assert h["jams"] and h["jams"][-1]["end"] is None


def test_segment_history_by_historical_gid(srv, db):
    seg_id, gid, _, _ = changed_segment(db)
    old_gid = 987654321
    con = sqlite3.connect(db)
    con.execute("INSERT OR IGNORE INTO segment_gid(gid, segment_id, valid_from, valid_to) "
                "VALUES (?, ?, 0, 1)", (old_gid, seg_id))
    con.commit()
    con.close()
    h = get_json(srv, f"/api/v1/segments/{old_gid}/history")
    assert h["gid"] == gid  # answered with the segment's current gid
    assert h == get_json(srv, f"/api/v1/segments/{gid}/history")


def test_unknown_gid_is_404(srv):
    e = get_json(srv, "/api/v1/segments/999999999/history", status=404)
    assert e == {"error": {"status": 404, "message": "no segment with gid 999999999"}}


def test_unknown_paths_are_404(srv):
    for path in ["/api/v1/nope", "/api/v1/summary/", "/api/v2/summary", "/api/v1/segments/12",
                 "/api/v1/segments/12/history/x", "/api"]:
        e = get_json(srv, path, status=404)
        assert e["error"]["status"] == 404


BAD = [
    "/api/v1/summary?at=yesterday",
    "/api/v1/summary?at=2025-13-01T00:00:00Z",
    "/api/v1/summary?at=2025-12-18T10:00:00",          # no offset: ambiguous
    "/api/v1/summary?at=2025-12-18T25:00:00Z",
    "/api/v1/summary?at=",
    "/api/v1/summary?at",
    "/api/v1/summary?at=2025-12-18T09:00:00Z&at=2025-12-18T09:00:00Z",
    "/api/v1/summary?from=2025-12-19T00:00:00Z&to=2025-12-18T00:00:00Z",
    "/api/v1/summary?limit=0",
    "/api/v1/summary?limit=10001",
    "/api/v1/summary?limit=abc",
    "/api/v1/summary?limit=-1",
    "/api/v1/summary?limit=1.5",
    "/api/v1/summary?min_duration=-5",
    "/api/v1/summary?min_duration=x",
    "/api/v1/summary?foo=1",
    "/api/v1/summary?by=segment",
    "/api/v1/summary?history=no",
    "/api/v1/summary?history=",
    "/api/v1/summary?history=false&history=true",
    "/api/v1/jams?history=false",
    "/api/v1/jams?from=2025-12-18T10:00:00Z&to=2025-12-18T09:00:00Z",
    "/api/v1/jams?from=2019-01-01T00:00:00Z&to=2025-12-18T00:00:00Z",   # > 3 years
    "/api/v1/jams?from=bad",
    "/api/v1/jams?at=2025-12-18T09:00:00Z",
    "/api/v1/jams?limit=5",
    "/api/v1/queues?at=2025-12-18T09:00:00Z%00",
    "/api/v1/queues?from=2025-12-18T09:00:00Z",
    "/api/v1/hotspots?by=foo",
    "/api/v1/hotspots?by=",
    "/api/v1/hotspots?by=SEGMENT",
    "/api/v1/hotspots?limit=0",
    "/api/v1/hotspots?limit=1001",
    "/api/v1/hotspots?limit=10001",
    "/api/v1/hotspots?limit=abc",
    "/api/v1/hotspots?from=2025-12-18T09:00:00Z&to=2025-12-18T08:00:00Z",
    "/api/v1/profile?from=2025-02-30T00:00:00Z",
    "/api/v1/profile?to=nope",
    "/api/v1/profile?x=1",
    "/api/v1/timeseries?from=2025-12-18T09:00:00Z&to=2020-01-01T00:00:00Z",
    "/api/v1/timeseries?step=60",
    "/api/v1/segments/abc/history",
    "/api/v1/segments/0/history",
    "/api/v1/segments/-3/history",
    "/api/v1/segments/1e3/history",
    "/api/v1/segments/12345678901234567890/history",
    "/api/v1/segments/2153/history?from=x",
    "/api/v1/segments/2153/history?gid=2",
    "/api/v1/network?at=2025-12-18T09:00:00Z",
    "/api/v1/network?x",
    "/api/v1/health?verbose=1",
    "/api/v1/events?x=1",
    "/api/v1/summary?%zz=1",
    "/api/v1/summary?at=%2",
]


@pytest.mark.parametrize("path", BAD)
def test_bad_parameters_are_400(srv, path):
    e = get_json(srv, path, status=400)
    assert e["error"]["status"] == 400
    msg = e["error"]["message"]
    assert msg and not msg.endswith(".")


def test_good_variants_are_accepted(srv):
    for path in ["/api/v1/summary?at=2025-12-18", "/api/v1/summary?at=2025-12-18T09:00Z",
                 "/api/v1/summary?at=2025-12-18T10:00:50.123+0100",
                 "/api/v1/summary?limit=1&", "/api/v1/summary?&&limit=1000",
                 "/api/v1/hotspots?by=commune&limit=1000",
                 "/api/v1/jams?from=2022-12-19T00:00:00Z&to=2025-12-19T00:00:00Z",
                 "/api/v1/segments/00002153/history"]:
        code, _, body = srv.request(path)
        assert code == 200, (path, body)


# --------------------------------------------------------------------------------------
# Static files, traversal and hostile requests


def test_static_files(srv):
    code, hdrs, body = srv.request("/")
    assert code == 200 and b"dashboard" in body
    assert hdrs["content-type"] == "text/html; charset=utf-8"
    assert hdrs["x-content-type-options"] == "nosniff"
    csp = hdrs["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe" not in csp and "http" not in csp
    for path, ctype in [("/index.html", "text/html"), ("/app.js", "text/javascript"),
                        ("/style.css", "text/css"), ("/images/marker.png", "image/png"),
                        ("/inside.txt", "text/plain")]:
        code, hdrs, body = srv.request(path)
        assert code == 200, path
        assert hdrs["content-type"].startswith(ctype), (path, hdrs["content-type"])
    code, hdrs, body = srv.request("/app.js", headers={"Accept-Encoding": "gzip"})
    assert hdrs["content-encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b"/* app */")
    code, hdrs, body = srv.request("/app.js?v=123")  # cache-busting query is fine
    assert code == 200


TRAVERSAL = [
    "/../etc/passwd", "/../../../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E/%2E%2E/%2E%2E/etc/passwd", "/static/..%2f..%2f", "/static/..%2f..%2fetc%2fpasswd",
    "/images/../../secret.txt", "/images/%2e%2e/%2e%2e/secret.txt", "//etc/passwd",
    "///etc/passwd", "/..\\..\\etc\\passwd", "/%5c..%5c..%5cetc%5cpasswd", "/images/..",
    "/./index.html", "/images/./marker.png", "/%00", "/index.html%00.png", "/escape.txt",
    "/etc/passwd", "/images", "/images/", "/%2fetc%2fpasswd", "/..", "/.", "/..%00/",
    "/%c0%ae%c0%ae/etc/passwd", "/secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSAL)
def test_traversal_is_refused(srv, path):
    code, hdrs, body = srv.request(path)
    assert code in (400, 403, 404), (path, code)
    assert b"root:" not in body and b"secret outside" not in body


def test_assets_not_built(db, tmp_module):
    with Serve(db, tmp_module / "no-such-folder") as s:
        code, hdrs, body = s.request("/")
        assert code == 404
        assert b"not built" in body and hdrs["content-type"].startswith("text/html")
        assert s.request("/api/v1/summary")[0] == 200
        assert s.request("/healthz")[0] == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_other_methods_are_405(srv, method):
    code, hdrs, body = srv.request("/api/v1/summary", method=method,
                                   body=b"{}" if method in ("POST", "PUT", "PATCH") else None)
    assert code == 405
    assert hdrs["allow"] == "GET, HEAD"
    assert json.loads(body)["error"]["status"] == 405


def test_post_with_a_large_body_is_refused(srv):
    try:
        code, _, _ = srv.request("/api/v1/summary", method="POST", body=b"x" * (1 << 20))
        assert code == 405
    except (BrokenPipeError, ConnectionResetError):
        pass  # answered 405 and closed before the body was sent: fine
    assert srv.request("/healthz")[0] == 200


def test_huge_url_and_headers_are_4xx(srv):
    for path, headers in [("/api/v1/summary?at=" + "9" * 100000, None),
                          ("/" + "a" * 5000, None),
                          ("/api/v1/summary", {"X-Big": "y" * 100000}),
                          ("/api/v1/summary", {f"X-H{i}": "z" * 100 for i in range(500)})]:
        try:
            code, _, _ = srv.request(path, headers=headers)
        except (ConnectionError, http.client.HTTPException):
            code = 431  # closed without an answer is acceptable; a crash is not
        assert 400 <= code < 500, (path[:40], code)
    assert srv.request("/healthz")[0] == 200
    assert srv.alive()


@pytest.mark.slow
def test_many_query_arguments_are_bounded(srv):
    """libmicrohttpd 0.9.75 parses every query argument into the connection's memory pool
    and, when the pool is exhausted, neither answers nor closes: the connection is only
    dropped by the connection timeout (30 s). Bounded, and the server keeps serving."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=45) as sock:
        sock.sendall(b"GET /api/v1/summary?" + b"x=1&" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        data = sock.recv(65536)
        assert data == b"" or int(data.split()[1]) >= 400
        assert time.monotonic() - t0 < 40
    assert srv.request("/healthz")[0] == 200


def event_streams(srv):
    body = srv.request("/metrics")[2].decode()
    for line in body.splitlines():
        if line.startswith("bouchon_http_event_streams "):
            return float(line.split()[1])
    return None


def test_garbage_requests_do_not_crash(srv):
    for raw in [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"GET http://evil.example/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /api/v1/summary HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                b"\x00\x01\x02\r\n\r\n", b"GET /%%%% HTTP/1.1\r\nHost: x\r\n\r\n"]:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(raw)
            try:
                data = sock.recv(65536)
            except (socket.timeout, ConnectionError):
                data = b""
            assert b"root:" not in data
            if data.startswith(b"HTTP/"):
                assert int(data.split()[1]) >= 400, (raw, data[:80])
    assert srv.request("/healthz")[0] == 200


# --------------------------------------------------------------------------------------
# Events, concurrency beside a writer


def read_events(sock, want, timeout=15):
    """Reads the SSE stream until `want` events arrived; returns (events, raw text)."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if buf.count(b"event: snapshot") >= want:
            break
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    text = buf.decode("utf-8", "replace")
    events = [json.loads(line[len("data: "):]) for line in text.splitlines()
              if line.startswith("data: ")]
    return events, text


def open_events(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    return sock


def test_events_on_connect(srv):
    with open_events(srv.port) as sock:
        events, text = read_events(sock, 1)
    assert text.startswith("HTTP/1.1 200")
    assert "content-type: text/event-stream" in text.lower()
    assert "retry: 5000" in text
    assert events == [{"at": "2025-12-18T09:00:50Z"}]


def test_event_streams_are_bounded(srv):
    socks = []
    # hung-up streams of earlier tests are noticed within about a second
    assert wait_until(lambda: event_streams(srv) == 0, timeout=10)
    try:
        for _ in range(64):
            s = open_events(srv.port)
            socks.append(s)
            events, _ = read_events(s, 1, timeout=10)
            assert events, "stream did not start"
        code, _, body = srv.request("/api/v1/events")
        assert code == 503 and json.loads(body)["error"]["status"] == 503
        assert srv.request("/api/v1/summary")[0] == 200  # the API still answers
    finally:
        for s in socks:
            s.close()
    # closed streams free their slots quickly (a suspended stream is watched for hang-ups)
    assert wait_until(lambda: event_streams(srv) == 0, timeout=10)
    assert _stream_opens(srv.port)


def _stream_opens(port):
    with open_events(port) as s:
        events, text = read_events(s, 1, timeout=5)
        return bool(events)


@pytest.fixture
def writer_setup(tmp_path):
    """A fresh warehouse being served, and derived snapshots to write into it."""
    db = build_warehouse(tmp_path / "w.db")
    extra = shifted_snapshots(real_snapshots()[1], tmp_path, 12)
    with Serve(db) as s:
        yield db, s, extra
        assert s.alive(), s.stderr()


def test_concurrent_reads_beside_a_writer(writer_setup):
    db, srv2, extra = writer_setup
    paths = (ENDPOINTS + ["/api/v1/hotspots?by=commune", "/api/v1/segments/2153/history",
                          "/api/v1/summary?limit=1000", "/metrics", "/healthz"]) * 8
    writer = subprocess.Popen([str(bouchon_bin()), "replay", "--db", str(db), "--batch", "1",
                               *map(str, extra)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            while writer.poll() is None or len(results) < len(paths):
                batch = list(pool.map(lambda p: (p, srv2.request(p, timeout=60)), paths[:50]))
                results.extend(batch)
                if len(results) >= 2000:
                    break
    finally:
        err = writer.communicate(timeout=120)[1]
    assert writer.returncode == 0, err
    assert len(results) >= 50
    for p, (code, hdrs, body) in results:
        assert code == 200, (p, code, body[:200])
        if hdrs["content-type"] == "application/json":
            json.loads(body)
    # once the writer is done, the answers are the new data
    assert get_json(srv2, "/api/v1/summary") == shared_report(db)
    assert len(get_json(srv2, "/api/v1/timeseries")["points"]) == 2 + len(extra)


def test_events_follow_a_separate_writer(writer_setup):
    db, srv2, extra = writer_setup
    with open_events(srv2.port) as sock:
        events, _ = read_events(sock, 1)
        assert events == [{"at": "2025-12-18T09:00:50Z"}]
        r = run_bouchon("replay", "--db", db, extra[0], extra[1])
        assert r.returncode == 0, r.stderr
        newest = shared_report(db)["latest"]["at"]
        seen, text = [], ""
        deadline = time.monotonic() + 20
        # the poll may catch the first file's commit before the second's: one event each
        while {"at": newest} not in seen and time.monotonic() < deadline:
            events, more = read_events(sock, 1, timeout=max(0.1, deadline - time.monotonic()))
            seen += events
            text += more
    assert seen and seen[-1] == {"at": newest}, text
    assert all(e["at"] > "2025-12-18T09:00:50Z" for e in seen)  # only news, no repeats
    assert len(seen) == len({e["at"] for e in seen})
    assert newest > "2025-12-18T09:00:50Z"


# --------------------------------------------------------------------------------------
# The command line


def test_serve_usage_and_exit_codes(db, tmp_path):
    assert run_bouchon("serve", "--help").returncode == 0
    assert "--listen" in run_bouchon("serve", "--help").stdout
    assert run_bouchon("serve").returncode == 2
    assert run_bouchon("serve", "--db", db, "extra").returncode == 2
    assert run_bouchon("serve", "--db", db, "--threads", "0").returncode == 2
    assert run_bouchon("serve", "--db", db, "--threads", "x").returncode == 2
    assert run_bouchon("serve", "--db", db, "--listen", "nonsense").returncode == 2
    assert run_bouchon("serve", "--db", db, "--listen", "1.2.3.4:99999").returncode == 2
    assert run_bouchon("serve", "--db", tmp_path / "missing.db").returncode == 5
    not_db = tmp_path / "not.db"
    not_db.write_text("hello")
    assert run_bouchon("serve", "--db", not_db).returncode == 5


def test_serve_stops_cleanly_on_sigterm_and_sigint(db):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = Serve(db).start()
        assert s.host == "127.0.0.1" and s.port > 0
        with open_events(s.port) as sock:  # an open stream must not block the stop
            read_events(sock, 1)
            s.proc.send_signal(sig)
            assert s.proc.wait(15) == 0, s.stderr()
        s.proc = None


def test_address_in_use_fails(db, srv):
    r = run_bouchon("serve", "--db", db, "--listen", f"127.0.0.1:{srv.port}", timeout=15)
    assert r.returncode == 1 and "cannot listen" in r.stderr


def test_ipv6_listen(db):
    if not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    with Serve(db, listen="[::1]:0") as s:
        assert s.host == "[::1]"
        conn = http.client.HTTPConnection("::1", s.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b"ok\n"
        conn.close()
