"""bouchon import and the history sections of bouchon report, on the real files of
shared/data/bordeaux (located through $BOUCHON_SHARED, default ../shared from the repository).

Expected figures are the facts measured on these files in shared/data/bordeaux/SOURCES.md, or
are recomputed here, independently, in plain Python from the definitions of docs/HISTORY.md
(travel-time indices, DST days). The full 14.2 M-row history is imported once per module and
shared by the tests marked slow (the sanitized run leaves them out).
"""

import collections
import gzip
import json
import math
import os
import sqlite3
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers import REPO_ROOT, bouchon_available, bouchon_bin, run_bouchon, shared_dir, shared_file

PARIS = ZoneInfo("Europe/Paris")
DST_DAYS = {"2019-10-27": 25, "2020-03-29": 23, "2020-10-25": 25, "2021-03-28": 23,
            "2021-10-31": 25}


def imp(db, kind, *inputs, extra=(), timeout=600):
    r = run_bouchon("import", "--db", db, "--kind", kind, "--json", *extra, *inputs,
                    timeout=timeout)
    assert r.returncode in (0, 3), r.stderr
    return r.returncode, json.loads(r.stdout)


def report(db, *args, timeout=120):
    r = run_bouchon("report", "--db", db, "--json", *args, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def q(db, sql, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def utc_of(local_iso):
    """'2019-10-27T03:00:00+02:00' (or +0200) -> aware UTC datetime."""
    s = local_iso
    if len(s) >= 5 and s[-5] in "+-" and s[-3] != ":":
        s = s[:-2] + ":" + s[-2:]
    return datetime.fromisoformat(s).astimezone(timezone.utc)


def percentile(values, q_):
    """Linear interpolation between closest ranks (numpy's default)."""
    v = sorted(values)
    pos = q_ * (len(v) - 1)
    lo = math.floor(pos)
    if lo + 1 >= len(v):
        return v[-1]
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo])


# --------------------------------------------------------------------------------------
# The full hourly history, imported once


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    if not bouchon_available():
        pytest.fail(f"bouchon binary not built: {bouchon_bin()}")
    db = tmp_path_factory.mktemp("history") / "h.db"
    rc, stats = imp(db, "segment-history",
                    shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"),
                    extra=("--segments", shared_file("history/ci_trafi_l_segments_2020-03.geojson")))
    assert rc == 0
    rc2, periods = imp(db, "periods", shared_file("history/lockdowns_fr.csv"))
    assert rc2 == 0 and periods["stored"] == 3
    return db, stats


@pytest.mark.slow
def test_full_history_rows_and_cleaning(history):
    db, st = history
    # SOURCES.md: 14,166,177 rows; 2,397,081 with score 0; 1,962 above 3.  The cleaning
    # counters count the rows as stored: 2 of the 3 duplicate DST rows are score-0 rows
    assert st["rows"] == 14_166_177
    assert st["unknown"] == 2_397_081 - 2
    assert st["capped"] == 1_962
    assert st["rejected"] == 0
    assert st["stored"] + st["duplicates"] + st["merged"] == st["rows"]
    assert st["duplicates"] + st["merged"] > 0  # the autumn DST hours written twice
    (n, unknown, capped, raised), = q(db, "SELECT count(*), sum(flags & 1 > 0), "
                                          "sum(flags & 2 > 0), sum(flags & 4 > 0) "
                                          "FROM hourly_score")
    assert n == st["stored"]
    assert capped == st["capped"]
    assert raised == st["raised"]
    # the cleaning counters are those of the stored rows (duplicates add nothing)
    assert unknown == st["unknown"]
    assert st["unmapped_rows"] == q(db, "SELECT count(*) FROM hourly_score WHERE seg_key IN "
                                        "(SELECT seg_key FROM history_segment "
                                        "WHERE ident IS NULL)")[0][0]
    # every cleaned row keeps its raw value; scores stay in [1, 3]
    assert q(db, "SELECT count(*) FROM hourly_score WHERE flags & 6 AND raw IS NULL")[0][0] == 0
    assert q(db, "SELECT min(score), max(score) FROM hourly_score")[0] == (1.0, 3.0)
    # the roll-ups hold every stored row
    assert q(db, "SELECT sum(rows) FROM history_hour")[0][0] == n
    assert q(db, "SELECT sum(rows) FROM history_day")[0][0] == n
    assert q(db, "SELECT sum(known) FROM history_hour")[0][0] == n - unknown


