-- Bouchon warehouse, migration 4: jam episodes end where the data stops.
-- See docs/ANALYTICS.md ("jam episode", "right-censored", "ongoing").
--
-- A gap above the stale limit between two observations of a segment now
-- ends its open episode at last_congested + stale limit (right-censored);
-- a congested observation after the gap opens a new, left-censored one.
-- An episode with no end counts up to the data, never past seen_until.
ALTER TABLE jam_episode ADD COLUMN right_censored INTEGER NOT NULL DEFAULT 0;
    -- 1: the end was not seen as a known clear state (a gap above the stale
    -- limit, or INCONNU): the jam may have lasted longer
ALTER TABLE jam_episode ADD COLUMN seen_until INTEGER;
    -- last_congested + the loader's stale limit: the last instant the
    -- episode was observed to go on.  An episode with end NULL whose
    -- seen_until is older than the data (the latest snapshot) ended unseen
    -- there: readers report it with end = seen_until, right-censored.
UPDATE jam_episode SET seen_until = last_congested + 900;

-- Segments whose derived rows (intervals, episodes, hourly coverage) the
-- next loader recomputes from their observations, in its first write
-- transaction, then forgets.  Filled here with every segment that has
-- episodes: those were computed under the old rule (a gap never ended an
-- episode).  A read-only report of a not yet rebuilt warehouse still caps
-- each episode at the data (seen_until), but may show one episode where
-- the rebuild gives two.
CREATE TABLE rebuild_segment (
    segment_id INTEGER PRIMARY KEY
);
INSERT INTO rebuild_segment(segment_id) SELECT DISTINCT segment_id FROM jam_episode;
