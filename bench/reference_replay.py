#!/usr/bin/env python3
"""Plain reference implementation of `bouchon replay` for the core benchmark.

    python3 bench/reference_replay.py --db OUT.db DIR_OR_FILES...

Does, in plain Python (stdlib only: csv, json, sqlite3, math, hashlib,
datetime), the work the C binary does on replay of ci_trafi_l CSV exports:

1. reads every *.csv file in time order (file-name order: the names
   ci_trafi_l_<local date>T<hhmm>.csv sort chronologically);
2. parses every row: CSV (';', RFC-4180 quotes, optional BOM), the geo_shape
   JSON (LineString or MultiLineString, bare or wrapped in a Feature), etat
   (-> 0 INCONNU, 1 FLUIDE, 2 DENSE, 3 EMBOUTEILLE, 4 PARALYSE; anything else
   INCONNU), the ISO-8601 mdate with its offset -> UTC epoch seconds;
3. computes the segment length on every row (haversine, R = 6371008.8 m);
4. stores into SQLite in WAL mode, one transaction per file:
   raw_source (one row per file, content hash of its bytes),
   raw_geometry (geometry text once per distinct geometry),
   raw_record (one row per distinct row content: hash, position, body JSON),
   segment (keyed by ident: attributes, geometry, length, first/last seen),
   segment_gid (every gid of a segment with its validity period),
   observation (unique on (segment_id, mdate): INSERT OR IGNORE);
   PRAGMA journal_mode=WAL, synchronous NORMAL (--synchronous), other
   pragmas at SQLite's defaults; --batch N puts N files in one transaction;
5. then derives, per segment, from the stored observations in mdate order:
   state_interval ([start, end) of each run of one state; end NULL if open)
   and jam_episode (congested = EMBOUTEILLE or PARALYSE; start = first
   congested mdate, end = first non-congested mdate, NULL while ongoing;
   left_censored when the episode starts at the segment's first observation).

Left out compared with the C code (the refinements, not the bulk work):
rejection bookkeeping, per-snapshot KPIs and feed health, queues, hourly
aggregates, the episode hysteresis and minimum duration.  The table and
column names of what it does store follow src/warehouse/schema_v1.sql, so
`SELECT count(*) FROM observation` means the same on both databases.

Hashes are BLAKE2b-128 (hashlib) where the C code uses XXH3-128.
Prints files, rows parsed, observations stored, elapsed seconds and
observations stored per second.
"""

import argparse
import csv
import hashlib
import io
import json
import math
import os
import sqlite3
import sys
import time
from datetime import datetime