@pytest.mark.slow
def test_first_generation_tied_to_idents(history):
    db, st = history
    assert st["tied_gids"] == 679
    assert q(db, "SELECT count(*) FROM history_segment WHERE ident IS NOT NULL")[0][0] == 679
    assert q(db, "SELECT count(*) FROM history_gid WHERE gid BETWEEN 2821 AND 3533")[0][0] == 679
    # SOURCES.md: the first generation is 6.44 M rows; the rest stays unmapped, flagged
    mapped = st["rows"] - st["unmapped_rows"]
    assert round(mapped / 1e6, 2) == 6.44
    assert q(db, "SELECT count(*) FROM history_segment WHERE ident IS NULL")[0][0] > 1000
    (flag,), = q(db, "SELECT flags & 16 FROM hourly_index WHERE ident IS NULL LIMIT 1")
    assert flag == 16
    # I76 is gid 3273 in March 2020 (SOURCES.md)
    assert q(db, "SELECT gid FROM history_gid WHERE ident = 'I76'") == [(3273,)]


def dst_rows_python():
    """Rows of the local days around the DST days, straight from the gzip file."""
    path = shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz")
    dates = set()
    for d in DST_DAYS:
        day = date.fromisoformat(d)
        for k in (-1, 0, 1):
            dates.add((day + timedelta(days=k)).isoformat())
    pattern = "|".join(sorted(dates))
    out = subprocess.run(f"zcat '{path}' | grep -E '\"({pattern})T'", shell=True,
                         capture_output=True, text=True, check=True).stdout
    per_day = collections.defaultdict(dict)
    for line in out.splitlines():
        gid, t, score = line.split(",")
        u = utc_of(t.strip('"'))
        local_day = u.astimezone(PARIS).date().isoformat()
        if local_day in DST_DAYS:
            per_day[local_day][(gid, u)] = float(score)  # the same (gid, hour) once
    return per_day


@pytest.mark.slow
def test_dst_days_neither_lose_nor_double_an_hour(history):
    db, _ = history
    daily = {d["date"]: d for d in report(db, "--only", "daily")["daily"]}
    expected = dst_rows_python()
    for day, length in DST_DAYS.items():
        e = daily[day]
        rows = expected[day]
        assert e["hours"] == length, day
        assert e["segment_hours"] == len(rows), day
        assert e["known_segment_hours"] == sum(1 for s in rows.values() if s != 0), day
        assert e["hours_with_data"] == len({u for _, u in rows}), day
        # the index of the day from the rows themselves
        known = [min(max(s, 1), 3) for s in rows.values() if s != 0]
        assert abs(e["index"] - sum((s - 1) / 2 for s in known) / len(known)) < 1e-9, day
    # the days around them have 24 hours
    assert daily["2020-03-28"]["hours"] == 24 and daily["2020-03-30"]["hours"] == 24


