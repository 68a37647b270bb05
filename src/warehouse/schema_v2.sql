-- Bouchon warehouse, migration 2: imported history (`bouchon import`) and the
-- one hourly analytics layer.  See docs/HISTORY.md for the design.
-- Times are INTEGER seconds since the Unix epoch, UTC.  A "day" column is a
-- Europe/Paris local date written as days since 1970-01-01 (so
-- date(day * 86400, 'unixepoch') is the local date); "lhour" is the local
-- wall-clock hour 0..23 and "wday" the ISO weekday (1 Monday .. 7 Sunday).
--
-- Imported files are registered in raw_source like replayed ones (dataset
-- names the kind, content_hash covers "import:<kind>" and the file bytes, so
-- the same bytes imported twice are skipped); their rows are stored once, in
-- the typed tables below, with their line in the file for rejected rows.

-- What each imported file did (counters as read, before merging across
-- files); the sums per kind are the report's `history` figures.
CREATE TABLE import_file (
    source_id     INTEGER PRIMARY KEY REFERENCES raw_source(source_id),
    kind          TEXT NOT NULL,           -- segment-history, travel-times, counts, ...
    rows          INTEGER NOT NULL,        -- data rows read
    stored        INTEGER NOT NULL,        -- rows new in the warehouse
    rejected      INTEGER NOT NULL,
    coerced       INTEGER NOT NULL,
    duplicates    INTEGER NOT NULL,        -- identical to a stored row
    merged        INTEGER NOT NULL,        -- differed from a stored row, merged
    unknown       INTEGER NOT NULL DEFAULT 0, -- segment-history: score 0
    capped        INTEGER NOT NULL DEFAULT 0, -- score > 3
    raised        INTEGER NOT NULL DEFAULT 0, -- score in (0, 1)
    unmapped_rows INTEGER NOT NULL DEFAULT 0, -- gid not tied to an ident
    stale         INTEGER NOT NULL DEFAULT 0, -- sensors
    missing       INTEGER NOT NULL DEFAULT 0
);

-- ------------------------------------------- hourly scores (segment-history)
-- Segment keys of the imported hourly layer.  A gid tied to an ident through
-- a segments file shares the key of that ident (ident is the stable key);
-- an untied gid gets a key of its own with ident NULL ("unmapped").
CREATE TABLE history_segment (
    seg_key   INTEGER PRIMARY KEY,
    ident     TEXT UNIQUE,                 -- NULL: unmapped gid
    gid       INTEGER NOT NULL,            -- the unmapped gid, or the gid last tied to ident
    typevoie  TEXT,
    geom_type TEXT,
    geometry  TEXT,                        -- GeoJSON geometry from the segments file
    length_m  REAL                         -- great-circle length; NULL when unknown
);
CREATE UNIQUE INDEX history_segment_unmapped ON history_segment(gid) WHERE ident IS NULL;

-- gid -> ident ties read from segments files (GeoJSON with gid and ident).
CREATE TABLE history_gid (
    gid       INTEGER PRIMARY KEY,
    ident     TEXT NOT NULL,
    seg_key   INTEGER NOT NULL,
    as_of     INTEGER,                     -- newest mdate of the segments file
    source_id INTEGER
);

-- One row per segment key and UTC hour.  score is the cleaned score in
-- [1, 3] (FLUIDE 1, DENSE 2, EMBOUTEILLE 3), NULL when the hour was unknown
-- (raw 0).  flags: 1 unknown (raw 0), 2 capped (raw > 3, set to 3),
-- 4 raised (raw in (0, 1), set to 1), 8 merged (another row for the same
-- segment and hour, with a different score, was merged into this one: the
-- higher cleaned score is kept).  raw is the value as read when it differs
-- from score (capped or raised rows), else NULL.
CREATE TABLE hourly_score (
    seg_key INTEGER NOT NULL,
    hour    INTEGER NOT NULL,
    score   REAL,
    flags   INTEGER NOT NULL DEFAULT 0,
    raw     REAL,
    PRIMARY KEY (seg_key, hour)
) WITHOUT ROWID;

