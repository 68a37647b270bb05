#!/usr/bin/env python3
"""Plain reference for the history import benchmark (Python 3.11 standard library only).

Does the same work as `bouchon import` on the same files, written the obvious way:

  segment-history  read the gzip CSV "gid","time","scores_horaires_ponderes"; tie gids to idents
                   through the segments GeoJSON; clean the score (0 unknown, > 3 -> 3,
                   (0, 1) -> 1); store one row per (segment key, UTC hour) in SQLite
                   (INSERT ... ON CONFLICT DO NOTHING, one transaction per 1,000,000 rows);
                   keep the per-hour and per-(segment, local day) roll-ups in dicts and write
                   them at the end.
  travel-times     read the gzip CSV "time","gid","actuel","ref"; store one row per (gid, hour).

Table names follow src/warehouse/schema_v2.sql (hourly_score, history_hour, history_day,
travel_time), so `SELECT count(*) FROM hourly_score` means the same in both databases. Left out:
rejected-row bookkeeping, merging of conflicting duplicates, the travel-time health flags.

    python3 bench/reference_import.py --db out.db --kind segment-history \\
        --segments ci_trafi_l_segments_2020-03.geojson ci_trafi_l_hourly_score_....csv.gz
"""

import argparse
import csv
import gzip
import json
import sqlite3
import sys
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
BATCH = 1_000_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS history_segment (seg_key INTEGER PRIMARY KEY, ident TEXT UNIQUE,
    gid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hourly_score (seg_key INTEGER NOT NULL, hour INTEGER NOT NULL,
    score REAL, flags INTEGER NOT NULL DEFAULT 0, raw REAL, PRIMARY KEY (seg_key, hour))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_hour (hour INTEGER PRIMARY KEY, day INTEGER, lhour INTEGER,
    wday INTEGER, rows INTEGER, known INTEGER, sum_idx REAL);
CREATE TABLE IF NOT EXISTS history_day (day INTEGER, seg_key INTEGER, rows INTEGER,
    known INTEGER, sum_idx REAL, PRIMARY KEY (day, seg_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS travel_time (gid INTEGER NOT NULL, at INTEGER NOT NULL,
    period_s INTEGER NOT NULL, actuel REAL NOT NULL, ref REAL, flags INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gid, at)) WITHOUT ROWID;
"""

EPOCH_DAY = datetime(1970, 1, 1).toordinal()


def parse_time(s):
    """ISO-8601 with +01:00 or +0100 offsets -> UTC epoch seconds."""
    if s[-5] in "+-" and s[-3] != ":":
        s = s[:-2] + ":" + s[-2:]
    return int(datetime.fromisoformat(s).timestamp())


def local(hour, cache={}):
    """(local day number, local hour, ISO weekday) of a UTC hour."""
    v = cache.get(hour)
    if v is None:
        lt = datetime.fromtimestamp(hour, timezone.utc).astimezone(PARIS)
        v = (lt.toordinal() - EPOCH_DAY, lt.hour, lt.isoweekday())
        cache[hour] = v
    return v


def segment_history(con, paths, segments):
    keys = {}  # gid -> seg_key
    if segments:
        with open(segments, encoding="utf-8") as f:
            for feat in json.load(f)["features"]:
                p = feat["properties"]
                con.execute("INSERT OR IGNORE INTO history_segment(ident, gid) VALUES (?, ?)",
                                  (p["ident"], p["gid"]))
                keys[p["gid"]] = con.execute("SELECT seg_key FROM history_segment WHERE ident = ?",
                                             (p["ident"],)).fetchone()[0]
    ins = "INSERT INTO hourly_score(seg_key, hour, score, flags, raw) VALUES (?, ?, ?, ?, ?) " \
          "ON CONFLICT DO NOTHING"
    hours, days = {}, {}
    rows = stored = 0
    for path in paths:
        with gzip.open(path, "rt", newline="") if path.endswith(".gz") else \
                open(path, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            batch = []
            con.execute("BEGIN")
            for gid, t, s in reader:
                rows += 1
                gid = int(gid)
                key = keys.get(gid)
                if key is None:
                    key = con.execute("INSERT INTO history_segment(ident, gid) VALUES (NULL, ?)",
                                      (gid,)).lastrowid
                    keys[gid] = key
                raw = float(s)
                hour = parse_time(t)
                if raw == 0:
                    score, flags, keep = None, 1, None
                elif raw > 3:
                    score, flags, keep = 3.0, 2, raw
                elif raw < 1:
                    score, flags, keep = 1.0, 4, raw
                else:
                    score, flags, keep = raw, 0, None
                batch.append((key, hour, score, flags, keep))
                if len(batch) == 10000:
                    before = con.total_changes
                    con.executemany(ins, batch)
                    stored += con.total_changes - before
                    account(batch, hours, days)
                    batch = []
                if rows % BATCH == 0:
                    con.execute("COMMIT")
                    con.execute("BEGIN")
            before = con.total_changes
            con.executemany(ins, batch)
            stored += con.total_changes - before
            account(batch, hours, days)
            con.execute("COMMIT")
    con.execute("BEGIN")
    con.executemany("INSERT OR REPLACE INTO history_hour VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ((h, *local(h), *v) for h, v in hours.items()))
    con.executemany("INSERT OR REPLACE INTO history_day VALUES (?, ?, ?, ?, ?)",
                    ((d, k, *v) for (k, d), v in days.items()))
    con.execute("COMMIT")
    return rows, stored


def account(batch, hours, days):
    """Roll-ups of a batch (the reference does not separate duplicates from new rows)."""
    for key, hour, score, _, _ in batch:
        day = local(hour)[0]
        h = hours.setdefault(hour, [0, 0, 0.0])
        d = days.setdefault((key, day), [0, 0, 0.0])
        h[0] += 1
        d[0] += 1
        if score is not None:
            idx = (score - 1) / 2
            h[1] += 1
            h[2] += idx
            d[1] += 1
            d[2] += idx


def travel_times(con, paths):
    ins = "INSERT INTO travel_time(gid, at, period_s, actuel, ref) VALUES (?, ?, 3600, ?, ?) " \
          "ON CONFLICT DO NOTHING"
    rows = stored = 0
    for path in paths:
        with gzip.open(path, "rt", newline="") if path.endswith(".gz") else \
                open(path, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            con.execute("BEGIN")
            batch = []
            for t, gid, actuel, ref in reader:
                rows += 1
                batch.append((int(gid), parse_time(t), float(actuel), float(ref)))
            before = con.total_changes
            con.executemany(ins, batch)
            stored += con.total_changes - before
            con.execute("COMMIT")
    return rows, stored


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--kind", required=True, choices=["segment-history", "travel-times"])
    ap.add_argument("--segments")
    ap.add_argument("--synchronous", default="NORMAL", choices=["OFF", "NORMAL", "FULL"])
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    con = sqlite3.connect(a.db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={a.synchronous}")
    con.executescript(SCHEMA)
    t0 = time.monotonic()
    if a.kind == "segment-history":
        rows, stored = segment_history(con, a.inputs, a.segments)
    else:
        rows, stored = travel_times(con, a.inputs)
    secs = time.monotonic() - t0
    con.close()
    print(f"reference_import: {a.kind}: {rows} rows, {stored} stored in {secs:.1f} s "
          f"({rows / secs:.0f} rows/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