@pytest.mark.slow
def test_importing_again_changes_nothing(history):
    db, _ = history
    before = q(db, "SELECT count(*), sum(rows), sum(known), sum(sum_idx_e9) FROM history_hour")
    rc, st = imp(db, "segment-history",
                 shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"))
    assert rc == 0
    assert st["skipped"] == 1 and st["rows"] == 0
    assert q(db, "SELECT count(*), sum(rows), sum(known), sum(sum_idx_e9) FROM history_hour") \
        == before


@pytest.mark.slow
def test_report_on_the_history(history):
    db, _ = history
    s = report(db)
    for key in ("segments", "observations", "latest", "jams", "queues", "hotspots"):
        assert key in s  # the existing keys stay
    assert s["history"]["segment_hours"] == q(db, "SELECT count(*) FROM hourly_score")[0][0]
    daily = s["daily"]
    assert daily[0]["date"] == "2019-09-01"
    assert all(set(d) >= {"date", "index", "index_weighted", "am_index", "pm_index",
                          "known_segment_hours"} for d in daily)
    dates = [d["date"] for d in daily]
    assert dates == sorted(dates) and len(dates) == len(set(dates))
    # no day missing between the first and the last
    first, last = date.fromisoformat(dates[0]), date.fromisoformat(dates[-1])
    assert len(dates) == (last - first).days + 1
    assert len(s["profile"]) == 7 * 24
    assert s["peaks"]["am_index"] > s["peaks"]["weekday_index"]
    assert s["peaks"]["busiest_hour"] in (7, 8, 9, 16, 17, 18, 19)
    assert [m["month"] for m in s["trend_monthly"]][:2] == ["2019-09", "2019-10"]
    hot = s["hotspots_history"]
    assert len(hot["by_peak_index"]) == 10 and len(hot["by_congested_hours"]) == 10
    # the three lockdowns: the network was lighter during each of them
    periods = s["periods"]
    assert len(periods) == 3
    for p in periods:
        assert p["during"]["index"] < p["before"]["index"], p["label"]
        assert p["change_during"]["relative"] < -0.3, p["label"]
    first_lockdown = periods[0]
    assert first_lockdown["label"].startswith("Confinement 2020-03-17")
    assert first_lockdown["top_segments"] and first_lockdown["top_typevoie"]
    assert all(t["change"] < 0 for t in first_lockdown["top_segments"])
    # "largest drops" lists drops only, in every period and grouping (the third lockdown's
    # two tied communes did not change: 0 -> 0 is not a drop)
    for p in periods:
        for key in ("top_segments", "top_communes", "top_typevoie"):
            assert all(t["index_during"] < t["index_before"] and t["change"] < 0
                       for t in p.get(key, [])), (p["label"], key)


@pytest.mark.slow
def test_daily_index_matches_the_layer(history):
    """One day of `daily` recomputed with SQL from the hourly_index view."""
    db, _ = history
    day = "2021-06-15"
    e = report(db, "--only", "daily", "--from", "2021-06-15T00:00:00+02:00",
               "--to", "2021-06-16T00:00:00+02:00")["daily"]
    assert [d["date"] for d in e] == [day]
    start = int(datetime(2021, 6, 15, tzinfo=PARIS).timestamp())
    (n, idx), = q(db, "SELECT count(idx), avg(idx) FROM hourly_index WHERE hour >= ? AND "
                      "hour < ?", start, start + 86400)
    assert e[0]["known_segment_hours"] == n
    assert abs(e[0]["index"] - idx) < 1e-9


@pytest.mark.slow
def test_heavy_sections_are_fast(history):
    db, _ = history
    import time
    for args in (("--only", "hotspots_history", "--from", "2021-01-01T00:00:00+01:00",
                  "--to", "2022-01-01T00:00:00+01:00"),
                 ("--only", "profile", "--from", "2020-01-01T00:00:00+01:00",
                  "--to", "2022-01-01T00:00:00+01:00")):
        t0 = time.monotonic()
        report(db, *args)
        # generous for CI (the benchmark aims at 0.5 s on the development machine)
        assert time.monotonic() - t0 < 5, args


# --------------------------------------------------------------------------------------
# Smaller imports (every run)


def test_overlapping_extracts_merge(tmp_path, bouchon):
    """Two overlapping extracts of the real history give the tables of their union."""
    path = shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz")
    with gzip.open(path, "rt") as f:
        lines = [next(f) for _ in range(60001)]
    header, rows = lines[0], lines[1:]
    a, b, u = tmp_path / "a.csv", tmp_path / "b.csv.gz", tmp_path / "u.csv"
    a.write_text(header + "".join(rows[:40000]))
    with gzip.open(b, "wt") as f:
        f.write(header + "".join(rows[20000:]))
    u.write_text(header + "".join(rows))
    segs = shared_file("history/ci_trafi_l_segments_2020-03.geojson")
    db1, db2 = tmp_path / "1.db", tmp_path / "2.db"
    _, st = imp(db1, "segment-history", a, b, extra=("--segments", segs))
    assert st["duplicates"] == 20000 and st["merged"] == 0
    imp(db2, "segment-history", u, extra=("--segments", segs))
    for sql in ("SELECT k.ident, k.gid, c.hour, c.score, c.flags FROM hourly_score c "
                "JOIN history_segment k USING (seg_key) ORDER BY 1, 2, 3",
                "SELECT * FROM history_hour ORDER BY hour",
                "SELECT d.day, k.ident, k.gid, d.rows, d.known, d.sum_idx_e9 FROM history_day d "
                "JOIN history_segment k USING (seg_key) ORDER BY 1, 2, 3"):
        assert q(db1, sql) == q(db2, sql)


def test_bad_rows_rejected_exit_3(tmp_path, bouchon):
    f = tmp_path / "bad.csv"
    f.write_text('"gid","time","scores_horaires_ponderes"\n'
                 '2821,"2019-09-01T00:00:00+02:00",1\n'
                 '2821,"2019-09-01T01:00:00",1\n'
                 'abc,"2019-09-01T02:00:00+02:00",1\n'
                 '2821,"2019-09-01T03:00:00+02:00",1.5\n')
    db = tmp_path / "b.db"
    rc, st = imp(db, "segment-history", f)
    assert rc == 3
    assert st["stored"] == 2 and st["rejected"] == 2
    rows = q(db, "SELECT position, field, reason FROM rejected ORDER BY position")
    assert [(p, fld) for p, fld, _ in rows] == [(3, "time"), (4, "gid")]
    assert all(str(f) == name for (name,) in q(db, "SELECT source_name FROM rejected"))


def flags_python(samples):
    """Health flags of docs/HISTORY.md, recomputed: samples = [(gid, at, actuel)]."""
    flagged = set()
    by_gid = collections.defaultdict(list)
    for gid, at, v in samples:
        by_gid[gid].append((at, v))
    for gid, vals in by_gid.items():
        v = sorted(x for _, x in vals)
        n = len(v)
        if n < 100:
            continue
        need = math.ceil(0.01 * n)
        floor_v = v[0] if v.count(v[0]) >= need else None
        top = collections.Counter(v[math.floor(0.9 * (n - 1)):])
        best_n = max(top.values())
        best = max(x for x, c in top.items() if c == best_n)
        cap_v = best if best_n >= need and best % 60 == 0 and best != floor_v else None
        for at, x in vals:
            if x == floor_v or x == cap_v:
                flagged.add((gid, at))
    by_at = collections.defaultdict(list)
    for gid, at, v in samples:
        by_at[at].append((gid, v))
    for at, lst in by_at.items():
        c = collections.Counter(v for _, v in lst)
        for gid, v in lst:
            if c[v] >= 4:
                flagged.add((gid, at))
    return flagged


def test_travel_times_tti_pti(tmp_path, bouchon):
    hist = shared_file("history/ci_tpstj_a_hourly_2021-01_2022-01.csv.gz")
    db = tmp_path / "t.db"
    rc, st = imp(db, "travel-times", hist,
                 extra=("--corridors", shared_file("history/ci_tpstj_a_corridors.geojson")))
    assert rc == 0
    assert st["rows"] == 750_910  # SOURCES.md
    assert st["tt_ref_zero"] == 261_730
    assert q(db, "SELECT count(*) FROM travel_time WHERE gid BETWEEN 1 AND 16")[0][0] == 85_637
    assert q(db, "SELECT count(*), min(ident), max(ident), min(geom_type) FROM "
                 "travel_corridor") == [(16, 20, 35, "MultiLineString")]
    # 120 s floor of corridor 13 in 3,382 hours (SOURCES.md)
    assert q(db, "SELECT count(*) FROM travel_time WHERE gid = 13 AND flags & 1")[0][0] == 3382
    # 1200 s cap of corridor 3
    assert q(db, "SELECT min(actuel), max(actuel) FROM travel_time WHERE gid = 3 "
                 "AND flags & 2") == [(1200.0, 1200.0)]

    samples = []
    with gzip.open(hist, "rt") as f:
        next(f)
        for line in f:
            t, gid, actuel, ref = line.rstrip("\n").split(",")
            gid = int(gid)
            if 1 <= gid <= 16:
                samples.append((gid, int(utc_of(t.strip('"')).timestamp()), float(actuel),
                                float(ref)))
    bad = flags_python([(g, a, v) for g, a, v, _ in samples])
    stored_bad = set(q(db, "SELECT gid, at FROM travel_time WHERE gid <= 16 AND flags & 7"))
    assert stored_bad == bad

    corridors = {c["gid"]: c for c in report(db, "--only", "corridors")["corridors"]}
    for gid in (1, 7, 14):
        healthy = [(a, v, r) for g, a, v, r in samples if g == gid and (g, a) not in bad]
        by_month = collections.defaultdict(list)
        for a, v, r in healthy:
            lt = datetime.fromtimestamp(a, PARIS)
            by_month[f"{lt.year:04d}-{lt.month:02d}"].append((lt.hour, v, r))
        months = {m["month"]: m for m in corridors[gid]["months"]}
        ttis = []
        for month, rows in sorted(by_month.items()):
            night = [v for h, v, _ in rows if h >= 22 or h < 5]
            if len(night) >= 10:
                ff, method = percentile(night, 0.15), "night"
            else:
                hours = collections.defaultdict(list)
                for h, v, _ in rows:
                    hours[h].append(v)
                low = min(sorted(hours), key=lambda h: sum(hours[h]) / len(hours[h]))
                ff, method = percentile(hours[low], 0.15), "lowest_hour"
            vals = [v for _, v, _ in rows]
            m = months[month]
            assert m["free_flow_method"] == method
            assert abs(m["free_flow_s"] - ff) < 1e-6, (gid, month)
            assert abs(m["tti"] - sum(vals) / len(vals) / ff) < 1e-9, (gid, month)
            assert abs(m["pti"] - percentile(vals, 0.95) / ff) < 1e-9, (gid, month)
            mean = sum(vals) / len(vals)
            assert abs(m["buffer_index"] - (percentile(vals, 0.95) - mean) / mean) < 1e-9
            vs = [v / r for _, v, r in rows if r > 0]
            assert abs(m["vs_usual"] - sum(vs) / len(vs)) < 1e-9
            ttis += [v / ff for v in vals]
        c = corridors[gid]
        assert c["samples"] == len(healthy)
        assert abs(c["tti"] - sum(ttis) / len(ttis)) < 1e-9
        assert abs(c["pti"] - percentile(ttis, 0.95)) < 1e-9


def test_live_travel_times_and_sentinel(tmp_path, bouchon):
    db = tmp_path / "l.db"
    rc, st = imp(db, "travel-times", shared_file("ci_tpstj_a_2025-12-17T1405Z.csv"))
    assert rc == 0 and st["stored"] == 16
    # the 2025 snapshot shows 900 s on four corridors at once (SOURCES.md)
    assert q(db, "SELECT count(*) FROM travel_time WHERE actuel = 900 AND flags & 4")[0][0] == 4
    assert q(db, "SELECT label FROM travel_corridor WHERE gid = 13") == \
        [("Aliénor: Place Latule à la Rocade",)]


def test_counts_sensors_works(tmp_path, bouchon):
    db = tmp_path / "c.db"
    rc, st = imp(db, "counts", shared_file("comptage_trafic_2019.json"), shared_file("comptage_trafic_2021.json"),
                 shared_file("comptage-du-trafic-2023.csv"))
    assert rc == 0 and st["stored"] == 534 + 441 + 345
    rc, st = imp(db, "sensors", shared_file("pc_capte_p_2022-03-10T1040.json"),
                 shared_file("pc_capte_ponct_p.json"),
                 shared_file("history/pc_capte_p_hourly_network_total_2020-11_2022-01.csv"))
    assert rc == 0
    assert st["missing"] == 173 and st["stale"] == 161  # DATA_FORMATS.md §3
    assert q(db, "SELECT count(*) FROM count_campaign")[0][0] == 6762
    assert q(db, "SELECT count(*) FROM rejected WHERE field = 'insee' AND coerced = 1")[0][0] == 2
    rc, st = imp(db, "works", shared_file("ci_chantier_2024-10-01.csv"))
    assert rc == 0 and st["stored"] == 315
    s = report(db)
    assert [y["year"] for y in s["counts"]["annual"]["years"]] == [2019, 2021, 2023]
    assert s["counts"]["sensors"]["sensors"] == 618
    assert s["counts"]["network_hourly"]["hours"] > 10_000
    assert s["works"]["works"] == 315
    assert "daily" not in s  # no hourly layer in this warehouse


def test_report_keys_on_snapshots_unchanged(warehouse):
    """The replayed snapshots: the existing keys, plus the small history sections."""
    s = report(warehouse)
    assert s["segments"] == 694
    assert s["history"]["segment_hours"] == 0
    assert s["history"]["minute_segment_hours"] > 0
    assert s["daily"] and s["daily"][0]["date"] == "2025-12-18"