-- Network roll-up of hourly_score per UTC hour, maintained by the import in
-- the same transaction as the rows (exact: duplicates and merges adjust it).
-- Sums are fixed-point integers, so that adding and removing contributions
-- gives the same bits in any order: known = segment-hours with a known
-- score; sum_idx_e9 = sum of their index x 1e9; known_w, sum_w_mm and
-- sum_idx_w_e6 = the same restricted to segments of known length, with the
-- sum of lengths in mm and the sum of index x length (m) x 1e6;
-- congested = known segment-hours with index >= 0.5.
-- Network index of the hour = sum_idx_e9 / 1e9 / known; length-weighted
-- = sum_idx_w_e6 / 1e6 / (sum_w_mm / 1e3).
CREATE TABLE history_hour (
    hour         INTEGER PRIMARY KEY,
    day          INTEGER NOT NULL,
    lhour        INTEGER NOT NULL,
    wday         INTEGER NOT NULL,
    rows         INTEGER NOT NULL DEFAULT 0,
    known        INTEGER NOT NULL DEFAULT 0,
    sum_idx_e9   INTEGER NOT NULL DEFAULT 0,
    known_w      INTEGER NOT NULL DEFAULT 0,
    sum_w_mm     INTEGER NOT NULL DEFAULT 0,
    sum_idx_w_e6 INTEGER NOT NULL DEFAULT 0,
    congested    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX history_hour_day ON history_hour(day);

-- Segment roll-up of hourly_score per local day: all hours, AM peak hours
-- (local 7, 8, 9) and PM peak hours (17, 18, 19); sums x 1e9 as above.
CREATE TABLE history_day (
    day       INTEGER NOT NULL,
    seg_key   INTEGER NOT NULL,
    rows      INTEGER NOT NULL DEFAULT 0,
    known     INTEGER NOT NULL DEFAULT 0,
    sum_idx_e9 INTEGER NOT NULL DEFAULT 0,
    am_known  INTEGER NOT NULL DEFAULT 0,
    am_sum_e9 INTEGER NOT NULL DEFAULT 0,
    pm_known  INTEGER NOT NULL DEFAULT 0,
    pm_sum_e9 INTEGER NOT NULL DEFAULT 0,
    congested INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, seg_key)
) WITHOUT ROWID;

-- The one hourly layer: imported scores and minute observations on the
-- hourly congestion index scale (0 all fluid .. 1 all jammed), one row per
-- segment and UTC hour.  idx is NULL when the hour is unknown.  Where both
-- sources hold a known value for the same ident and hour, the imported one
-- is used (the métropole's aggregate covers the whole hour; polling may not).
-- flags: as hourly_score, plus 16 unmapped (imported gid not tied to an ident).
CREATE VIEW hourly_index AS
SELECT 'import' AS source,
       coalesce(k.ident, 'gid:' || k.gid) AS seg,
       k.ident AS ident,
       k.gid AS gid,
       c.hour AS hour,
       (c.score - 1.0) / 2.0 AS idx,
       c.flags | CASE WHEN k.ident IS NULL THEN 16 ELSE 0 END AS flags,
       k.length_m AS length_m
FROM hourly_score c JOIN history_segment k ON k.seg_key = c.seg_key
UNION ALL
SELECT 'minute', s.ident, s.ident, s.gid, h.hour,
       CASE WHEN h.s_fluide + h.s_dense + h.s_congested > 0
            THEN (h.s_dense + 2.0 * h.s_congested) / 2.0 / (h.s_fluide + h.s_dense + h.s_congested)
       END,
       CASE WHEN h.s_fluide + h.s_dense + h.s_congested > 0 THEN 0 ELSE 1 END,
       s.length_m
FROM hourly_segment h JOIN segment s ON s.segment_id = h.segment_id
WHERE NOT EXISTS (SELECT 1 FROM history_segment k2
                  JOIN hourly_score c2 ON c2.seg_key = k2.seg_key AND c2.hour = h.hour
                  WHERE k2.ident = s.ident AND c2.score IS NOT NULL);

-- Periods for before/during/after comparisons (e.g. history/lockdowns_fr.csv):
-- local dates, both inclusive.
CREATE TABLE period (
    label     TEXT NOT NULL,
    start_day INTEGER NOT NULL,
    end_day   INTEGER NOT NULL,
    source_id INTEGER,
    PRIMARY KEY (label, start_day)
) WITHOUT ROWID;

-- -------------------------------------------------- travel times (ci_tpstj_a)
-- Corridors: gid 1..16 = ident 20..35 (gid = ident - 19).
CREATE TABLE travel_corridor (
    gid       INTEGER PRIMARY KEY,
    ident     INTEGER,
    label     TEXT,
    geom_type TEXT,
    geometry  TEXT,
    length_m  REAL
);

-- Samples: hourly means of the history (period_s 3600, at = hour start) and
-- live snapshot values (period_s 0, at = bm_mdate).  Seconds.
-- flags: 1 floor (stuck at the corridor's floor), 2 cap, 4 sentinel (the same
-- value on several corridors at the same instant), 8 ref_zero (ref = 0: no
-- "vs usual"), 16 not_corridor (gid outside the corridor list), 32 merged.
-- Samples flagged 1, 2, 4 or 16 are left out of every travel-time figure.
CREATE TABLE travel_time (
    gid      INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    period_s INTEGER NOT NULL,
    actuel   REAL NOT NULL,
    ref      REAL,
    flags    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gid, at)
) WITHOUT ROWID;

