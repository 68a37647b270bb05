"""`bouchon ingest` / `bouchon load` / `bouchon topics` on a REAL 3-broker Kafka cluster.

One cluster for the whole module (scripts/kafka/cluster.sh, private state dir). Every
scenario streams the same inputs -- the two real snapshots of data/bordeaux and a
90-minute synthetic slice of the morning peak -- through its own topics and consumer
group into its own warehouse, breaks something on the way, and then requires the
warehouse to hold exactly what a direct `bouchon replay` of the same inputs holds:
observations (ident, mdate, state, gid), state intervals and jam episodes (named by
ident), with no duplicate; segments, hourly coverage, raw records, snapshots and queues
are compared too.
"""

import json
import signal
import time
import urllib.request
from pathlib import Path

from kafka_helpers import (SCHEMA, SNAPSHOTS, Proc, compare, create_topics, describe,
                           free_port, headers_of, kcat_consume, loaded_offsets, rng, run,
                           schema_errors, wait_loaded)

N_PAYLOADS = 92  # 2 real snapshots + 90 synthetic minutes
PARTITIONS = 6


class Stream:
    """One scenario's topics, consumer group, checkpoint and warehouse."""

    def __init__(self, cluster, workdir, name):
        self.cluster = cluster
        self.b = cluster.bootstrap
        self.topic = f"bouchon.raw.ci_trafi_l.{name}"
        self.dlq = f"bouchon.dlq.{name}"
        self.group = f"bouchon-load-{name}"
        self.dir = Path(workdir) / name
        self.dir.mkdir()
        self.db = self.dir / "warehouse.db"
        self.ckpt = self.dir / "ingest.ckpt"
        self.n = 0
        create_topics(self.b, self.topic, self.dlq)

    def _log(self, what):
        self.n += 1
        return self.dir / f"{self.n:02d}-{what}.log"

    def ingest_args(self, inputs, *extra):
        return ["ingest", "--brokers", self.b, "--topic", self.topic, "--dlq-topic", self.dlq,
                "--checkpoint", self.ckpt, *extra, "--replay", *inputs]

    def ingest(self, inputs, *extra):
        return Proc(self.ingest_args(inputs, *extra), self._log("ingest"))

    def ingest_run(self, inputs, *extra, timeout=300):
        return run(*self.ingest_args(inputs, *extra), timeout=timeout)

    def load(self, *extra, name="load"):
        return Proc(["load", "--brokers", self.b, "--db", self.db, "--group", self.group,
                     "--topic", self.topic, *extra], self._log(name))

    def wait_loaded(self, procs=(), timeout=300):
        return wait_loaded(self.b, self.db, self.group, self.topic, timeout=timeout, procs=procs)

    def checkpointed(self):
        if not self.ckpt.exists():
            return []
        return [line.split()[0] for line in self.ckpt.read_text().splitlines() if line.strip()]

    def offsets_total(self):
        return sum(loaded_offsets(self.db, self.group, self.topic).values())


def stop_all(*procs):
    for p in procs:
        if p is not None and p.alive():
            p.kill()


# --------------------------------------------------------------------------------------


def test_topics_create_and_describe(cluster):
    """Admin API: 6 partitions, RF 3, min.insync.replicas 2; creating again is a no-op."""
    r = run("topics", "--brokers", cluster.bootstrap, "create")
    assert r.returncode == 0, r.stderr
    assert "created bouchon.raw.ci_trafi_l: 6 partitions, replication factor 3" in r.stdout
    assert "created bouchon.dlq" in r.stdout
    r = run("topics", "--brokers", cluster.bootstrap, "create")
    assert r.returncode == 0 and "exists bouchon.raw.ci_trafi_l" in r.stdout, r.stdout
    d = describe(cluster.bootstrap, "bouchon.raw.ci_trafi_l", "bouchon.dlq")
    for name in ("bouchon.raw.ci_trafi_l", "bouchon.dlq"):
        t = d[name]
        assert t["exists"] and len(t["partitions"]) == 6 and t["replication_factor"] == 3
        assert t["configs"]["min.insync.replicas"] == "2"
        assert t["config_sources"]["min.insync.replicas"] == "DYNAMIC_TOPIC_CONFIG"
        for p in t["partitions"]:
            assert sorted(p["replicas"]) == [1, 2, 3] and len(p["isr"]) == 3
    r = run("topics", "--brokers", cluster.bootstrap, "describe")
    assert "topic bouchon.raw.ci_trafi_l: 6 partitions, replication factor 3" in r.stdout


