"""Helpers for the streaming tests on the real 3-broker cluster (Python 3.11 stdlib).

The cluster is the repository's scripts/kafka/cluster.sh (Kafka 4.x, KRaft, 3 nodes on
127.0.0.1), started once per test module in its own BOUCHON_KAFKA_DATA temp dir.
"""

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KAFKA_DIR = Path(__file__).resolve().parent
REPO_ROOT = KAFKA_DIR.parents[1]
CLUSTER_SH = REPO_ROOT / "scripts" / "kafka" / "cluster.sh"
SNAPSHOTS = REPO_ROOT / "data" / "bordeaux"
GEN_SCRIPT = REPO_ROOT / "bench" / "gen_synthetic_day.py"
SCHEMA = KAFKA_DIR / "message_schema.json"


def bouchon_bin():
    env = os.environ.get("BOUCHON_BIN")
    if env:
        path = Path(env)
        return path if path.is_absolute() else REPO_ROOT / path
    return REPO_ROOT / "build" / "bouchon"


def run(*args, timeout=120, check=False, env=None):
    """subprocess.run of the bouchon binary (text output captured)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([str(bouchon_bin()), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=check, env=full_env)


# --------------------------------------------------------------------------------------
# The cluster


class Cluster:
    """scripts/kafka/cluster.sh with a private state dir."""

    def __init__(self):
        self.data = tempfile.mkdtemp(prefix="bouchon-kafka-test-")
        self.env = dict(os.environ, BOUCHON_KAFKA_DATA=self.data)
        self.bootstrap = None

    def sh(self, *args, timeout=180, check=True):
        r = subprocess.run(["bash", str(CLUSTER_SH), *map(str, args)], capture_output=True,
                           text=True, timeout=timeout, env=self.env)
        if check and r.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(map(str, args))} failed "
                               f"({r.returncode}): {r.stderr[-3000:]}")
        return r

    def start(self):
        r = self.sh("start")
        self.bootstrap = r.stdout.strip().splitlines()[-1]
        return self.bootstrap

    def stop(self):
        self.sh("stop", check=False)

    def clean(self):
        self.sh("clean", check=False)


# --------------------------------------------------------------------------------------
# Inputs


def make_synthetic_slice(out_dir, first="0745", minutes=90):
    """A shorter synthetic day: the generator's day cut to `minutes` one-minute files
    from local time `first` (the morning peak, where the jams are). The generator has
    no option for this; its module-level MINUTES is lowered instead (same seed, same
    bytes for the files kept)."""
    hh, mm = int(first[:2]), int(first[2:])
    upto = hh * 60 + mm + minutes
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import gen_synthetic_day as g; "
            "g.MINUTES = int(sys.argv[2]); sys.argv = ['gen', '--out', sys.argv[3]]; g.main()")
    subprocess.run([sys.executable, "-c", code, str(GEN_SCRIPT.parent), str(upto), str(out_dir)],
                   check=True, capture_output=True, timeout=300)
    kept = []
    for f in sorted(Path(out_dir).glob("ci_trafi_l_*.csv")):
        stamp = f.stem.rsplit("T", 1)[1]
        if stamp < first:
            f.unlink()
        else:
            kept.append(f)
    assert len(kept) == minutes, f"expected {minutes} files, got {len(kept)}"
    return kept


# --------------------------------------------------------------------------------------
# Processes


class Proc:
    """A bouchon process in the background, stderr to a file."""

    def __init__(self, args, log_path, env=None):
        self.args = [str(bouchon_bin()), *map(str, args)]
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=full_env)

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def kill(self):
        self.signal(signal.SIGKILL)
        return self.wait(30)

    def stop(self, timeout=60):
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout=None):
        try:
            rc = self.p.wait(timeout)
        finally:
            if self.p.poll() is not None:
                self.log.close()
        return rc

    def text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            if not self.alive():
                return needle in self.text()
            time.sleep(0.05)
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# Topics and progress


def create_topics(bootstrap, topic, dlq, *extra):
    r = run("topics", "--brokers", bootstrap, "--topic", topic, "--dlq-topic", dlq, *extra,
            "create", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def describe(bootstrap, topic, dlq):
    r = run("topics", "--brokers", bootstrap, "--topic", topic, "--dlq-topic", dlq,
            "describe", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    return {t["name"]: t for t in json.loads(r.stdout)}


def high_watermarks(bootstrap, topic):
    d = describe(bootstrap, topic, topic)[topic]
    return {p["partition"]: p["high"] for p in d["partitions"]}


def loaded_offsets(db, group, topic):
    if not Path(db).exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute("SELECT partition, next_offset FROM kafka_offset WHERE "
                               "group_id = ? AND topic = ?", (group, topic)).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:
        return {}
    return dict(rows)


def wait_loaded(bootstrap, db, group, topic, timeout=180, procs=()):
    """Waits until the warehouse's offsets reach the end of every partition."""
    hw = high_watermarks(bootstrap, topic)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        off = loaded_offsets(db, group, topic)
        if all(off.get(p, 0) >= h for p, h in hw.items()):
            return off
        for p in procs:
            if not p.alive():
                raise AssertionError(f"{p.args[1]} exited early ({p.p.returncode}):\n"
                                     f"{p.text()[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(f"not loaded within {timeout}s: offsets {loaded_offsets(db, group, topic)}"
                         f", high watermarks {hw}")


