-- Bouchon warehouse, migration 3: Kafka consumer offsets (`bouchon load`).
-- See docs/STREAMING.md.
--
-- Exactly-once effect: a `load` member writes the rows of a batch of messages
-- and, in the same transaction, the next offset to read of every partition
-- the batch came from.  On start and on every partition assignment it resumes
-- from these rows, never from the offsets committed to Kafka (those are only
-- written afterwards, for lag monitoring).  A partition with no row is read
-- from its beginning.
CREATE TABLE kafka_offset (
    group_id    TEXT NOT NULL,              -- consumer group (bouchon load --group)
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,           -- offset of the next message to load
    updated_at  INTEGER NOT NULL,           -- Unix time of the transaction
    PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;

-- End-of-payload markers seen (one per partition of the raw topic).  The
-- transaction that records the last missing partition of a payload writes
-- the payload's snapshot: every record of the payload precedes its marker on
-- its partition, so by then all of them are in the warehouse.  Markers seen
-- again (a payload ingested twice) change nothing.
CREATE TABLE kafka_marker (
    topic        TEXT NOT NULL,
    content_hash TEXT NOT NULL,             -- raw_source.content_hash of the payload
    partition    INTEGER NOT NULL,
    partitions   INTEGER NOT NULL,          -- partition count announced by the marker
    PRIMARY KEY (topic, content_hash, partition)
) WITHOUT ROWID;
