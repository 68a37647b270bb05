"""bouchon replay and report on the real Bordeaux snapshots (data/bordeaux).

Expected figures are the facts measured on these files in
shared/data/bordeaux/SOURCES.md, not outputs of the code under test.
"""

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from helpers import run_bouchon, shared_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DERIVED = ["state_interval", "jam_episode", "hourly_segment", "queue", "segment_gid", "snapshot"]


def report(db, *args):
    r = run_bouchon("report", "--db", str(db), "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def dump(db, tables, skip_cols=()):
    con = sqlite3.connect(db)
    out = {}
    for t in tables:
        cols = [c[1] for c in con.execute(f"PRAGMA table_info({t})") if c[1] not in skip_cols]
        out[t] = con.execute(f"SELECT {', '.join(cols)} FROM {t} ORDER BY 1, 2, 3").fetchall()
    con.close()
    return out


def near(value, expected, rel=0.005):
    return abs(value - expected) <= rel * expected


def test_figures_of_the_real_pair(warehouse):
    s = report(warehouse)
    assert s["segments"] == 694
    assert s["observations"] == 694 + 565  # 565 segments changed mdate between the two
    assert s["state_changes"] == 34
    assert s["rejected"] == 0
    latest = s["latest"]
    assert latest["at"] == "2025-12-18T09:00:50Z"
    assert latest["states"] == {"FLUIDE": 432, "DENSE": 16, "EMBOUTEILLE": 22, "PARALYSE": 0,
                                "INCONNU": 224}
    assert near(latest["known_km"], 164.70)
    assert near(latest["congested_km"], 10.34)
    assert near(latest["dense_km"], 5.49)
    assert near(latest["congested_share"], 0.0628, rel=0.01)
    ongoing = [j for j in s["jams"] if j["end"] is None]
    assert len(ongoing) == 22
    assert all(j["start"].endswith("Z") for j in s["jams"])
    # every jam seen in the 09:50 snapshot began before the data: left-censored
    assert all(j["left_censored"] for j in s["jams"] if j["start"] <= "2025-12-18T08:50:50Z")
    assert sum(len(q["idents"]) for q in s["queues"]) == 22
    assert s["hotspots"] and s["hotspots"][0]["congested_s"] > 0


def test_report_at_the_first_snapshot(warehouse):
    s = report(warehouse, "--at", "2025-12-18T09:55:00+01:00")
    assert s["latest"]["at"] == "2025-12-18T08:50:50Z"
    assert s["latest"]["states"]["EMBOUTEILLE"] == 23
    assert s["latest"]["states"]["DENSE"] == 10
    assert s["latest"]["states"]["FLUIDE"] == 438
    assert sum(1 for j in s["jams"] if j["end"] is None) == 23


def test_text_report_shows_the_figures(warehouse):
    r = run_bouchon("report", "--db", str(warehouse))
    assert r.returncode == 0
    assert "known 164.70 km" in r.stdout
    assert "congested 10.34 km" in r.stdout
    assert "EMBOUTEILLE 22" in r.stdout


def test_replaying_again_changes_nothing(warehouse, real_snapshots):
    tables = DERIVED + ["observation", "segment", "raw_record", "rejected"]
    before = dump(warehouse, tables)
    r = run_bouchon("replay", "--db", str(warehouse), *map(str, real_snapshots))
    assert r.returncode == 0
    assert "already loaded" in r.stderr
    assert dump(warehouse, tables) == before


def test_same_records_in_a_new_file_change_nothing(warehouse, real_snapshots, tmp_path):
    # Same records, other bytes (CRLF line ends): the payload is new, every record is not.
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(real_snapshots[1].read_bytes().replace(b"\n", b"\r\n"))
    before = dump(warehouse, DERIVED + ["observation"], skip_cols=("source_id",))
    r = run_bouchon("replay", "--db", str(warehouse), str(crlf))
    assert r.returncode == 0, r.stderr
    assert dump(warehouse, DERIVED + ["observation"], skip_cols=("source_id",)) == before


def test_order_of_files_does_not_matter(tmp_path, real_snapshots):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert run_bouchon("replay", "--db", str(a), *map(str, real_snapshots)).returncode == 0
    assert run_bouchon("replay", "--db", str(b), *map(str, reversed(real_snapshots))).returncode == 0
    assert dump(a, DERIVED, skip_cols=("source_id",)) == dump(b, DERIVED, skip_cols=("source_id",))
    assert dump(a, ["observation"], skip_cols=("fetched_at",)) == \
        dump(b, ["observation"], skip_cols=("fetched_at",))


def test_one_file_at_a_time_equals_both_at_once(tmp_path, real_snapshots):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert run_bouchon("replay", "--db", str(a), *map(str, real_snapshots)).returncode == 0
    for f in real_snapshots:  # a restart between the two files
        assert run_bouchon("replay", "--db", str(b), str(f)).returncode == 0
    assert dump(a, DERIVED, skip_cols=("source_id",)) == dump(b, DERIVED, skip_cols=("source_id",))


@pytest.mark.parametrize("fmt", ["records.json", "export.json", "export.geojson", "export.csv"])
def test_every_export_format_gives_the_same_figures(tmp_path, bouchon, fmt):
    files = [FIXTURES / "api" / f"ci_trafi_l_{t}.{fmt}" for t in ("0950", "1000")]
    db = tmp_path / "f.db"
    r = run_bouchon("replay", "--db", str(db), *map(str, files))
    assert r.returncode == 0, r.stderr
    s = report(db)
    assert s["segments"] == 694 and s["state_changes"] == 34
    assert s["latest"]["states"]["EMBOUTEILLE"] == 22
    assert near(s["latest"]["known_km"], 164.70)
    assert near(s["latest"]["congested_km"], 10.34)


def test_label_header_bom_and_crlf(tmp_path, bouchon, real_snapshots):
    # The portal's download button: BOM, labels for the geo columns, "lat, lon", CRLF.
    text = real_snapshots[1].read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    header = header.replace("geo_point_2d;geo_shape", "Geo Point;Geo Shape")
    rows = []
    for line in rest.splitlines():
        lat, tail = line.split(",", 1)
        rows.append(lat + ", " + tail)
    f = tmp_path / "ui.csv"
    f.write_bytes(b"\xef\xbb\xbf" + (header + "\r\n" + "\r\n".join(rows) + "\r\n").encode())
    db = tmp_path / "ui.db"
    r = run_bouchon("replay", "--db", str(db), str(f))
    assert r.returncode == 0, r.stderr
    s = report(db)
    assert s["segments"] == 694
    assert near(s["latest"]["congested_km"], 10.34)


def test_bad_rows_are_rejected_with_where_and_why(tmp_path, bouchon, real_snapshots):
    lines = real_snapshots[1].read_text(encoding="utf-8").splitlines()
    bad = list(lines)
    # line 3: mdate garbled; line 5: unknown state; line 7: too few fields
    f3 = bad[2].split(";")
    f3[8] = "18/12/2025 10:00"
    bad[2] = ";".join(f3)
    bad[4] = bad[4].replace(";FLUIDE;", ";BLOQUE;").replace(";DENSE;", ";BLOQUE;") \
        .replace(";INCONNU;", ";BLOQUE;").replace(";EMBOUTEILLE;", ";BLOQUE;")
    bad[6] = "44.8;broken"
    f = tmp_path / "bad.csv"
    f.write_text("\n".join(bad) + "\n", encoding="utf-8")
    db = tmp_path / "bad.db"
    r = run_bouchon("replay", "--db", str(db), str(f))
    assert r.returncode == 3, r.stderr  # bad input, the rest stored
    assert "line 3" in r.stderr or "record 3" in r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM segment").fetchone()[0] == 694 - 2
    rows = con.execute("SELECT source_name, position, field, reason, coerced FROM rejected "
                       "ORDER BY position").fetchall()
    assert [(p, fld, c) for _, p, fld, _, c in rows] == [(3, "mdate", 0), (5, "etat", 1), (7, "", 0)]
    assert all(name == str(f) for name, *_ in rows)
    assert "fields" in rows[2][3]
    # the unknown state is stored, as INCONNU
    ident = lines[4].split(";")[4]
    st = con.execute("SELECT o.state FROM observation o JOIN segment s USING (segment_id) "
                     "WHERE s.ident = ?", (ident,)).fetchone()
    assert st == (0,)
    s = report(db)
    assert s["rejected"] == 2 and s["coerced"] == 1


def test_unreadable_files_are_rejected_and_the_rest_loaded(tmp_path, bouchon, real_snapshots):
    junk = tmp_path / "junk.json"
    junk.write_text('{"results": [1, 2', encoding="utf-8")
    html = tmp_path / "error.csv"
    html.write_text("<html><body>502 Bad Gateway</body></html>", encoding="utf-8")
    db = tmp_path / "j.db"
    r = run_bouchon("replay", "--db", str(db), str(junk), str(real_snapshots[0]), str(html))
    assert r.returncode == 3
    assert "junk.json" in r.stderr and "line 1" in r.stderr
    con = sqlite3.connect(db)
    reasons = dict(con.execute("SELECT source_name, reason FROM rejected WHERE position = 0"))
    assert "invalid JSON" in reasons[str(junk)]
    assert "HTML" in reasons[str(html)]
    assert con.execute("SELECT count(*) FROM observation").fetchone()[0] == 694


def test_conflicting_duplicate_is_rejected(tmp_path, bouchon, real_snapshots):
    lines = real_snapshots[1].read_text(encoding="utf-8").splitlines()
    row = lines[1]
    other = row.replace(";FLUIDE;", ";EMBOUTEILLE;") if ";FLUIDE;" in row else \
        row.replace(f";{row.split(';')[6]};", ";FLUIDE;")
    f1, f2 = tmp_path / "one.csv", tmp_path / "two.csv"
    f1.write_text(lines[0] + "\n" + row + "\n", encoding="utf-8")
    f2.write_text(lines[0] + "\n" + other + "\n", encoding="utf-8")
    db = tmp_path / "c.db"
    assert run_bouchon("replay", "--db", str(db), str(f1)).returncode == 0
    r = run_bouchon("replay", "--db", str(db), str(f2))
    assert r.returncode == 3
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM observation").fetchone()[0] == 1
    (reason,) = con.execute("SELECT reason FROM rejected").fetchone()
    assert "conflicting state" in reason


def test_missing_input_and_usage_errors(tmp_path, bouchon):
    db = tmp_path / "u.db"
    assert run_bouchon("replay", "--db", str(db), str(tmp_path / "nope.csv")).returncode == 3
    assert run_bouchon("replay", str(tmp_path)).returncode == 2  # no --db
    assert run_bouchon("report", "--db", str(db), "--at", "yesterday").returncode == 2
    assert run_bouchon("nosuchcommand").returncode == 2
    assert run_bouchon("report", "--db", str(tmp_path / "absent.db")).returncode == 5


def test_help_for_every_command(bouchon):
    r = run_bouchon("help")
    assert r.returncode == 0
    for cmd in ("run", "fetch", "replay", "report", "serve"):
        assert cmd in r.stdout
        h = run_bouchon(cmd, "--help")
        assert h.returncode == 0 and h.stdout.startswith("usage: bouchon " + cmd), cmd


def test_run_replay_plays_in_time_order(tmp_path, bouchon, real_snapshots):
    # Names in reverse time order: run --replay still plays 09:50 first.
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(real_snapshots[0], d / "b.csv")
    shutil.copy(real_snapshots[1], d / "a.csv")
    (d / "notes.txt").write_text("not data")
    db = tmp_path / "r.db"
    r = run_bouchon("run", "--db", str(db), "--replay", str(d))
    assert r.returncode == 0, r.stderr
    loads = [line for line in r.stderr.splitlines() if "[load]" in line]
    assert len(loads) == 2
    assert "b.csv" in loads[0] and "a.csv" in loads[1]
    assert "34 state changes" in loads[1]  # incremental, not a rebuild
    assert report(db)["state_changes"] == 34


def test_raw_layer_keeps_each_record_once(warehouse):
    con = sqlite3.connect(warehouse)
    # 694 rows at 09:50; at 10:00 the 565 changed rows are new, the other 129 identical
    assert con.execute("SELECT count(*) FROM raw_record").fetchone()[0] == 694 + 565
    # a CSV record is its line as received, the geometry cell replaced by its hash
    body, geo, header = con.execute(
        "SELECT f.body, f.geo_shape, s.header FROM raw_record_full f "
        "JOIN raw_source s USING (source_id) LIMIT 1").fetchone()
    assert header == "geo_point_2d;geo_shape;gml_id;gid;ident;typevoie;etat;cdate;mdate;" \
        "origine;commune;code_commune"
    assert body.split(";")[1].startswith("$geom:")
    assert json.loads(geo)["type"] == "LineString"
    original = Path(__file__).resolve().parents[2] / "data" / "bordeaux" / \
        "ci_trafi_l_2025-12-18T0950.csv"
    lines = original.read_text(encoding="utf-8").splitlines()
    match = [ln for ln in lines if ln.split('"')[0] == body.split("$geom:")[0]]
    assert match, "raw body does not start like any line of the file"
    rebuilt = body.replace(body.split(";")[1], '"' + geo.replace('"', '""') + '"')
    assert rebuilt == match[0]
    assert con.execute("SELECT count(*) FROM raw_source WHERE completed = 1").fetchone()[0] == 2


def test_invalid_utf8_is_repaired_and_listed(tmp_path, bouchon, real_snapshots):
    lines = real_snapshots[1].read_bytes().splitlines(True)
    bad = [lines[0]] + [ln.replace(b"Bordeaux", b"Bord\xff\xc3eaux") for ln in lines[1:]]
    bad[5] = bad[5].replace(bad[5].split(b";")[4], b"T5\xff", 1)  # an ident that is not UTF-8
    f = tmp_path / "utf8.csv"
    f.write_bytes(b"".join(bad))
    db = tmp_path / "u.db"
    r = run_bouchon("replay", "--db", str(db), str(f))
    assert r.returncode == 3  # the bad ident is rejected
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM segment").fetchone()[0] == 693
    assert con.execute("SELECT count(*) FROM rejected WHERE field = 'ident' AND coerced = 0"
                       ).fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM rejected WHERE field = 'commune' AND coerced = 1"
                       ).fetchone()[0] > 0
    s = report(db)  # every episode still reported, with a readable commune
    assert len(s["jams"]) == con.execute("SELECT count(*) FROM jam_episode").fetchone()[0]
    assert all(isinstance(j["commune"], str) for j in s["jams"])