R_EARTH = 6371008.8
STATE = {"INCONNU": 0, "FLUIDE": 1, "DENSE": 2, "EMBOUTEILLE": 3, "PARALYSE": 4}
CONGESTED = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_source (
    source_id    INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    dataset      TEXT NOT NULL,
    format       TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    fetched_at   INTEGER NOT NULL,
    snapshot_at  INTEGER,
    records      INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    completed    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS raw_geometry (
    geom_hash TEXT PRIMARY KEY,
    geojson   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS raw_record (
    record_hash TEXT PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES raw_source(source_id),
    position    INTEGER NOT NULL,
    fetched_at  INTEGER NOT NULL,
    geom_hash   TEXT,
    body        TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segment (
    segment_id   INTEGER PRIMARY KEY,
    ident        TEXT NOT NULL UNIQUE,
    gid          INTEGER,
    typevoie     TEXT,
    commune      TEXT,
    code_commune TEXT,
    origine      TEXT,
    geom_type    TEXT,
    geom_hash    TEXT,
    geometry     TEXT,
    length_m     REAL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS segment_gid (
    gid        INTEGER NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES segment(segment_id),
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER NOT NULL,
    PRIMARY KEY (gid, segment_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS observation (
    segment_id INTEGER NOT NULL,
    mdate      INTEGER NOT NULL,
    state      INTEGER NOT NULL,
    gid        INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (segment_id, mdate)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_interval (
    segment_id INTEGER NOT NULL,
    start      INTEGER NOT NULL,
    end        INTEGER,
    state      INTEGER NOT NULL,
    PRIMARY KEY (segment_id, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jam_episode (
    segment_id     INTEGER NOT NULL,
    start          INTEGER NOT NULL,
    end            INTEGER,
    last_congested INTEGER NOT NULL,
    left_censored  INTEGER NOT NULL,
    peak_state     INTEGER NOT NULL,
    PRIMARY KEY (segment_id, start)
) WITHOUT ROWID;
"""

UPSERT_SEGMENT = """
INSERT INTO segment (ident, gid, typevoie, commune, code_commune, origine, geom_type,
                     geom_hash, geometry, length_m, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (ident) DO UPDATE SET
    gid = CASE WHEN excluded.last_seen >= last_seen THEN excluded.gid ELSE gid END,
    typevoie = excluded.typevoie, commune = excluded.commune,
    code_commune = excluded.code_commune, origine = excluded.origine,
    geom_type = excluded.geom_type, length_m = excluded.length_m,
    geometry = CASE WHEN geom_hash IS excluded.geom_hash THEN geometry ELSE excluded.geometry END,
    geom_hash = excluded.geom_hash,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)
"""

UPSERT_GID = """
INSERT INTO segment_gid (gid, segment_id, valid_from, valid_to) VALUES (?, ?, ?, ?)
ON CONFLICT (gid, segment_id) DO UPDATE SET
    valid_from = min(valid_from, excluded.valid_from),
    valid_to = max(valid_to, excluded.valid_to)
"""


class transaction:
    """BEGIN ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN")

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def h128(data):
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def haversine(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * R_EARTH * math.asin(math.sqrt(min(1.0, h)))


def geometry_length(geom):
    """(type, length in m) of a GeoJSON LineString / MultiLineString."""
    if geom.get("type") == "Feature":
        geom = geom["geometry"]
    gtype = geom["type"]
    if gtype == "LineString":
        parts = [geom["coordinates"]]
    elif gtype == "MultiLineString":
        parts = geom["coordinates"]
    else:
        return gtype, 0.0
    total = 0.0
    for line in parts:
        for a, b in zip(line, line[1:]):
            total += haversine(a[0], a[1], b[0], b[1])
    return gtype, total


def epoch(text):
    """ISO-8601 with offset (+01:00, +0100, Z) -> UTC epoch seconds."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"no UTC offset in {text!r}")
    return int(dt.timestamp())


def list_inputs(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += [os.path.join(p, n) for n in os.listdir(p) if n.endswith(".csv")]
        else:
            files.append(p)
    return sorted(files, key=lambda f: (os.path.basename(f), f))


def load_file(db, path, seg_ids):
    """Parses and stores one file (inside an open transaction).

    Returns (rows parsed, observations inserted)."""
    with open(path, "rb") as f:
        raw = f.read()
    content_hash = h128(raw)
    if db.execute("SELECT 1 FROM raw_source WHERE content_hash = ? AND completed = 1",
                  (content_hash,)).fetchone():
        return 0, 0
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = next(reader)
    col = {name: i for i, name in enumerate(header)}
    i_geo, i_gid, i_ident = col["geo_shape"], col["gid"], col["ident"]
    i_etat, i_mdate = col["etat"], col["mdate"]
    i_type, i_comm, i_code, i_orig = col["typevoie"], col["commune"], col["code_commune"], col["origine"]

    parsed = []
    for pos, row in enumerate(reader, start=2):        # CSV line number
        if not row:
            continue
        geo_text = row[i_geo]
        gtype, length = geometry_length(json.loads(geo_text))
        geom_hash = h128(geo_text.encode("utf-8"))
        body = {name: (row[i] if row[i] != "" else None) for name, i in col.items()}
        body["geo_shape"] = {"$geom": geom_hash}
        parsed.append((
            pos, row[i_ident], int(row[i_gid]), STATE.get(row[i_etat], 0), epoch(row[i_mdate]),
            gtype, length, geo_text, geom_hash,
            h128(";".join(row).encode("utf-8")), json.dumps(body, ensure_ascii=False),
            row[i_type], row[i_comm], row[i_code], row[i_orig]))
    snapshot_at = max(p[4] for p in parsed) if parsed else None
    fetched_at = snapshot_at if snapshot_at is not None else int(time.time())

    cur = db.execute(
        "INSERT INTO raw_source (kind, name, dataset, format, content_hash, fetched_at,"
        " snapshot_at) VALUES ('file', ?, 'ci_trafi_l', 'csv', ?, ?, ?)"
        " ON CONFLICT (content_hash) DO UPDATE SET name = excluded.name"
        " RETURNING source_id",
        (path, content_hash, int(time.time()), snapshot_at))
    source_id = cur.fetchone()[0]
    db.executemany("INSERT OR IGNORE INTO raw_geometry VALUES (?, ?)",
                   ((p[8], p[7]) for p in parsed))
    db.executemany("INSERT OR IGNORE INTO raw_record VALUES (?, ?, ?, ?, ?, ?)",
                   ((p[9], source_id, p[0], fetched_at, p[8], p[10]) for p in parsed))
    db.executemany(UPSERT_SEGMENT,
                   ((p[1], p[2], p[11], p[12], p[13], p[14], p[5], p[8], p[7], p[6],
                     p[4], p[4]) for p in parsed))
    for p in parsed:
        if p[1] not in seg_ids:
            seg_ids[p[1]] = db.execute("SELECT segment_id FROM segment WHERE ident = ?",
                                       (p[1],)).fetchone()[0]
    db.executemany(UPSERT_GID, ((p[2], seg_ids[p[1]], p[4], p[4]) for p in parsed))
    before = db.total_changes
    db.executemany("INSERT OR IGNORE INTO observation VALUES (?, ?, ?, ?, ?)",
                   ((seg_ids[p[1]], p[4], p[3], p[2], fetched_at) for p in parsed))
    inserted = db.total_changes - before
    db.execute("UPDATE raw_source SET records = ?, completed = 1 WHERE source_id = ?",
               (len(parsed), source_id))
    return len(parsed), inserted


def derive(db):
    """Rebuilds state_interval and jam_episode from every stored observation."""
    intervals, episodes = [], []
    seg = None
    for segment_id, mdate, state in db.execute(
            "SELECT segment_id, mdate, state FROM observation ORDER BY segment_id, mdate"):
        if segment_id != seg:
            if seg is not None:
                intervals.append((seg, iv_start, None, iv_state))
                if jam is not None:
                    episodes.append((seg, jam[0], None, jam[1], jam[2], jam[3]))
            seg, first = segment_id, mdate
            iv_start, iv_state, jam = mdate, state, None
        elif state != iv_state:
            intervals.append((seg, iv_start, mdate, iv_state))
            iv_start, iv_state = mdate, state
        if state >= CONGESTED:
            if jam is None:
                jam = [mdate, mdate, int(mdate == first), state]   # start, last, censored, peak
            else:
                jam[1] = mdate
                jam[3] = max(jam[3], state)
        elif jam is not None:
            episodes.append((seg, jam[0], mdate, jam[1], jam[2], jam[3]))
            jam = None
    if seg is not None:
        intervals.append((seg, iv_start, None, iv_state))
        if jam is not None:
            episodes.append((seg, jam[0], None, jam[1], jam[2], jam[3]))
    with transaction(db):
        db.execute("DELETE FROM state_interval")
        db.execute("DELETE FROM jam_episode")
        db.executemany("INSERT INTO state_interval VALUES (?, ?, ?, ?)", intervals)
        db.executemany("INSERT INTO jam_episode VALUES (?, ?, ?, ?, ?, ?)", episodes)
    return len(intervals), len(episodes)


def main():
    ap = argparse.ArgumentParser(description="plain reference replay of ci_trafi_l CSV files")
    ap.add_argument("--db", required=True, help="SQLite database to create or extend")
    ap.add_argument("--synchronous", default="NORMAL", choices=["OFF", "NORMAL", "FULL"],
                    help="PRAGMA synchronous (default %(default)s, the usual setting with WAL)")
    ap.add_argument("--batch", type=int, default=1, metavar="N",
                    help="files per transaction (default %(default)s: one transaction per file)")
    ap.add_argument("inputs", nargs="+", help="directories of *.csv files, or files")
    args = ap.parse_args()

    files = list_inputs(args.inputs)
    if not files:
        sys.exit("no .csv input files")
    t0 = time.perf_counter()
    db = sqlite3.connect(args.db, isolation_level=None)   # autocommit; BEGIN/COMMIT explicit
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        sys.exit(f"{args.db}: cannot switch to WAL (journal_mode {mode})")
    db.execute(f"PRAGMA synchronous = {args.synchronous}")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(SCHEMA)
    seg_ids = dict(db.execute("SELECT ident, segment_id FROM segment"))

    rows = stored = 0
    for first in range(0, len(files), args.batch):
        with transaction(db):                           # --batch files per transaction
            for path in files[first:first + args.batch]:
                r, s = load_file(db, path, seg_ids)
                rows += r
                stored += s
    t_load = time.perf_counter() - t0
    n_int, n_ep = derive(db)
    total = db.execute("SELECT count(*) FROM observation").fetchone()[0]
    db.close()
    elapsed = time.perf_counter() - t0

    print(f"files: {len(files)}")
    print(f"rows parsed: {rows}")
    print(f"observations stored: {stored} (table observation: {total})")
    print(f"state intervals: {n_int}, jam episodes: {n_ep}")
    print(f"elapsed: {elapsed:.2f} s (load {t_load:.2f} s, derive {elapsed - t_load:.2f} s)")
    print(f"observations/s: {stored / elapsed:.0f}")
    print(f"rows/s: {rows / elapsed:.0f}")


if __name__ == "__main__":
    main()