def test_config_file_and_property_errors(cluster, workdir):
    """-X and --config pass librdkafka properties through; errors say where."""
    conf = Path(workdir) / "bad.conf"
    conf.write_text("# comment\n\nbootstrap.servers = " + cluster.bootstrap + "\nno.such.prop=1\n")
    r = run("topics", "--config", conf, "describe")
    assert r.returncode == 2 and f"{conf}:4:" in r.stderr and "no.such.prop" in r.stderr, r.stderr
    conf.write_text("bootstrap.servers=" + cluster.bootstrap + "\nthis line has no equals\n")
    r = run("topics", "--config", conf, "describe")
    assert r.returncode == 2 and f"{conf}:2: expected prop=value" in r.stderr, r.stderr
    r = run("topics", "--brokers", cluster.bootstrap, "-X", "acks=sometimes", "describe")
    assert r.returncode == 2 and "-X" in r.stderr, r.stderr
    conf.write_text("bootstrap.servers=" + cluster.bootstrap + "\nclient.id=from-file\n")
    r = run("topics", "--config", conf, "describe")
    assert r.returncode == 0, r.stderr


def test_stream_equals_replay_with_metrics(cluster, workdir, inputs, reference):
    """No fault: ingest + load give the replay's warehouse; /metrics of both processes
    show the librdkafka statistics and the delivery / end-to-end latency histograms."""
    s = Stream(cluster, workdir, "plain")
    pi, pl = free_port(), free_port()
    ld = s.load("--listen", f"127.0.0.1:{pl}", "-X", "statistics.interval.ms=500")
    ing = s.ingest(inputs, "--pace", "0.05", "--listen", f"127.0.0.1:{pi}",
                   "-X", "statistics.interval.ms=500")
    try:
        assert ing.wait_for("records queued", 60), ing.text()
        time.sleep(1.5)
        body = urllib.request.urlopen(f"http://127.0.0.1:{pi}/metrics", timeout=10).read().decode()
        for name in ("bouchon_kafka_broker_up{broker=", "bouchon_kafka_broker_state{",
                     "bouchon_kafka_producer_queue_messages ",
                     "bouchon_kafka_delivery_latency_seconds_bucket{le=",
                     "bouchon_kafka_messages_produced_total{outcome=\"delivered\"}",
                     "bouchon_ingest_messages_total{type=\"record\"}"):
            assert name in body, f"{name} missing from ingest /metrics"
        assert ing.wait(300) == 0, ing.text()
        assert "every message delivered" in ing.text()
        s.wait_loaded([ld])
        time.sleep(1.2)
        body = urllib.request.urlopen(f"http://127.0.0.1:{pl}/metrics", timeout=10).read().decode()
        for name in ("bouchon_kafka_consumer_lag{topic=", "bouchon_kafka_broker_up{broker=",
                     "bouchon_load_end_to_end_latency_seconds_count",
                     "bouchon_load_messages_total{type=\"record\"}",
                     "bouchon_load_batches_total"):
            assert name in body, f"{name} missing from load /metrics"
        lags = [float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                if line.startswith("bouchon_kafka_consumer_lag{")]
        assert len(lags) == PARTITIONS and max(lags) == 0, lags
        assert ld.stop() == 0, ld.text()
    finally:
        stop_all(ing, ld)
    counts = compare(s.db, reference)
    assert counts["observation"] > 50000 and counts["jam_episode"] > 100, counts
    assert len(set(s.checkpointed())) == N_PAYLOADS