# --------------------------------------------------------------------------------------
# Warehouse comparison

TABLES = {
    "observation": "SELECT s.ident, o.mdate, o.state, o.gid FROM observation o "
                   "JOIN segment s USING (segment_id) ORDER BY 1, 2",
    "state_interval": "SELECT s.ident, i.start, i.end, i.state FROM state_interval i "
                      "JOIN segment s USING (segment_id) ORDER BY 1, 2",
    "jam_episode": "SELECT s.ident, j.start, j.end, j.last_congested, j.left_censored, "
                   "j.right_censored, j.seen_until, j.peak_state FROM jam_episode j "
                   "JOIN segment s USING (segment_id) ORDER BY 1, 2",
    "hourly_segment": "SELECT s.ident, h.hour, h.s_fluide, h.s_dense, h.s_congested, "
                      "h.s_unknown FROM hourly_segment h JOIN segment s USING (segment_id) "
                      "ORDER BY 1, 2",
    "segment": "SELECT ident, gid, typevoie, commune, code_commune, origine, geom_hash, "
               "round(length_m, 6), first_seen FROM segment ORDER BY 1",
    "snapshot": "SELECT at, segments, n_inconnu, n_fluide, n_dense, n_embouteille, n_paralyse, "
                "n_stale, round(known_km, 6), round(congested_km, 6), flag FROM snapshot "
                "ORDER BY 1",
    "queue": "SELECT at, queue_no, round(length_m, 6), n_segments, idents FROM queue "
             "ORDER BY 1, 2",
    "raw_record": "SELECT record_hash, body FROM raw_record ORDER BY 1",
}

# What the issue requires to be identical; the others are compared too and reported.
REQUIRED = ("observation", "state_interval", "jam_episode")


def dump(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return {name: con.execute(q).fetchall() for name, q in TABLES.items()}
    finally:
        con.close()


def compare(db, ref, tables=tuple(TABLES)):
    """Asserts db holds exactly ref's rows in the given tables (and no duplicates:
    observation rows are unique on (ident, mdate) by the primary key; checked anyway)."""
    got, want = dump(db), dump(ref)
    obs = got["observation"]
    assert len({(r[0], r[1]) for r in obs}) == len(obs), "duplicate observations"
    problems = []
    for t in tables:
        if got[t] != want[t]:
            g, w = set(got[t]), set(want[t])
            problems.append(f"{t}: {len(got[t])} rows vs {len(want[t])}; "
                            f"{len(g - w)} extra e.g. {sorted(g - w)[:3]}, "
                            f"{len(w - g)} missing e.g. {sorted(w - g)[:3]}")
    assert not problems, "\n".join(problems)
    return {t: len(got[t]) for t in tables}


def kcat_consume(bootstrap, topic, timeout=120):
    """Every message of topic through kcat -J (a real client, not librdkafka via Bouchon)."""
    r = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e",
                        "-J", "-q"], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def headers_of(msg):
    h = msg.get("headers") or []
    return {h[i]: h[i + 1] for i in range(0, len(h) - 1, 2)}


def schema_errors(schema, value):
    """Errors of value against schema: python3-jsonschema when installed, else a small
    validator of the subset message_schema.json uses ($ref, allOf, if/then, oneOf,
    type, const, enum, required, properties, items, pattern, min/max, minLength)."""
    try:
        import jsonschema
    except ImportError:
        return _mini_validate(schema, schema, value, "$")
    v = jsonschema.Draft202012Validator(schema)
    return [e.message for e in v.iter_errors(value)]


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(t, v):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, _TYPES[t])


def _mini_validate(root, s, v, where):
    import re

    errs = []
    if "$ref" in s:
        node = root
        for part in s["$ref"].lstrip("#/").split("/"):
            node = node[part]
        errs += _mini_validate(root, node, v, where)
    for sub in s.get("allOf", []):
        errs += _mini_validate(root, sub, v, where)
    if "if" in s and not _mini_validate(root, s["if"], v, where):
        errs += _mini_validate(root, s.get("then", {}), v, where)
    if "oneOf" in s:
        ok = sum(not _mini_validate(root, sub, v, where) for sub in s["oneOf"])
        if ok != 1:
            errs.append(f"{where}: matches {ok} of oneOf")
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is_type(t, v) for t in types):
            return errs + [f"{where}: {v!r} is not {types}"]
    if "const" in s and v != s["const"]:
        errs.append(f"{where}: {v!r} != {s['const']!r}")
    if "enum" in s and v not in s["enum"]:
        errs.append(f"{where}: {v!r} not in {s['enum']}")
    if isinstance(v, dict):
        errs += [f"{where}: missing {k}" for k in s.get("required", []) if k not in v]
        for k, sub in s.get("properties", {}).items():
            if k in v:
                errs += _mini_validate(root, sub, v[k], f"{where}.{k}")
    if isinstance(v, list) and "items" in s:
        for i, item in enumerate(v):
            errs += _mini_validate(root, s["items"], item, f"{where}[{i}]")
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append(f"{where}: {v!r} does not match {s['pattern']}")
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 62):
            errs.append(f"{where}: length {len(v)} out of bounds")
    if _is_type("number", v) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            errs.append(f"{where}: {v} < {s['minimum']}")
    return errs


def rng(seed):
    return random.Random(seed)