def test_truncated_gzip_is_rejected_not_half_loaded(tmp_path, bouchon, real_snapshots):
    import gzip

    data = gzip.compress(real_snapshots[1].read_bytes())
    f = tmp_path / "cut.csv.gz"
    f.write_bytes(data[: len(data) // 2])
    db = tmp_path / "gz.db"
    r = run_bouchon("replay", "--db", str(db), str(f))
    assert r.returncode == 3
    assert "truncated" in r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM observation").fetchone()[0] == 0
    ok = tmp_path / "ok.csv.gz"
    ok.write_bytes(data)
    assert run_bouchon("replay", "--db", str(db), str(ok)).returncode == 0
    assert con.execute("SELECT count(*) FROM observation").fetchone()[0] == 694


def test_report_before_the_first_snapshot_has_no_latest(warehouse):
    s = report(warehouse, "--at", "2020-01-01T00:00:00Z")
    assert s["latest"] is None and s["queues"] == [] and s["jams"] == []


def test_odd_entries_in_a_folder_are_skipped(tmp_path, bouchon, real_snapshots):
    d = tmp_path / "mixed"
    d.mkdir()
    shutil.copy(real_snapshots[1], d / "a.csv")
    (d / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    os.mkfifo(d / "fifo.csv")
    db = tmp_path / "m.db"
    r = run_bouchon("replay", "--db", str(db), str(d), timeout=30)
    assert r.returncode == 0, r.stderr
    assert "skipped" in r.stderr
    assert sqlite3.connect(db).execute("SELECT count(*) FROM observation").fetchone()[0] == 694


# --------------------------------------------------------------------------------------
# Gaps in the data (docs/ANALYTICS.md: a gap above the stale limit ends an open episode at
# its last congested mdate + 900 s, right-censored; an episode with no end counts up to the
# data, never past it)

STALE = 900


def ts(text):
    import datetime as dt

    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def observed_span(con):
    """Per ident: [first mdate, min(last mdate + stale, latest snapshot)], the time the
    warehouse saw the segment at all."""
    (snap,) = con.execute("SELECT max(at) FROM snapshot").fetchone()
    return {ident: (lo, min(hi + STALE, snap)) for ident, lo, hi in con.execute(
        "SELECT s.ident, min(o.mdate), max(o.mdate) FROM observation o "
        "JOIN segment s USING (segment_id) GROUP BY s.ident")}


def test_run_replay_of_the_shared_folder_has_no_jam_across_the_years(tmp_path, bouchon):
    # The 2020-03 segments GeoJSON is read as a 2020-03-20 snapshot; five years later the
    # 2025 snapshots. No episode may span the gap.
    db = tmp_path / "all.db"
    r = run_bouchon("run", "--db", str(db), "--replay", str(shared_dir()), timeout=300)
    assert r.returncode in (0, 3), r.stderr  # the folder holds files of other kinds
    con = sqlite3.connect(db)
    (n2020,) = con.execute("SELECT count(*) FROM observation WHERE mdate < ?",
                           (ts("2021-01-01T00:00:00Z"),)).fetchone()
    assert n2020 > 600  # the 2020 segments file was loaded as observations
    eps = con.execute("SELECT s.ident, j.start, j.end, j.last_congested, j.right_censored, "
                      "j.left_censored FROM jam_episode j JOIN segment s USING (segment_id)"
                      ).fetchall()
    gap = ts("2021-01-01T00:00:00Z")
    assert eps and not [e for e in eps if e[1] < gap and (e[2] is None or e[2] > gap)]
    # no episode claims more than its last congested observation's 900 s of trust
    assert not [e for e in eps if e[2] is not None and e[2] - e[3] > STALE]
    old = [e for e in eps if e[1] < gap]
    assert old and all(e[2] == e[3] + STALE and e[4] == 1 for e in old)
    # the 2025 episodes of the same segments are new, left-censored ones
    old_idents = {e[0] for e in old}
    later = [e for e in eps if e[0] in old_idents and e[1] > gap]
    assert all(e[5] == 1 for e in later)
    # the real 2025 figures are those of the two snapshots alone (SOURCES.md)
    s = report(db, "--no-history")
    assert s["latest"]["at"] == "2025-12-18T09:00:50Z"
    assert s["latest"]["states"]["EMBOUTEILLE"] == 22
    assert sum(1 for j in s["jams"] if j["end"] is None) == 22
    assert len(s["queues"]) == 15
    # hotspots over the whole range: never more than the time each segment was observed
    wide = report(db, "--no-history", "--from", "2020-01-01T00:00:00Z",
                  "--to", "2025-12-19T00:00:00Z", "--limit", "1000")
    span = observed_span(con)
    assert wide["hotspots"]
    for h in wide["hotspots"]:
        lo, hi = span[h["ident"]]
        assert h["congested_s"] <= hi - lo, h
    # the 2020 jams: 900 s each, ended unseen
    first = [j for j in wide["jams"] if j["start"] < "2021"]
    assert first and all(j["duration_s"] == STALE and j["right_censored"] and
                         j["end"] is not None for j in first)
    top = {h["ident"]: h["congested_s"] for h in wide["hotspots"]}
    assert max(top.values()) < 2 * 3600  # was 3,022,700 min for I64


def test_report_to_the_far_future_counts_only_the_data(warehouse):
    last = report(warehouse, "--no-history", "--from", "2025-12-18T00:00:00Z",
                  "--to", "2025-12-18T09:00:50Z", "--limit", "1000")
    far = report(warehouse, "--no-history", "--from", "2025-12-18T00:00:00Z",
                 "--to", "2030-12-31T00:00:00Z", "--limit", "1000")
    assert far["hotspots"] == last["hotspots"]
    assert far["jams"] == last["jams"]
    assert sum(1 for j in far["jams"] if j["end"] is None) == 22
    # ten minutes of data: no segment congested for more than 650 s (08:50:00 -> 09:00:50)
    assert max(h["congested_s"] for h in far["hotspots"]) == 650
    assert all(j["duration_s"] <= 650 for j in far["jams"])
    # a range entirely after the data sees no congestion at all
    after = report(warehouse, "--no-history", "--from", "2026-01-01T00:00:00Z",
                   "--to", "2026-01-02T00:00:00Z")
    assert after["hotspots"] == [] and after["jams"] == []


def shifted_csv(src, dst, shift_s, keep_ident=None):
    """src with every mdate moved by shift_s, except the row of keep_ident (kept as is)."""
    import datetime as dt

    lines = src.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(";")
    im, ii = header.index("mdate"), header.index("ident")
    out = [lines[0]]
    for line in lines[1:]:
        # the geometry cell holds no ';' and the mdate is after it
        f = line.split(";")
        if f[ii] != keep_ident:
            t = dt.datetime.fromisoformat(f[im]) + dt.timedelta(seconds=shift_s)
            f[im] = t.isoformat()
        out.append(";".join(f))
    dst.write_text("\n".join(out) + "\n", encoding="utf-8")


def test_a_segment_silent_for_two_days_is_not_an_ongoing_jam(tmp_path, bouchon, real_snapshots):
    # Two days after 09:50 the feed still shows T51 with its 09:50 mdate (congested):
    # nobody saw it for two days, so its episode ended unseen 900 s after.
    later = tmp_path / "later.csv"
    shifted_csv(real_snapshots[0], later, 2 * 86400, keep_ident="T51")
    db = tmp_path / "silent.db"
    r = run_bouchon("replay", "--db", str(db), str(real_snapshots[0]), str(later))
    assert r.returncode == 0, r.stderr
    s = report(db, "--no-history", "--from", "2025-12-18T00:00:00Z", "--limit", "1000")
    assert s["latest"]["at"] == "2025-12-20T08:50:50Z"
    assert s["latest"]["stale"] == 1
    t51 = [j for j in s["jams"] if j["ident"] == "T51"]
    assert t51 == [dict(t51[0], end="2025-12-18T09:05:00Z", duration_s=STALE,
                        right_censored=True)]
    assert {h["ident"]: h["congested_s"] for h in s["hotspots"]}["T51"] == STALE
    # every other segment of the 09:50 jams came back after 2 days: one unseen end each,
    # then a new left-censored episode, ongoing
    ongoing = [j for j in s["jams"] if j["end"] is None]
    assert len(ongoing) == 22 and all(j["left_censored"] for j in ongoing)
    assert "T51" not in {j["ident"] for j in ongoing}
    ended = [j for j in s["jams"] if j["start"] < "2025-12-19"]
    assert len(ended) == 23 and all(j["right_censored"] and j["duration_s"] == STALE
                                    for j in ended)
    # the /metrics gauge of active jams agrees (T51's stored episode has no end yet, but its
    # segment went silent: not active)
    import sqlite3
    import urllib.request

    from test_api import Serve

    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM jam_episode WHERE end IS NULL").fetchone()[0] == 23
    con.close()
    srv = Serve(db).start()
    try:
        with urllib.request.urlopen(srv.base + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
    finally:
        srv.stop()
    assert "\nbouchon_active_jams 22\n" in text
    # the same warehouse whatever the order of the files
    db2 = tmp_path / "silent2.db"
    assert run_bouchon("replay", "--db", str(db2), str(later),
                       str(real_snapshots[0])).returncode == 0
    assert dump(db, ["jam_episode", "state_interval", "hourly_segment"]) == \
        dump(db2, ["jam_episode", "state_interval", "hourly_segment"])