def test_real_client_reads_the_documented_schema(cluster, workdir, inputs):
    """kcat (not Bouchon's librdkafka code) reads the topic; every value is JSON that
    validates against tests/kafka/message_schema.json (docs/STREAMING.md)."""
    schema = json.loads(SCHEMA.read_text())
    s = Stream(cluster, workdir, "kcat")
    r = s.ingest_run(inputs[:2])
    assert r.returncode == 0, r.stderr
    msgs = kcat_consume(s.b, s.topic)
    assert len(msgs) == 2 * (694 + PARTITIONS)
    types = {}
    for m in msgs:
        value = json.loads(m["payload"])
        errors = schema_errors(schema, value)
        assert not errors, f"{m['partition']}/{m['offset']}: {errors[:3]}"
        types[value["type"]] = types.get(value["type"], 0) + 1
        h = headers_of(m)
        assert h["bouchon-type"] == value["type"] and h["bouchon-dataset"] == "ci_trafi_l"
        assert h["bouchon-source"] == value["source"]["name"]
        assert h["bouchon-fetched-at"] == value["source"]["fetched_at"]
        if value["type"] == "record":
            assert m["key"] == value["observation"]["ident"]
        else:
            assert value["partition"] == m["partition"] and value["partitions"] == PARTITIONS
    assert types == {"record": 2 * 694, "end": 2 * PARTITIONS}
    # one segment's records stay on one partition, in order
    where = {}
    for m in msgs:
        if m["key"]:
            where.setdefault(m["key"], set()).add(m["partition"])
    assert all(len(p) == 1 for p in where.values())


def test_load_killed_20_times(cluster, workdir, inputs, reference):
    """`load` SIGKILLed at random moments 20 times (mostly while it is committing
    batches), restarted each time: the warehouse still equals the replay's."""
    s = Stream(cluster, workdir, "kill-load")
    r = rng(20251218)
    ing = s.ingest(inputs, "--pace", "0.25")
    # Static membership: a restarted member takes its place at once (no 6 s session wait).
    member = ("-X", "group.instance.id=bouchon-load-kill", "--batch", "400", "--batch-ms", "50")
    ld = None
    mid_stream = 0
    try:
        for _ in range(20):
            before = s.offsets_total()
            ld = s.load(*member)
            time.sleep(r.uniform(0.3, 1.8))
            after = s.offsets_total()
            ld.kill()
            mid_stream += after > before
        assert ing.wait(300) == 0, ing.text()
        ld = s.load(*member)
        s.wait_loaded([ld])
        assert ld.stop() == 0, ld.text()
    finally:
        stop_all(ing, ld)
    assert mid_stream >= 10, f"only {mid_stream} of 20 kills hit a member that was loading"
    compare(s.db, reference)


def test_ingest_killed_and_restarted(cluster, workdir, inputs, reference):
    """`ingest` SIGKILLed mid-stream; the restarted one skips what its checkpoint says was
    delivered, produces the rest again (duplicates are harmless) and exits 0."""
    s = Stream(cluster, workdir, "kill-ingest")
    ld = s.load()
    ing = s.ingest(inputs, "--pace", "0.1")
    try:
        deadline = time.monotonic() + 60
        while len(s.checkpointed()) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        ing.kill()
        done = len(s.checkpointed())
        assert 30 <= done < N_PAYLOADS, done
        r = s.ingest_run(inputs)
        assert r.returncode == 0, r.stderr
        assert r.stderr.count("delivered before (checkpoint), skipped") >= done
        assert sorted(set(s.checkpointed())) == sorted(s.checkpointed())
        assert len(s.checkpointed()) == N_PAYLOADS
        s.wait_loaded([ld])
        assert ld.stop() == 0, ld.text()
    finally:
        stop_all(ing, ld)
    compare(s.db, reference)


