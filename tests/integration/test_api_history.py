"""`bouchon serve`: the routes over the imported history (docs/API.md "History"), on a
warehouse holding the real data: the replay of data/bordeaux and every kind of `bouchon
import` of shared/data/bordeaux (located through $BOUCHON_SHARED, default ../shared from the
repository), built once for the module (about 12 s; the tests that need it are marked slow,
as the full-history tests of test_import.py).

Each route is checked against `bouchon report --json --only SECTION` for the same range (the
API's `to` is inclusive, the report's is exclusive: API `to=T` is report `--to T+1s`), its
default range against the layer read with sqlite3, and some figures against the raw files,
recomputed here in plain Python: the daily network index of one local day from the gzip score
file (cleaning of CONGESTION_METRICS.md), the stations of pc_capte_p / pc_capte_ponct_p and
one station's annual counts. The empty warehouse and the parameter checks are in
test_api_history_cache.py, with the cache-after-import tests.
"""

import csv
import json
import math
import os
import sqlite3
import subprocess
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from helpers import REPO_ROOT, bouchon_available, bouchon_bin, run_bouchon, shared_dir, shared_file
from test_api import Serve

HISTORY_ROUTES = ["/api/v1/history", "/api/v1/history/daily", "/api/v1/history/profile",
                  "/api/v1/history/trend", "/api/v1/history/hotspots",
                  "/api/v1/history/periods", "/api/v1/corridors", "/api/v1/corridors.geojson",
                  "/api/v1/stations"]
TIME_FMT = "%Y-%m-%dT%H:%M:%SZ"


def must(*args, timeout=600):
    r = run_bouchon(*args, timeout=timeout)
    assert r.returncode == 0, f"bouchon {' '.join(map(str, args[:4]))}: {r.stderr[-2000:]}"
    return r


def import_everything(db):
    """The replay, then every import of scripts/import_history.sh (the command the README gives
    users for the whole history), run with the binary under test."""
    must("replay", "--db", db, REPO_ROOT / "data" / "bordeaux", "-q")
    r = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "import_history.sh"), str(db),
                        str(shared_dir())], env={**os.environ, "BOUCHON_BIN": str(bouchon_bin())},
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"import_history.sh: {r.stderr[-2000:]}"