-- --------------------------------------------------------------------- counts
-- Annual counts (comptage_trafic_YYYY, comptage-du-trafic-YYYY): one row per
-- station ident, direction (sens_cir, '' when null) and year.  *_pct are the
-- % changes versus the previous year (mjo, hpm, hps, pl columns).
CREATE TABLE annual_count (
    ident     TEXT NOT NULL,
    sens      TEXT NOT NULL,
    year      INTEGER NOT NULL,
    nom_voie  TEXT,
    mjo_val   REAL,
    mjo_pct   REAL,
    hpm_val   REAL,
    hpm_pct   REAL,
    hps_val   REAL,
    hps_pct   REAL,
    pl_val    REAL,
    pl_pct    REAL,
    vit_val   REAL,
    vit_evo   REAL,
    v85_vl    REAL,
    v85_pl    REAL,
    comment   TEXT,
    source_id INTEGER,
    PRIMARY KEY (ident, sens, year)
) WITHOUT ROWID;

-- Permanent loop sensors (pc_capte_p) and their 5-minute counts.
CREATE TABLE sensor (
    ident        TEXT PRIMARY KEY,
    gid          INTEGER,
    type         TEXT,
    zone         TEXT,
    commune      TEXT,
    code_commune TEXT,
    lon          REAL,
    lat          REAL
) WITHOUT ROWID;

-- count NULL: missing.  flags: 1 stale (mdate older than the stale limit at
-- the snapshot instant), 2 missing (no comptage_5m).
CREATE TABLE sensor_count (
    ident TEXT NOT NULL,
    at    INTEGER NOT NULL,                -- mdate (start of the 5-minute slot reported)
    count INTEGER,
    flags INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ident, at)
) WITHOUT ROWID;

-- Network-wide hourly totals of pc_capte_p (sum over all sensors).
CREATE TABLE network_count_hour (
    hour  INTEGER PRIMARY KEY,
    total INTEGER NOT NULL,
    hpm   INTEGER,                         -- 1 morning peak hour, 0 not, NULL unknown
    hps   INTEGER,
    jo    INTEGER                          -- 1 working day
);

-- Temporary one-week counting campaigns (pc_capte_ponct_p).  start_day and
-- end_day are the local dates found in the free text `semaine`.
CREATE TABLE count_campaign (
    gid                 INTEGER PRIMARY KEY,
    num_materiel        TEXT,
    type                TEXT,
    insee               TEXT,
    sens_orientation    TEXT,
    orientation         TEXT,
    tmjo_tv             REAL,
    tmjo_vl             REAL,
    tmjo_pl             REAL,
    hpm_tv              REAL,
    hps_tv              REAL,
    v85_vl              REAL,
    v85_pl              REAL,
    annee               INTEGER,
    semaine             TEXT,
    start_day           INTEGER,
    end_day             INTEGER,
    orientation_av_2021 TEXT,
    lon                 REAL,
    lat                 REAL,
    cdate               INTEGER,
    mdate               INTEGER
);

-- ----------------------------------------------------------------- road works
-- ci_chantier: one row per work.  A work may hold several acts (fields joined
-- with '#'): start_day / end_day span all of them, road_work_act lists each.
CREATE TABLE road_work (
    gid             INTEGER PRIMARY KEY,
    ident           TEXT,
    localisation    TEXT,
    nature_n1       TEXT,
    nature_n2       TEXT,
    nature          TEXT,
    sous_nature     TEXT,
    start_day       INTEGER,
    end_day         INTEGER,
    mesures         TEXT,                  -- MES_LIBELLE as received
    geom_type       TEXT,
    geometry        TEXT,
    lon             REAL,
    lat             REAL,
    source_id       INTEGER
);

CREATE TABLE road_work_act (
    gid       INTEGER NOT NULL,
    act_no    INTEGER NOT NULL,            -- 1-based position in the '#' list
    act_gid   INTEGER,
    start_day INTEGER,
    end_day   INTEGER,
    PRIMARY KEY (gid, act_no)
) WITHOUT ROWID;