def test_ingest_sigterm_flushes_and_resumes(cluster, workdir, inputs, reference):
    """SIGTERM: ingest stops reading, flushes what it queued, checkpoints it, exits 0;
    the next run produces the rest."""
    s = Stream(cluster, workdir, "sigterm")
    ld = s.load()
    ing = s.ingest(inputs, "--pace", "0.1")
    try:
        assert ing.wait_for("records queued", 60)
        time.sleep(2)
        ing.signal(signal.SIGTERM)
        assert ing.wait(60) == 0, ing.text()
        assert "flushing" in ing.text()
        done = len(s.checkpointed())
        assert 0 < done < N_PAYLOADS
        r = s.ingest_run(inputs)
        assert r.returncode == 0, r.stderr
        assert len(s.checkpointed()) == N_PAYLOADS
        s.wait_loaded([ld])
        assert ld.stop() == 0
    finally:
        stop_all(ing, ld)
    compare(s.db, reference)


def test_one_broker_stopped_mid_stream(cluster, workdir, inputs, reference):
    """One broker of three stopped while both processes run, then restarted."""
    s = Stream(cluster, workdir, "broker-down")
    ld = s.load()
    ing = s.ingest(inputs, "--pace", "0.15")
    try:
        assert ing.wait_for("records queued", 60)
        time.sleep(2)
        cluster.sh("stop-node", 2)
        assert ing.alive(), ing.text()
        time.sleep(4)
        cluster.sh("start-node", 2)
        assert ing.wait(300) == 0, ing.text()
        s.wait_loaded([ld])
        assert ld.stop() == 0, ld.text()
    finally:
        stop_all(ing, ld)
        cluster.sh("start-node", 2, check=False)
    compare(s.db, reference)


def test_all_brokers_stopped_30s(cluster, workdir, inputs, reference):
    """The whole cluster stopped for 30 s while ingest runs: messages wait in the
    producer queue (backpressure, not loss) and are delivered once it is back."""
    s = Stream(cluster, workdir, "cluster-down")
    ld = s.load()
    ing = s.ingest(inputs, "--pace", "0.2")
    try:
        assert ing.wait_for("records queued", 60)
        time.sleep(3)
        cluster.stop()
        down = time.monotonic()
        time.sleep(30)
        assert ing.alive() and ld.alive(), ing.text() + ld.text()
        assert time.monotonic() - down >= 30
        cluster.start()
        assert ing.wait(400) == 0, ing.text()
        s.wait_loaded([ld], timeout=400)
        assert ld.stop() == 0, ld.text()
    finally:
        stop_all(ing, ld)
        if cluster.sh("status", check=False).returncode != 0:
            cluster.start()
    compare(s.db, reference)


def test_second_load_joins_and_leaves(cluster, workdir, inputs, reference):
    """A second `load` joins mid-stream (the partitions are split between the two
    members) and later leaves (SIGTERM): two rebalances, same warehouse."""
    s = Stream(cluster, workdir, "rebalance")
    a = s.load(name="load-a")
    b = None
    ing = s.ingest(inputs, "--pace", "0.15")
    try:
        assert ing.wait_for("records queued", 60)
        time.sleep(2)
        b = s.load("--batch", "300", name="load-b")
        assert b.wait_for("assigned (offsets from the warehouse) partition(s) [", 60), b.text()
        time.sleep(5)
        assert b.stop() == 0, b.text()
        assert ing.wait(300) == 0, ing.text()
        s.wait_loaded([a])
        assert a.stop() == 0, a.text()
    finally:
        stop_all(ing, a, b)
    b_log, a_log = b.text(), a.text()
    shared = [line for line in b_log.splitlines() if "assigned (offsets" in line
              and "[]" not in line]
    assert shared, b_log
    b_records = int(b_log.rsplit("message(s): ", 1)[1].split(" record(s)")[0])
    assert b_records > 0, b_log
    assert a_log.count("assigned (offsets from the warehouse)") >= 3, a_log
    compare(s.db, reference)