def q(db, sql, *params):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def utc(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime(TIME_FMT)


def plus_1s(text):
    """The report's exclusive end for the API's inclusive `to`."""
    t = datetime.strptime(text, TIME_FMT).replace(tzinfo=timezone.utc)
    return (t + timedelta(seconds=1)).strftime(TIME_FMT)


def section(db, key, *args):
    r = must("report", "--db", db, "--json", "--only", key, *args, timeout=120)
    return json.loads(r.stdout)[key]


def get(srv, path, status=200):
    code, hdrs, body = srv.request(path)
    assert code == status, f"GET {path}: {code} {body[:300]!r}"
    assert hdrs["content-type"] == "application/json"
    return json.loads(body)


@pytest.fixture(scope="module")
def hist_db(tmp_path_factory):
    if not bouchon_available():
        pytest.fail(f"bouchon binary not built: {bouchon_bin()}")
    db = tmp_path_factory.mktemp("api_history") / "h.db"
    import_everything(db)
    return db


class Served(Serve):
    """Serve, whose stop is checked: exit status 0 and no sanitizer report (a sanitized
    build reports leaks and errors on stderr at exit)."""

    def __exit__(self, *exc):
        alive = self.alive()
        rc = self.stop()
        if exc[0] is None:
            assert alive, "the server died:\n" + self.stderr()
            assert rc == 0, f"bouchon serve exited with {rc}:\n" + self.stderr()
            assert "Sanitizer" not in self.stderr(), self.stderr()


@pytest.fixture(scope="module")
def srv(hist_db):
    with Served(hist_db) as s:
        yield s


@pytest.fixture(scope="module")
def overview(srv):
    return get(srv, "/api/v1/history")


# --------------------------------------------------------------------------------------
# The overview


@pytest.mark.slow
def test_overview(srv, hist_db, overview):
    o = overview
    # the overview section of the report, byte for byte in value
    assert o["history"] == section(hist_db, "history")
    h = o["history"]
    # SOURCES.md: 14,166,177 rows, 2,397,081 of them with score 0; `unknown` counts the stored
    # rows (docs/HISTORY.md): 2 of the 3 duplicate DST rows are score-0 rows
    assert h["imported"]["rows"] == 14_166_177
    assert h["imported"]["unknown"] == 2_397_081 - 2
    first, last = q(hist_db, "SELECT min(hour), max(hour) FROM history_hour")[0]
    assert (h["first_hour"], h["last_hour"]) == (utc(first), utc(last))
    # the data run 2019-09-01 -> 2022-01-01, local time
    assert (o["first_day"], o["last_day"]) == ("2019-09-01", "2022-01-01")
    assert o["has_travel_times"] is True
    assert o["has_counts"] is True
    assert o["has_stations"] is True
    # history/lockdowns_fr.csv
    assert o["periods"] == [
        {"label": "Confinement", "start": "2020-03-17", "end": "2020-05-10"},
        {"label": "Confinement", "start": "2020-10-30", "end": "2020-12-14"},
        {"label": "Confinement", "start": "2021-04-03", "end": "2021-05-03"},
    ]


# --------------------------------------------------------------------------------------
# Range defaults: the imported layer's first .. last hour, both included


@pytest.mark.slow
def test_daily_default_range_is_the_whole_layer(srv, hist_db, overview):
    d = get(srv, "/api/v1/history/daily")
    h = overview["history"]
    assert (d["from"], d["to"]) == (h["first_hour"], h["last_hour"])
    days = d["days"]
    assert days[0]["date"] == overview["first_day"]
    assert days[-1]["date"] == overview["last_day"]
    dates = [x["date"] for x in days]
    assert len(dates) == len(set(dates)) == 854  # 2019-09-01 .. 2022-01-01
    # every imported row is in, the last hour too (the end is inclusive); the minute rows
    # of the replayed 2025 snapshots are outside the default range
    assert sum(x["segment_hours"] for x in days) == h["segment_hours"]
    assert sum(x["known_segment_hours"] for x in days) == h["known_segment_hours"]
    assert days == section(hist_db, "daily", "--from", d["from"], "--to", plus_1s(d["to"]))


@pytest.mark.slow
@pytest.mark.parametrize("route,key,report_key,extra", [
    ("/api/v1/history/profile", "cells", "profile", ()),
    ("/api/v1/history/trend", "months", "trend_monthly", ()),
    ("/api/v1/history/periods", "periods", "periods", ()),
])
def test_default_range_sections_are_the_report(srv, hist_db, overview, route, key, report_key,
                                                extra):
    body = get(srv, route)
    h = overview["history"]
    assert (body["from"], body["to"]) == (h["first_hour"], h["last_hour"])
    assert body[key] == section(hist_db, report_key, "--from", body["from"], "--to",
                                plus_1s(body["to"]), *extra)
    assert body[key], f"{route}: empty on the real history"


@pytest.mark.slow
def test_profile_covers_every_known_segment_hour(srv, overview):
    p = get(srv, "/api/v1/history/profile")
    assert p["tz"] == "Europe/Paris"
    assert len(p["cells"]) == 7 * 24
    assert {(c["weekday"], c["hour"]) for c in p["cells"]} == {
        (w, hr) for w in range(1, 8) for hr in range(24)}
    assert sum(c["known_segment_hours"] for c in p["cells"]) == \
        overview["history"]["known_segment_hours"]


@pytest.mark.slow
def test_trend_months(srv, overview):
    t = get(srv, "/api/v1/history/trend")
    months = [m["month"] for m in t["months"]]
    assert months[0] == "2019-09" and months[-1] == "2022-01"
    assert len(months) == 29
    assert sum(m["known_segment_hours"] for m in t["months"]) == \
        overview["history"]["known_segment_hours"]


@pytest.mark.slow
def test_hotspots_default_limit_and_report(srv, hist_db, overview):
    hs = get(srv, "/api/v1/history/hotspots")
    h = overview["history"]
    assert (hs["from"], hs["to"]) == (h["first_hour"], h["last_hour"])
    rep = section(hist_db, "hotspots_history", "--from", hs["from"], "--to", plus_1s(hs["to"]),
                  "--limit", "20")
    assert {k: v for k, v in hs.items() if k not in ("from", "to")} == rep
    assert len(hs["by_peak_index"]) == 20 and len(hs["by_congested_hours"]) == 20
    assert hs["congested_index"] == 0.5 and hs["min_known_segment_hours"] == 24
    peaks = [r["peak_index"] for r in hs["by_peak_index"]]
    assert peaks == sorted(peaks, reverse=True)
    five = get(srv, "/api/v1/history/hotspots?limit=5")
    assert five["by_peak_index"] == hs["by_peak_index"][:5]
    assert five["by_congested_hours"] == hs["by_congested_hours"][:5]


@pytest.mark.slow
def test_corridors_default_range_is_the_travel_times(srv, hist_db):
    c = get(srv, "/api/v1/corridors")
    first, last = q(hist_db, "SELECT min(at), max(at) FROM travel_time")[0]
    assert (c["from"], c["to"]) == (utc(first), utc(last))
    assert c["corridors"] == section(hist_db, "corridors", "--from", c["from"], "--to",
                                     plus_1s(c["to"]))
    assert [x["gid"] for x in c["corridors"]] == list(range(1, 17))
    # every healthy sample of a corridor is counted, the live one at the last instant too
    (healthy,), = q(hist_db, "SELECT count(*) FROM travel_time WHERE flags & 23 = 0 AND gid IN "
                             "(SELECT gid FROM travel_corridor)")
    assert sum(x["samples"] for x in c["corridors"]) == healthy
    (at_last,), = q(hist_db, "SELECT count(*) FROM travel_time WHERE at = ? AND flags & 23 = 0 "
                             "AND gid IN (SELECT gid FROM travel_corridor)", last)
    assert at_last > 0
    keys = {"gid", "ident", "label", "length_m", "unhealthy", "samples", "tti",
            "congestion_level", "vs_usual", "mean_s", "pti", "p95_s", "buffer_index", "months",
            "hours"}
    for x in c["corridors"]:
        assert keys <= set(x)
        assert x["ident"] == x["gid"] + 19


# --------------------------------------------------------------------------------------
# An explicit range: 2020 only


Y2020 = "from=2020-01-01T00:00:00+01:00&to=2020-12-31T23:00:00+01:00"


@pytest.mark.slow
def test_year_2020_daily(srv, hist_db):
    d = get(srv, "/api/v1/history/daily?" + Y2020)
    # the range is echoed in UTC
    assert (d["from"], d["to"]) == ("2019-12-31T23:00:00Z", "2020-12-31T22:00:00Z")
    dates = [x["date"] for x in d["days"]]
    assert dates[0] == "2020-01-01" and dates[-1] == "2020-12-31" and len(dates) == 366
    # the local days of 2020 and nothing else: each one whole
    (rows,), = q(hist_db, "SELECT sum(rows) FROM history_hour WHERE day BETWEEN ? AND ?",
                 18262, 18627)  # 2020-01-01 .. 2020-12-31 as days since 1970-01-01
    assert sum(x["segment_hours"] for x in d["days"]) == rows
    assert {x["date"]: x["hours"] for x in d["days"]}["2020-03-29"] == 23  # spring DST day
    assert {x["date"]: x["hours"] for x in d["days"]}["2020-10-25"] == 25
    assert d["days"] == section(hist_db, "daily", "--from", d["from"], "--to", plus_1s(d["to"]))


@pytest.mark.slow
@pytest.mark.parametrize("route,key,report_key,extra", [
    ("/api/v1/history/profile", "cells", "profile", ()),
    ("/api/v1/history/trend", "months", "trend_monthly", ()),
    ("/api/v1/history/hotspots?limit=7", None, "hotspots_history", ("--limit", "7")),
    ("/api/v1/history/periods", "periods", "periods", ()),
    ("/api/v1/corridors", "corridors", "corridors", ()),
])
def test_year_2020_sections_are_the_report(srv, hist_db, route, key, report_key, extra):
    sep = "&" if "?" in route else "?"
    body = get(srv, route + sep + Y2020)
    assert (body["from"], body["to"]) == ("2019-12-31T23:00:00Z", "2020-12-31T22:00:00Z")
    got = body[key] if key else {k: v for k, v in body.items() if k not in ("from", "to")}
    assert got == section(hist_db, report_key, "--from", body["from"], "--to",
                          plus_1s(body["to"]), *extra)
    if route == "/api/v1/history/trend":
        assert [m["month"] for m in got] == [f"2020-{m:02d}" for m in range(1, 13)]
    if route == "/api/v1/corridors":
        # the travel-time history starts in January 2021
        assert got and all(x["samples"] == 0 and x["tti"] is None for x in got)


@pytest.mark.slow
def test_only_from_or_only_to(srv, hist_db, overview):
    h = overview["history"]
    a = get(srv, "/api/v1/history/trend?from=2021-06-01T00:00:00Z")
    assert (a["from"], a["to"]) == ("2021-06-01T00:00:00Z", h["last_hour"])
    assert a["months"][0]["month"] == "2021-06" and a["months"][-1]["month"] == "2022-01"
    b = get(srv, "/api/v1/history/trend?to=2019-10-15T00:00:00Z")
    assert (b["from"], b["to"]) == (h["first_hour"], "2019-10-15T00:00:00Z")
    assert [m["month"] for m in b["months"]] == ["2019-09", "2019-10"]
    # a defaulted bound never makes the range empty
    c = get(srv, "/api/v1/history/daily?from=2023-05-01T00:00:00Z")
    assert (c["from"], c["to"]) == ("2023-05-01T00:00:00Z", "2023-05-01T00:00:00Z")
    assert [x["date"] for x in c["days"]] == ["2023-05-01"]
    assert c["days"][0]["known_segment_hours"] == 0 and c["days"][0]["index"] is None


# --------------------------------------------------------------------------------------
# Figures recomputed from the raw files


def score_rows_of_days(path, days):
    """The rows of some local days of the gzip score file (its times carry the local offset,
    so the local date is the date written): {day: [(gid, local hour, score)]}, streamed once."""
    needles = {day: b',"' + day.encode() + b"T" for day in days}
    out = {day: [] for day in days}
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    tail = b""

    def scan(buf):
        for day, needle in needles.items():
            i = buf.find(needle)
            while i >= 0:
                s = buf.rfind(b"\n", 0, i) + 1
                e = buf.find(b"\n", i)
                e = len(buf) if e < 0 else e
                gid, t, score = buf[s:e].rstrip(b"\r").split(b",")
                out[day].append((int(gid), int(t[12:14]), float(score)))
                i = buf.find(needle, e)

    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            buf = tail + dec.decompress(chunk)
            cut = buf.rfind(b"\n") + 1
            tail = buf[cut:]
            scan(buf[:cut])
    scan(tail + dec.flush())
    return out


def score_rows_of_day(path, day):
    return score_rows_of_days(path, [day])[day]


@pytest.mark.slow
def test_daily_index_of_one_day_from_the_raw_file(srv):
    day = "2020-03-10"  # a Tuesday, a week before the first lockdown
    rows = score_rows_of_day(shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"), day)
    assert len(rows) > 10_000
    # gid -> ident of the first generation: tied gids share their ident's key
    segs = json.loads(shared_file("history/ci_trafi_l_segments_2020-03.geojson").read_text())
    ident = {f["properties"]["gid"]: f["properties"]["ident"] for f in segs["features"]}
    # CONGESTION_METRICS.md: 0 unknown, above 3 -> 3, (0, 1) -> 1; index = (score - 1) / 2;
    # rows of one segment key and hour merge, the higher cleaned score winning
    best = {}
    for gid, hour, score in rows:
        key = (ident.get(gid, f"gid:{gid}"), hour)
        cleaned = None if score == 0 else min(3.0, max(1.0, score))
        old = best.get(key, "absent")
        if old == "absent" or (cleaned is not None and (old is None or cleaned > old)):
            best[key] = cleaned
    idx = {k: (v - 1) / 2 for k, v in best.items() if v is not None}
    am = [v for (_, hour), v in idx.items() if hour in (7, 8, 9)]
    pm = [v for (_, hour), v in idx.items() if hour in (17, 18, 19)]

    d = get(srv, f"/api/v1/history/daily?from={day}T00:00:00%2B01:00&to={day}T23:00:00%2B01:00")
    (e,) = d["days"]
    assert e["date"] == day and e["weekday"] == 2 and e["hours"] == 24
    assert e["segment_hours"] == len(best)
    assert e["known_segment_hours"] == len(idx)
    assert e["hours_with_data"] == len({h for _, h in best})
    assert e["congested_segment_hours"] == sum(v >= 0.5 for v in idx.values())
    assert math.isclose(e["index"], sum(idx.values()) / len(idx), rel_tol=1e-9)
    assert math.isclose(e["am_index"], sum(am) / len(am), rel_tol=1e-9)
    assert math.isclose(e["pm_index"], sum(pm) / len(pm), rel_tol=1e-9)
    # and the same entry in the whole-history answer
    whole = {x["date"]: x for x in get(srv, "/api/v1/history/daily")["days"]}
    assert whole[day] == e


@pytest.mark.slow
def test_frozen_days_from_the_raw_file(srv):
    """A day is frozen when every hour with data gives the network the same figures (the same
    known segment-hours and the same sum of cleaned scores). Recomputed here from the raw rows
    of days on both sides of two frozen runs of the real file."""
    days = ["2021-08-12", "2021-08-13", "2021-08-31", "2021-09-01", "2021-12-20", "2021-12-21",
            "2022-01-01", "2020-03-10"]
    raw = score_rows_of_days(shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"),
                             days)
    segs = json.loads(shared_file("history/ci_trafi_l_segments_2020-03.geojson").read_text())
    ident = {f["properties"]["gid"]: f["properties"]["ident"] for f in segs["features"]}
    expected = {}
    for day in days:
        best = {}
        for gid, hour, score in raw[day]:
            key = (ident.get(gid, f"gid:{gid}"), hour)
            cleaned = None if score == 0 else min(3.0, max(1.0, score))
            old = best.get(key, "absent")
            if old == "absent" or (cleaned is not None and (old is None or cleaned > old)):
                best[key] = cleaned
        per_hour = {}
        for (_, hour), v in best.items():
            if v is not None:
                n, total = per_hour.get(hour, (0, 0.0))
                per_hour[hour] = (n + 1, total + v)
        figures = {(n, round(total, 6)) for n, total in per_hour.values()}
        expected[day] = len(per_hour) >= 12 and len(figures) == 1
    # the two runs start and end where the raw data says, and a normal day is not frozen
    assert expected == {"2021-08-12": False, "2021-08-13": True, "2021-08-31": True,
                        "2021-09-01": False, "2021-12-20": False, "2021-12-21": True,
                        "2022-01-01": True, "2020-03-10": False}
    whole = {x["date"]: x for x in get(srv, "/api/v1/history/daily")["days"]}
    assert {day: whole[day]["frozen"] for day in days} == expected
    runs = get(srv, "/api/v1/history")["history"]["frozen"]["runs"]
    assert {"from": "2021-08-13", "to": "2021-08-31", "days": 19} in runs
    assert {"from": "2021-12-21", "to": "2022-01-01", "days": 12} in runs
    assert get(srv, "/api/v1/history")["history"]["frozen"]["days"] == \
        sum(1 for x in whole.values() if x["frozen"])


@pytest.mark.slow
def test_mirrored_corridors_from_the_raw_file(srv):
    """Corridors that carry the same measurements: recomputed from the raw hourly file (pairs
    sharing >= 100 hours with >= 95 % equal values), against the API's mirror_of."""
    import csv as csvmod
    import gzip

    series = {}
    with gzip.open(shared_file("history/ci_tpstj_a_hourly_2021-01_2022-01.csv.gz"), "rt",
                   encoding="utf-8-sig", newline="") as f:
        for row in csvmod.DictReader(f):
            gid = int(row["gid"])
            if 1 <= gid <= 16:  # the 16 corridors (the file holds other gids too)
                series.setdefault(gid, {})[row["time"]] = float(row["actuel"])
    expected = {}
    for b in sorted(series):
        for a in sorted(g for g in series if g < b):
            common = series[a].keys() & series[b].keys()
            same = sum(series[a][t] == series[b][t] for t in common)
            if len(common) >= 100 and same >= 0.95 * len(common):
                expected[b] = a
                break
    assert expected == {2: 1, 4: 3, 10: 9, 12: 11}  # the raw file's facts, found above
    got = get(srv, "/api/v1/corridors?from=2021-01-01T00:00:00Z&to=2021-12-31T23:00:00Z")
    mirrors = {c["gid"]: c["mirror_of"] for c in got["corridors"] if c["mirror_of"] is not None}
    assert mirrors == expected
    assert all(c["mirror_share"] >= 0.95 for c in got["corridors"] if c["mirror_of"] is not None)


@pytest.mark.slow
def test_stations_from_the_raw_files(srv):
    fc = get(srv, "/api/v1/stations")
    assert fc["type"] == "FeatureCollection"
    sensors = json.loads(shared_file("pc_capte_p_2022-03-10T1040.json").read_text())
    campaigns = json.loads(shared_file("pc_capte_ponct_p.json").read_text())
    with_xy = {r["fields"]["ident"]: r["geometry"]["coordinates"] for r in sensors
               if (r.get("geometry") or {}).get("coordinates")}
    camp_xy = {r["gid"]: [r["geo_point_2d"]["lon"], r["geo_point_2d"]["lat"]] for r in campaigns
               if r.get("geo_point_2d")}
    feats = fc["features"]
    got_s = [f for f in feats if f["properties"]["kind"] == "sensor"]
    got_c = [f for f in feats if f["properties"]["kind"] == "campaign"]
    assert len(feats) == len(with_xy) + len(camp_xy)
    assert len(got_s) == len(with_xy) == 618
    assert len(got_c) == len(camp_xy) == 6762
    # sensors first, by ident; then campaigns, by gid
    assert feats[:len(got_s)] == got_s
    assert [f["properties"]["ident"] for f in got_s] == sorted(with_xy)
    assert [f["properties"]["gid"] for f in got_c] == sorted(camp_xy)
    for f in got_s:
        assert f["geometry"]["type"] == "Point"
        assert f["geometry"]["coordinates"] == with_xy[f["properties"]["ident"]]
    for f in got_c:
        assert f["geometry"]["coordinates"] == camp_xy[f["properties"]["gid"]]
    keys_c = {"kind", "gid", "type", "insee", "annee", "start_day", "end_day", "tmjo_tv",
              "hpm_tv", "hps_tv", "v85_vl", "orientation"}
    assert all(set(f["properties"]) == keys_c for f in got_c)
    c365 = next(f["properties"] for f in got_c if f["properties"]["gid"] == 365)
    # "comptage du 28/02/2015 au 06/03/2015", tmjo_tv 107
    assert (c365["start_day"], c365["end_day"], c365["tmjo_tv"], c365["annee"]) == \
        ("2015-02-28", "2015-03-06", 107, 2015)


def raw_annual(ident):
    """(year, sens, mjo_val, mjo_pct) of one station in the three raw annual count files
    (v1 JSON `mjo_val` / `mjo`, CSV `MJO_VAL` / `MJO_%`)."""
    def num(v):
        return None if v in (None, "") else float(v)

    out = []
    for year in (2019, 2021):
        for r in json.loads(shared_file(f"comptage_trafic_{year}.json").read_text()):
            f = r["fields"]
            if f.get("ident") == ident:
                out.append((year, f.get("sens_cir") or "", num(f.get("mjo_val")),
                            num(f.get("mjo"))))
    with open(shared_file("comptage-du-trafic-2023.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    for r in rows:
        if r["IDENT"] == ident:
            out.append((2023, r["SENS_CIR"], num(r["MJO_VAL"]), num(r["MJO_%"])))
    return sorted(out, key=lambda x: (x[0], x[1]))


def close(a, b):
    return a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9))


@pytest.mark.slow
def test_station_annual_counts_from_the_raw_files(srv):
    fc = get(srv, "/api/v1/stations")
    by_ident = {f["properties"]["ident"]: f["properties"] for f in fc["features"]
                if f["properties"]["kind"] == "sensor"}
    keys_s = {"kind", "ident", "gid", "type", "commune", "code_commune", "latest_count",
              "annual"}
    assert all(set(p) == keys_s for p in by_ident.values())
    # a station counted in all three years
    every = [i for i, p in by_ident.items() if {a["year"] for a in p["annual"]} == {2019, 2021,
                                                                                    2023}]
    assert every
    ident = "Z05BE" if "Z05BE" in every else every[0]
    got = [(a["year"], a["sens"], a["mjo_val"], a["mjo_pct"]) for a in by_ident[ident]["annual"]]
    raw = raw_annual(ident)
    assert [g[:3] for g in got] == [r[:3] for r in raw]
    assert all(close(g[3], r[3]) for g, r in zip(got, raw)), (got, raw)
    # and the number of stations of pc_capte_p that have annual counts, from the raw files
    idents = set()
    for year in (2019, 2021):
        idents |= {r["fields"].get("ident") for r in
                   json.loads(shared_file(f"comptage_trafic_{year}.json").read_text())}
    with open(shared_file("comptage-du-trafic-2023.csv"), encoding="utf-8-sig", newline="") as f:
        idents |= {r["IDENT"] for r in csv.DictReader(f, delimiter=";")}
    assert sum(bool(p["annual"]) for p in by_ident.values()) == len(idents & set(by_ident))
    # pc_capte_p: Z24CT3 counted 50 vehicles at 10:40 local
    z = by_ident["Z24CT3"]
    assert z["latest_count"] == {"at": "2022-03-10T09:40:00Z", "count": 50, "flags": 0}
    assert (z["gid"], z["type"], z["commune"], z["code_commune"]) == (224, "BOUCLE",
                                                                     "Le Haillan", "33200")


@pytest.mark.slow
def test_corridors_geojson(srv, hist_db):
    fc = get(srv, "/api/v1/corridors.geojson")
    corr = json.loads(shared_file("history/ci_tpstj_a_corridors.geojson").read_text())
    assert fc["type"] == "FeatureCollection"
    assert [f["properties"]["gid"] for f in fc["features"]] == list(range(1, 17))
    raw = {int(f["properties"]["ident"]): f["geometry"] for f in corr["features"]}
    for f in fc["features"]:
        p = f["properties"]
        assert set(p) == {"gid", "ident", "label", "length_m"}
        assert p["ident"] == p["gid"] + 19
        assert f["geometry"]["coordinates"] == raw[p["ident"]]["coordinates"]
        lon, lat = f["geometry"]["coordinates"][0][0]
        assert -1.2 < lon < 0 and 44.5 < lat < 45.2  # [lon, lat]
        assert p["length_m"] > 500  # great-circle length of the geometry, metres
    labels = {x["gid"]: x["label"] for x in get(srv, "/api/v1/corridors")["corridors"]}
    assert {f["properties"]["gid"]: f["properties"]["label"] for f in fc["features"]} == labels
