-- Bouchon warehouse, migration 1: raw, transformed and analytics layers.
-- Times are INTEGER seconds since the Unix epoch, UTC.  States are INTEGER
-- codes: 0 INCONNU, 1 FLUIDE, 2 DENSE, 3 EMBOUTEILLE, 4 PARALYSE
-- (state_name maps them back).  Congested = state >= 3.

-- ---------------------------------------------------------------- raw layer
-- One row per input payload: a file given to replay/import, or one API poll.
CREATE TABLE raw_source (
    source_id    INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,             -- 'file' or 'api'
    name         TEXT NOT NULL,             -- path, or URL without credentials
    dataset      TEXT NOT NULL,             -- e.g. 'ci_trafi_l'
    format       TEXT NOT NULL,             -- csv, json, records, geojson, v1
    content_hash TEXT NOT NULL UNIQUE,      -- XXH3-128 hex of the payload bytes
    fetched_at   INTEGER NOT NULL,          -- when it was received (API) or loaded (file)
    snapshot_at  INTEGER,                   -- newest mdate in the payload
    header       TEXT,                      -- CSV payloads: the header line
    records      INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    completed    INTEGER NOT NULL DEFAULT 0 -- 1 once every record was stored or rejected
);

-- Geometry text, stored once: segment geometries rarely change, and they are
-- most of the bytes of every record.
CREATE TABLE raw_geometry (
    geom_hash TEXT PRIMARY KEY,             -- XXH3-128 hex of the geometry text
    geojson   TEXT NOT NULL
) WITHOUT ROWID;

-- Each record as received, once (content-addressed).  body is a CSV record's
-- line as received (the header is in raw_source.header) or a JSON record's
-- compact JSON; the geometry is replaced by "$geom:<hash>" (CSV) or
-- {"$geom": "<hash>"} (JSON), see the raw_record_full view.
-- A rowid table (rows appended in arrival order) with a unique index on the
-- hash: random hashes as the primary key would scatter the wide rows over
-- the whole B-tree and rewrite most pages of it on every load.
CREATE TABLE raw_record (
    record_id   INTEGER PRIMARY KEY,
    record_hash TEXT NOT NULL UNIQUE,       -- XXH3-128 hex of the record text
    source_id   INTEGER NOT NULL REFERENCES raw_source(source_id),
    position    INTEGER NOT NULL,           -- CSV line number or JSON array index (1-based)
    fetched_at  INTEGER NOT NULL,
    geom_hash   TEXT,
    body        TEXT NOT NULL
);

CREATE VIEW raw_record_full AS
SELECT r.record_hash, r.source_id, r.position, r.fetched_at, r.body, g.geojson AS geo_shape
FROM raw_record r LEFT JOIN raw_geometry g ON g.geom_hash = r.geom_hash;

-- Records or files that could not be used, with where and why; also fields
-- that were coerced (e.g. an unknown etat stored as INCONNU), with coerced = 1.
CREATE TABLE rejected (
    reject_id   INTEGER PRIMARY KEY,
    source_id   INTEGER REFERENCES raw_source(source_id),
    source_name TEXT NOT NULL,
    position    INTEGER NOT NULL,           -- line (CSV) or record index (JSON); 0 = whole payload
    field       TEXT NOT NULL,              -- field name, or '' for the whole record
    reason      TEXT NOT NULL,
    value       TEXT,                       -- offending value, truncated to 200 bytes
    coerced     INTEGER NOT NULL DEFAULT 0, -- 1: record kept, this field defaulted
    rejected_at INTEGER NOT NULL,
    UNIQUE (source_id, position, field)
);

-- -------------------------------------------------------- transformed layer
CREATE TABLE state_name (
    state INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
);
INSERT INTO state_name VALUES (0,'INCONNU'),(1,'FLUIDE'),(2,'DENSE'),(3,'EMBOUTEILLE'),(4,'PARALYSE');

-- A road segment, identified by its stable code ident (Bordeaux renumbers gid).
CREATE TABLE segment (
    segment_id   INTEGER PRIMARY KEY,
    ident        TEXT NOT NULL UNIQUE,
    gid          INTEGER,                   -- current gid (latest seen)
    typevoie     TEXT,
    commune      TEXT,
    code_commune TEXT,
    origine      TEXT,
    geom_type    TEXT,                      -- LineString or MultiLineString
    geom_hash    TEXT,
    geometry     TEXT,                      -- GeoJSON geometry
    length_m     REAL,
    first_seen   INTEGER NOT NULL           -- mdate of its first observation
);