def _bad_input(path):
    """The real 09:50 snapshot plus a malformed record (bad mdate) and an oversized one
    (a 1.3 MB geometry: its message would exceed the 1 MB limit)."""
    src = (SNAPSHOTS / "ci_trafi_l_2025-12-18T0950.csv").read_text(encoding="utf-8")
    lines = src.rstrip("\n").split("\n")
    fields = lines[1].split(";")
    # fields: geo_point_2d;geo_shape;gml_id;gid;ident;typevoie;etat;cdate;mdate;...
    bad = lines[1].split(";")
    bad[4] = "ZZ_BAD"
    bad[3] = "99001"
    bad[8] = "2025-13-45T99:00:00+01:00"
    coords = ", ".join(f"[-0.{600000 + i}, 44.{820000 + i}]" for i in range(60000))
    big = list(fields)
    big[1] = '"{""coordinates"": [' + coords + '], ""type"": ""LineString""}"'
    big[4] = "ZZ_BIG"
    big[3] = "99002"
    with_bad = lines + [";".join(bad)]
    Path(path).write_text("\n".join(with_bad + [";".join(big)]) + "\n", encoding="utf-8")
    ref = Path(path).with_name("without-big.csv")
    ref.write_text("\n".join(with_bad) + "\n", encoding="utf-8")
    return Path(path), ref


def test_malformed_and_oversized_go_to_the_dead_letter_topic(cluster, workdir):
    s = Stream(cluster, workdir, "dlq")
    inp, ref_inp = _bad_input(s.dir / "ci_trafi_l_bad.csv")
    ref_db = s.dir / "reference.db"
    r = run("-q", "replay", "--db", ref_db, ref_inp)
    assert r.returncode == 3, r.stderr  # replay also rejects the malformed record
    r = s.ingest_run([inp])
    assert r.returncode == 0, r.stderr
    assert "1 oversized" in r.stderr, r.stderr
    dead = kcat_consume(s.b, s.dlq)
    assert len(dead) == 2, dead
    by_reason = {headers_of(m)["bouchon-reason"]: m for m in dead}
    oversized = [m for k, m in by_reason.items() if k.startswith("oversized")]
    malformed = [m for k, m in by_reason.items() if not k.startswith("oversized")]
    assert len(oversized) == 1 and len(malformed) == 1, list(by_reason)
    big, bad = json.loads(oversized[0]["payload"]), json.loads(malformed[0]["payload"])
    assert oversized[0]["key"] == "ZZ_BIG" and big["position"] == 697
    assert big["size"] > 1_000_000 and big["raw_truncated"] is True
    assert '""coordinates"": [[-0.600000, 44.820000]' in big["raw"]  # the line as received
    assert bad["field"] == "mdate" and "ZZ_BAD" in bad["raw"] and bad["position"] == 696
    assert bad["value"] == "2025-13-45T99:00:00+01:00" and bad["raw_truncated"] is False
    for m in dead:
        h = headers_of(m)
        assert h["bouchon-type"] == "rejected" and h["bouchon-position"]
    ld = s.load()
    try:
        s.wait_loaded([ld])
        assert ld.stop() == 0
    finally:
        stop_all(ld)
    compare(s.db, ref_db)


def test_undeliverable_messages_are_counted(cluster, workdir):
    """acks=all cannot be met (min.insync.replicas 3, one broker down): --replay exits
    non-zero, says how many messages were not delivered, checkpoints nothing."""
    name = "isr3"
    topic, dlq = f"bouchon.raw.ci_trafi_l.{name}", f"bouchon.dlq.{name}"
    create_topics(cluster.bootstrap, topic, dlq, "--min-insync", "3")
    d = Path(workdir) / name
    d.mkdir()
    cluster.sh("stop-node", 3)
    try:
        r = run("ingest", "--brokers", cluster.bootstrap, "--topic", topic, "--dlq-topic", dlq,
                "--checkpoint", d / "ckpt", "-X", "message.timeout.ms=4000",
                "--replay", SNAPSHOTS / "ci_trafi_l_2025-12-18T0950.csv", timeout=120)
    finally:
        cluster.sh("start-node", 3)
    assert r.returncode == 4, r.stderr
    assert "700 message(s) could not be delivered" in r.stderr, r.stderr
    assert not (d / "ckpt").exists() or (d / "ckpt").read_text() == ""
