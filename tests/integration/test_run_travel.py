"""bouchon run polls the live travel times (ci_tpstj_a) beside ci_trafi_l.

The stand-in Opendatasoft server (ods_server.py) serves ci_tpstj_a from the real snapshot
shared/data/bordeaux/ci_tpstj_a_2025-12-17T1405Z.csv converted to the v2.1 shapes. Every
expectation here is computed from that CSV, read by the test itself, and from the rules of
docs/HISTORY.md ("Travel times": floor and cap need 100 samples of a corridor, sentinel = the
same value on at least 4 corridors at one instant, flag 8 when ref is 0 or missing, 16 for a
gid outside the corridor list), not from the program's output.
"""

import csv
import datetime as dt
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from helpers import REPO_ROOT, OdsServer, bouchon_bin, run_bouchon, shared_file

TRAVEL = "ci_tpstj_a"
TRAFFIC = "ci_trafi_l"
OLD_DATA = ["--stale-after", str(10 * 365 * 86400)]  # the recorded data is from 2025
FLOOR, CAP, SENTINEL, REF_ZERO, NOT_CORRIDOR = 1, 2, 4, 8, 16


def real_travel_csv():
    return shared_file("ci_tpstj_a_2025-12-17T1405Z.csv")


def real_rows():
    with open(real_travel_csv(), encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def epoch(iso):
    return int(dt.datetime.fromisoformat(iso).timestamp())


def expected_samples(rows):
    """{gid: (at, actuel, ref, flags)} from the CSV rows and the rules of docs/HISTORY.md,
    for one snapshot in an otherwise empty warehouse."""
    per_gid = Counter(int(r["bm_gid"]) for r in rows)
    same_value = Counter((epoch(r["bm_mdate"]), float(r["bm_actuel"])) for r in rows)
    out = {}
    for r in rows:
        gid, at, actuel = int(r["bm_gid"]), epoch(r["bm_mdate"]), float(r["bm_actuel"])
        ref = float(r["bm_ref"]) if r["bm_ref"] not in ("", None) else None
        flags = 0
        assert per_gid[gid] < 100  # one sample per corridor: floor and cap cannot apply
        if same_value[(at, actuel)] >= 4:
            flags |= SENTINEL
        if ref is None or ref == 0:
            flags |= REF_ZERO
        # every gid of a live snapshot comes with its label, so it is in the corridor list
        out[gid] = (at, actuel, ref, flags)
    return out


def travel_requests(ods):
    return [r for r in ods.requests() if r["path"].startswith(f"/api/explore/v2.1/catalog/"
                                                              f"datasets/{TRAVEL}/")]


def traffic_requests(ods):
    return [r for r in ods.requests() if f"/datasets/{TRAFFIC}/" in r["path"]]


def db_rows(db, sql, *args):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def run_once(ods, db, *extra, timeout=120):
    return run_bouchon("run", "--db", db, "--base-url", ods.base_url, "--once", *OLD_DATA,
                       *extra, timeout=timeout)


def stored_samples(db):
    return {gid: (at, actuel, ref, flags) for gid, at, actuel, ref, flags, period in
            db_rows(db, "SELECT gid, at, actuel, ref, flags, period_s FROM travel_time")
            if period == 0}


# --------------------------------------------------------------------------------------


def test_run_once_stores_the_real_corridors(tmp_path, bouchon):
    db = tmp_path / "tt.db"
    rows = real_rows()
    assert len(rows) == 16
    with OdsServer() as ods:
        r = run_once(ods, db)
        treqs = travel_requests(ods)
        nplain = len(traffic_requests(ods))
    assert r.returncode == 0, r.stderr
    assert len(treqs) == 1 and treqs[0]["status"] == 200
    assert nplain == 7  # the traffic poll: 694 records, pages of 100
    assert db_rows(db, "SELECT count(*) FROM observation")[0][0] == 694

    expected = expected_samples(rows)
    got = stored_samples(db)
    assert got == expected
    assert db_rows(db, "SELECT count(*) FROM travel_time")[0][0] == 16
    assert sum(1 for v in expected.values() if v[3] & SENTINEL) >= 4  # the rule did fire
    labels = {gid: (ident, label) for gid, ident, label in
              db_rows(db, "SELECT gid, ident, label FROM travel_corridor")}
    assert labels == {int(r["bm_gid"]): (int(r["bm_ident"]), r["bm_libelle"]) for r in rows}
    src = db_rows(db, "SELECT kind, name, format, records, rejected, completed, snapshot_at "
                      "FROM raw_source WHERE dataset = ?", TRAVEL)
    assert len(src) == 1
    kind, name, fmt, records, rejected, completed, snap = src[0]
    assert (kind, fmt, records, rejected, completed) == ("api", "json", 16, 0, 1)
    assert name.endswith(f"/datasets/{TRAVEL}/exports/json")
    assert snap == max(v[0] for v in expected.values())
    assert db_rows(db, "SELECT count(*) FROM rejected")[0][0] == 0
    n_flagged = sum(1 for v in expected.values() if v[3] & (FLOOR | CAP | SENTINEL))
    assert re.search(rf"{TRAVEL} \S+ 16 samples, 16 new, 0 duplicates, 0 rejected; "
                     rf"{n_flagged} flagged unhealthy", r.stderr), r.stderr


def test_the_same_snapshot_again_adds_nothing(tmp_path, bouchon):
    db = tmp_path / "idem.db"
    with OdsServer() as ods:
        r = run_bouchon("run", "--db", db, "--base-url", ods.base_url, "--interval", "5",
                        "--max-polls", "2", *OLD_DATA, timeout=120)
        assert r.returncode == 0, r.stderr
        assert len(travel_requests(ods)) == 2  # both polls fetched the travel times
        before = db_rows(db, "SELECT * FROM travel_time ORDER BY gid")
        corridors = db_rows(db, "SELECT * FROM travel_corridor ORDER BY gid")
        assert len(before) == 16
        assert db_rows(db, "SELECT count(*) FROM raw_source WHERE dataset = ?", TRAVEL) == [(1,)]

        # The same samples in other bytes (bm_cdate of one record changed): all duplicates.
        ods.control(scenario="bad_value", fault_dataset=TRAVEL, target_gid=1,
                    bad_field="bm_cdate", bad_value="2011-06-10")
        r = run_once(ods, db)
        assert r.returncode == 0, r.stderr
    assert "16 samples, 0 new, 16 duplicates, 0 rejected" in r.stderr
    assert db_rows(db, "SELECT * FROM travel_time ORDER BY gid") == before
    assert db_rows(db, "SELECT * FROM travel_corridor ORDER BY gid") == corridors
    assert db_rows(db, "SELECT count(*) FROM rejected")[0][0] == 0


class Run:
    """bouchon run in the background with its stderr collected line by line."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([str(bouchon_bin()), *map(str, args)],
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line)

    def text(self):
        with self.lock:
            return "".join(self.lines)

    def wait_for(self, pattern, count=1, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.text())) >= count:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {count} x {pattern!r} in the log:\n{self.text()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.reader.join(5)
        return self.proc.returncode


def metrics(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(bouchon_\w+)(\{[^}]*\})? (\S+)$', line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def test_failing_travel_times_leave_the_traffic_poll_and_the_run_alive(tmp_path, bouchon):
    db = tmp_path / "fault.db"
    with OdsServer(scenario="server_error_then_ok", fault_dataset=TRAVEL, fail_count=-1) as ods:
        run = Run("run", "--db", db, "--base-url", ods.base_url, "--interval", "5",
                  "--retries", "1", "--listen", "127.0.0.1:0", *OLD_DATA)
        try:
            run.wait_for(r"serving (http://127\.0\.0\.1:\d+)")
            base = re.search(r"serving (http://127\.0\.0\.1:\d+)", run.text()).group(1)
            # poll 1: the traffic stored, the travel times answered 5xx (first try + 1 retry)
            run.wait_for(rf"poll 1: {TRAVEL}: .*HTTP 50[03]")
            m = metrics(base)
            assert m['bouchon_polls_total{outcome="ok"}'] >= 1
            assert m['bouchon_travel_time_polls_total{outcome="network_error"}'] >= 1
            assert m['bouchon_travel_time_polls_total{outcome="ok"}'] == 0
            assert db_rows(db, "SELECT count(*) FROM observation")[0][0] == 694
            assert db_rows(db, "SELECT count(*) FROM travel_time")[0][0] == 0
            statuses = [q["status"] for q in travel_requests(ods)]
            assert statuses[:2] and all(s in (500, 503) for s in statuses)

            # then a body shorter than its Content-Length: a network error, after the retries
            errors = m['bouchon_travel_time_polls_total{outcome="network_error"}']
            ods.control(scenario="truncated", truncate_mode="short", fault_dataset=TRAVEL,
                        fail_count=-1)
            seen = len(travel_requests(ods))
            run.wait_for(rf"poll \d+: {TRAVEL}: ", count=2)
            m = metrics(base)
            assert m['bouchon_travel_time_polls_total{outcome="network_error"}'] == errors + 1
            assert [q["fault"] for q in travel_requests(ods)[seen:]] == ["truncated"] * 2
            assert db_rows(db, "SELECT count(*) FROM travel_time")[0][0] == 0

            # then a body cut in the middle (valid HTTP): retried, then the poll fails
            ods.control(scenario="truncated", truncate_mode="cut", fault_dataset=TRAVEL,
                        fail_count=-1)
            run.wait_for(rf"poll \d+: {TRAVEL}: invalid JSON in the export")
            m = metrics(base)
            assert m['bouchon_travel_time_polls_total{outcome="bad_payload"}'] >= 1
            assert m['bouchon_polls_total{outcome="ok"}'] >= 2  # the traffic polls go on
            assert db_rows(db, "SELECT count(*) FROM travel_time")[0][0] == 0
            assert db_rows(db, "SELECT count(*) FROM rejected")[0][0] == 0  # not stored
            assert run.proc.poll() is None

            # the portal recovers: the next poll stores the snapshot
            ods.control(scenario="normal", fault_dataset=None)
            run.wait_for(rf"{TRAVEL} \S+ 16 samples, 16 new")
            m = metrics(base)
            assert m['bouchon_travel_time_polls_total{outcome="ok"}'] == 1
            assert m['bouchon_travel_time_samples_total{outcome="stored"}'] == 16
            assert m["bouchon_travel_time_last_successful_poll_timestamp_seconds"] > 0
        finally:
            rc = run.stop()
    assert rc == 0, run.text()
    assert db_rows(db, "SELECT count(*) FROM travel_time")[0][0] == 16


def test_failing_traffic_poll_does_not_stop_the_travel_times(tmp_path, bouchon):
    db = tmp_path / "vv.db"
    with OdsServer(scenario="server_error_then_ok", fault_dataset=TRAFFIC, fail_count=-1) as ods:
        r = run_once(ods, db, "--retries", "0")
        assert len(travel_requests(ods)) == 1
    assert r.returncode == 4, r.stderr  # --once: the traffic poll failed
    assert db_rows(db, "SELECT count(*) FROM observation")[0][0] == 0
    assert stored_samples(db) == expected_samples(real_rows())


def test_no_travel_times_makes_no_request(tmp_path, bouchon):
    db = tmp_path / "off.db"
    with OdsServer() as ods:
        r = run_once(ods, db, "--no-travel-times")
        reqs = ods.requests()
    assert r.returncode == 0, r.stderr
    assert [q for q in reqs if q["dataset"] == TRAVEL] == []
    assert all(TRAVEL not in q["path"] for q in reqs)
    assert len(reqs) == 7  # the traffic pages only
    assert db_rows(db, "SELECT count(*) FROM travel_time")[0][0] == 0
    assert db_rows(db, "SELECT count(*) FROM observation")[0][0] == 694


@pytest.mark.parametrize("bad", ["-60", '"abc"'])
def test_a_bad_record_is_rejected_and_the_others_stored(tmp_path, bouchon, bad):
    db = tmp_path / "bad.db"
    rows = real_rows()
    target = 5
    with OdsServer(scenario="bad_value", fault_dataset=TRAVEL, target_gid=target,
                   bad_field="bm_actuel", bad_value=bad) as ods:
        r = run_once(ods, db)
    assert r.returncode == 3, r.stderr  # some records rejected, everything valid stored
    assert db_rows(db, "SELECT count(*) FROM observation")[0][0] == 694
    expected = expected_samples([row for row in rows if int(row["bm_gid"]) != target])
    assert stored_samples(db) == expected
    rej = db_rows(db, "SELECT r.field, r.reason, r.value, r.position, s.dataset "
                      "FROM rejected r JOIN raw_source s USING (source_id)")
    position = sorted(int(row["bm_gid"]) for row in rows).index(target) + 1
    assert rej == [("bm_actuel", "missing or not a positive number", bad.strip('"'), position,
                    TRAVEL)]
    assert "1 rejected" in r.stderr


def test_travel_every_n_polls(tmp_path, bouchon):
    db = tmp_path / "every.db"
    with OdsServer() as ods:
        r = run_bouchon("run", "--db", db, "--base-url", ods.base_url, "--interval", "5",
                        "--max-polls", "3", "--travel-every", "2", *OLD_DATA, timeout=120)
        treqs = travel_requests(ods)
        nplain = len(traffic_requests(ods))
    assert r.returncode == 0, r.stderr
    assert nplain == 21 and len(treqs) == 2  # polls 1 and 3
    assert len(re.findall(r"poll (\d+): ci_tpstj_a", r.stderr)) == 1  # poll 3: unchanged


def test_replay_stores_travel_time_files_recognised_by_content(tmp_path, bouchon):
    folder = tmp_path / "in"
    folder.mkdir()
    # names say nothing: the content decides
    shutil.copy(real_travel_csv(), folder / "a.csv")
    shutil.copy(shared_file("ci_trafi_l_2025-12-18T0950.csv"), folder / "b.csv")
    db = tmp_path / "rp.db"
    r = run_bouchon("run", "--db", db, *OLD_DATA, "--replay", folder, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stored_samples(db) == expected_samples(real_rows())
    assert db_rows(db, "SELECT count(*) FROM observation")[0][0] == 694
    assert db_rows(db, "SELECT count(*) FROM rejected")[0][0] == 0
    assert db_rows(db, "SELECT kind, dataset FROM raw_source ORDER BY source_id") == \
        [("file", TRAVEL), ("file", TRAFFIC)]
    # the same file imported afterwards is recognised (same content hash): skipped
    r = run_bouchon("import", "--db", db, "--kind", "travel-times", "--json", folder / "a.csv")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["skipped"] == 1 and st["files"] == 0

    off = tmp_path / "off.db"
    r = run_bouchon("run", "--db", off, "--no-travel-times", *OLD_DATA, "--replay", folder,
                    timeout=120)
    assert r.returncode == 0, r.stderr
    assert "left out (--no-travel-times)" in r.stderr
    assert db_rows(off, "SELECT count(*) FROM travel_time")[0][0] == 0
    assert db_rows(off, "SELECT count(*) FROM rejected")[0][0] == 0
    assert db_rows(off, "SELECT count(*) FROM observation")[0][0] == 694


def test_stand_in_serves_the_real_travel_times(bouchon):
    rows = real_rows()
    with OdsServer(scenario="server_error_then_ok", fault_dataset=TRAVEL, fail_count=1) as ods:
        status, _, _ = ods.get_json(ods.records_url(TRAFFIC, limit=1))
        assert status == 200  # other datasets are not faulted, nor counted
        assert ods.get(ods.export_url("json", TRAVEL))[0] in (500, 503)
        status, _, page = ods.get_json(ods.records_url(TRAVEL, limit=100))
        assert status == 200 and page["total_count"] == 16
        assert ods.get_json(ods.records_url(TRAVEL, order_by="gid"))[0] == 400  # no such field
        reqs = ods.requests()
    assert [q["dataset"] for q in reqs] == [TRAFFIC, TRAVEL, TRAVEL, TRAVEL]
    assert [q["fault"] for q in reqs] == [None, "server_error_then_ok", None, None]
    by_gid = {r["bm_gid"]: r for r in page["results"]}
    for row in rows:
        rec = by_gid[int(row["bm_gid"])]
        assert rec == {"bm_gid": int(row["bm_gid"]), "bm_ident": int(row["bm_ident"]),
                       "bm_libelle": row["bm_libelle"], "bm_actuel": int(row["bm_actuel"]),
                       "bm_ref": int(row["bm_ref"]), "bm_cdate": row["bm_cdate"],
                       "bm_mdate": row["bm_mdate"]}


def test_fetch_pages_the_travel_times_by_their_own_key(tmp_path, bouchon):
    """`bouchon fetch --dataset ci_tpstj_a` orders the records pages by bm_gid (the dataset has
    no gid field: the stand-in, like the portal, refuses order_by=gid) and checks the keys."""
    rows = real_rows()
    out = tmp_path / "tt.json"
    with OdsServer() as ods:
        res = run_bouchon("fetch", "--dataset", TRAVEL, "--base-url", ods.base_url,
                          "-o", str(out), timeout=60)
        reqs = travel_requests(ods)
    assert res.returncode == 0, res.stderr
    assert reqs and all(q["params"].get("order_by") in ("bm_gid", ["bm_gid"]) for q in reqs)
    page = json.loads(out.read_text())
    assert page["total_count"] == len(rows) == 16
    assert sorted(r["bm_gid"] for r in page["results"]) == sorted(int(r["bm_gid"]) for r in rows)


def test_health_last_poll_is_the_traffic_poll_not_the_travel_one(tmp_path, bouchon):
    """/api/v1/health's last_poll_at judges the traffic feed: the travel-time poll that follows
    it must not count as a feed poll. Both polls of one run land in the same second or so, so
    the test moves the travel poll's fetch time 10 minutes later, as a later poll would be."""
    from test_api import Serve

    db = tmp_path / "h.db"
    with OdsServer() as ods:
        r = run_once(ods, db)
    assert r.returncode == 0, r.stderr
    (traffic_at,), = db_rows(db, "SELECT fetched_at FROM raw_source WHERE dataset = ?", TRAFFIC)
    con = sqlite3.connect(db)
    with con:
        assert con.execute("UPDATE raw_source SET fetched_at = ? WHERE dataset = ?",
                           (traffic_at + 600, TRAVEL)).rowcount == 1
    con.close()
    srv = Serve(db).start()
    try:
        with urllib.request.urlopen(srv.base + "/api/v1/health", timeout=10) as resp:
            health = json.load(resp)
    finally:
        srv.stop()
    want = dt.datetime.fromtimestamp(traffic_at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert health["last_poll_at"] == want