-- Every gid a segment had, with the period it was seen valid.
CREATE TABLE segment_gid (
    gid        INTEGER NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES segment(segment_id),
    valid_from INTEGER NOT NULL,            -- first mdate seen with this gid
    valid_to   INTEGER,                     -- mdate of the first record with another gid; NULL = current
    PRIMARY KEY (gid, segment_id)
) WITHOUT ROWID;

-- One state per segment per mdate (the feed's update time), UTC.
CREATE TABLE observation (
    segment_id INTEGER NOT NULL,
    mdate      INTEGER NOT NULL,
    state      INTEGER NOT NULL,
    gid        INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,            -- when the payload first carrying it was received or loaded
    PRIMARY KEY (segment_id, mdate)
) WITHOUT ROWID;

-- Runs of one state: [start, end), end NULL while open.
CREATE TABLE state_interval (
    segment_id INTEGER NOT NULL,
    start      INTEGER NOT NULL,
    end        INTEGER,
    state      INTEGER NOT NULL,
    PRIMARY KEY (segment_id, start)
) WITHOUT ROWID;

-- ---------------------------------------------------------- analytics layer
-- Per-segment detection state is not stored separately: on start it is
-- derived from the latest observation, open interval and latest episode.
-- Jam episodes of one segment (CONGESTION_METRICS.md "Jam episode").
CREATE TABLE jam_episode (
    segment_id     INTEGER NOT NULL,
    start          INTEGER NOT NULL,        -- first congested mdate
    end            INTEGER,                 -- first non-congested mdate; NULL while ongoing
    last_congested INTEGER NOT NULL,        -- last congested mdate seen
    left_censored  INTEGER NOT NULL,        -- 1: began before the data did
    peak_state     INTEGER NOT NULL,
    PRIMARY KEY (segment_id, start)
) WITHOUT ROWID;
CREATE INDEX jam_episode_start ON jam_episode(start);

-- One row per snapshot (poll or replayed file): network KPIs and feed health.
CREATE TABLE snapshot (
    at              INTEGER PRIMARY KEY,    -- snapshot instant (newest mdate, or fetch time)
    source_id       INTEGER,
    segments        INTEGER NOT NULL,
    n_inconnu       INTEGER NOT NULL,
    n_fluide        INTEGER NOT NULL,
    n_dense         INTEGER NOT NULL,
    n_embouteille   INTEGER NOT NULL,
    n_paralyse      INTEGER NOT NULL,
    n_stale         INTEGER NOT NULL,       -- known state but mdate older than the stale limit
    known_km        REAL NOT NULL,
    congested_km    REAL NOT NULL,
    dense_km        REAL NOT NULL,
    congested_share REAL,                   -- NULL when nothing is known
    weighted_index  REAL,
    unknown_share   REAL NOT NULL,
    stale_share     REAL NOT NULL,
    newest_mdate    INTEGER,
    newest_age_s    INTEGER,
    flag            TEXT                    -- NULL, 'empty', 'all_unknown'
);

-- Queues: connected groups of touching congested segments at one snapshot.
CREATE TABLE queue (
    at         INTEGER NOT NULL,
    queue_no   INTEGER NOT NULL,            -- 1 = longest at that instant
    length_m   REAL NOT NULL,
    n_segments INTEGER NOT NULL,
    idents     TEXT NOT NULL,               -- JSON array of member idents
    PRIMARY KEY (at, queue_no)
) WITHOUT ROWID;

-- Seconds spent in each state per segment and UTC hour (hour = start, epoch s).
-- An observation covers [mdate, min(next mdate, mdate + stale limit)).
CREATE TABLE hourly_segment (
    segment_id  INTEGER NOT NULL,
    hour        INTEGER NOT NULL,
    s_fluide    INTEGER NOT NULL DEFAULT 0,
    s_dense     INTEGER NOT NULL DEFAULT 0,
    s_congested INTEGER NOT NULL DEFAULT 0,
    s_unknown   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (segment_id, hour)
) WITHOUT ROWID;
CREATE INDEX hourly_segment_hour ON hourly_segment(hour);
