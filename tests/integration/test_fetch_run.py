"""bouchon fetch and bouchon run against the local stand-in of the Opendatasoft
API (ods_server.py), which replays pages recorded from the real snapshots and
injects the faults of a real portal."""

import json
import os
import signal
import sqlite3
import subprocess
import time
from urllib.parse import parse_qs

import pytest

from helpers import OdsServer, bouchon_bin, run_bouchon

RECORDS = "/api/explore/v2.1/catalog/datasets/ci_trafi_l/records"
# Recorded data is from 2025: trust observations of any age in run tests.
OLD_DATA = ["--stale-after", str(10 * 365 * 86400)]


def api_requests(ods):
    return [r for r in ods.requests() if r["path"].startswith("/api/")]


def fetch(ods, tmp_path, *args, timeout=120):
    out = tmp_path / "snap.json"
    r = run_bouchon("fetch", "--base-url", ods.base_url, "-o", str(out), *args, timeout=timeout)
    return r, out


def test_fetch_pages_the_records_api(tmp_path, bouchon):
    with OdsServer() as ods:
        r, out = fetch(ods, tmp_path)
        reqs = api_requests(ods)
    assert r.returncode == 0, r.stderr
    page = json.loads(out.read_text())
    assert page["total_count"] == 694 and len(page["results"]) == 694
    assert len({rec["gid"] for rec in page["results"]}) == 694
    offsets = []
    for q in reqs:
        assert q["path"] == RECORDS
        limit, offset = int(q["params"]["limit"]), int(q["params"]["offset"])
        assert 1 <= limit <= 100 and offset + limit <= 10000
        offsets.append(offset)
    assert offsets == [0, 100, 200, 300, 400, 500, 600]


@pytest.mark.parametrize("fmt", ["json", "csv", "geojson"])
def test_fetch_exports(tmp_path, bouchon, fmt):
    with OdsServer() as ods:
        r, out = fetch(ods, tmp_path, "--format", fmt)
        reqs = api_requests(ods)
    assert r.returncode == 0, r.stderr
    assert [q["path"] for q in reqs] == [f"/api/explore/v2.1/catalog/datasets/ci_trafi_l/exports/{fmt}"]
    db = tmp_path / "e.db"
    assert run_bouchon("replay", "--db", str(db), str(out)).returncode == 0
    assert sqlite3.connect(db).execute("SELECT count(*) FROM segment").fetchone()[0] == 694


def test_429_waits_for_retry_after(tmp_path, bouchon):
    with OdsServer(scenario="rate_limited", fail_count=2, retry_after=1) as ods:
        r, out = fetch(ods, tmp_path)
        reqs = api_requests(ods)
    assert r.returncode == 0, r.stderr
    assert [q["status"] for q in reqs[:3]] == [429, 429, 200]
    assert reqs[1]["time"] - reqs[0]["time"] >= 0.9  # honoured Retry-After: 1
    assert reqs[2]["time"] - reqs[1]["time"] >= 0.9
    assert len(json.loads(out.read_text())["results"]) == 694


def test_5xx_then_success(tmp_path, bouchon):
    with OdsServer(scenario="server_error_then_ok", fail_count=3) as ods:
        r, out = fetch(ods, tmp_path)
        statuses = [q["status"] for q in api_requests(ods)]
    assert r.returncode == 0, r.stderr
    assert statuses[:3] == [503, 500, 503] and statuses[3] == 200
    assert len(json.loads(out.read_text())["results"]) == 694


def test_4xx_is_not_retried(tmp_path, bouchon):
    with OdsServer(require_apikey="s3cret") as ods:
        r, _ = fetch(ods, tmp_path)
        n = len(api_requests(ods))
    assert r.returncode == 3
    assert n == 1
    assert "401" in r.stderr


def test_api_key_from_environment_is_sent_and_never_logged(tmp_path, bouchon):
    env = dict(os.environ, BOUCHON_API_KEY="s3cret-key-123")
    with OdsServer(require_apikey="s3cret-key-123", scenario="server_error_then_ok") as ods:
        out = tmp_path / "k.json"
        r = run_bouchon("-v", "fetch", "--base-url", ods.base_url, "-o", str(out), env=env)
        reqs = api_requests(ods)
    assert r.returncode == 0, r.stderr
    assert all("apikey" not in q["query"].lower() for q in reqs)  # header, not URL
    assert "s3cret-key-123" not in r.stderr + r.stdout


def test_timeout_gives_network_exit_code(tmp_path, bouchon):
    with OdsServer(scenario="timeout", delay=5, fail_count=-1) as ods:
        t0 = time.time()
        r, out = fetch(ods, tmp_path, "--timeout", "1", "--retries", "2", timeout=60)
        n = len(api_requests(ods))
    assert r.returncode == 4, r.stderr
    assert "Timeout" in r.stderr or "timed out" in r.stderr
    assert n == 3  # first try + 2 retries
    assert not out.exists()
    assert time.time() - t0 < 30


@pytest.mark.parametrize("mode", ["short", "cut"])
def test_truncated_body_is_retried(tmp_path, bouchon, mode):
    with OdsServer(scenario="truncated", truncate_mode=mode, fail_count=2) as ods:
        r, out = fetch(ods, tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(out.read_text())["results"]) == 694


def test_html_error_page_is_reported_and_retried(tmp_path, bouchon):
    with OdsServer(scenario="html_error", html_status=200, fail_count=2) as ods:
        r, out = fetch(ods, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "HTML" in r.stderr
    with OdsServer(scenario="html_error", html_status=502, fail_count=-1) as ods:
        r, out2 = fetch(ods, tmp_path, "--retries", "1")
    assert r.returncode == 4 and "HTML" in r.stderr


def test_api_error_json_is_reported(tmp_path, bouchon):
    with OdsServer() as ods:
        r = run_bouchon("fetch", "--base-url", ods.base_url, "--dataset", "no_such_dataset")
    assert r.returncode == 3
    assert "404" in r.stderr


def test_total_count_mismatch_fails_clearly(tmp_path, bouchon):
    with OdsServer(scenario="total_count_mismatch") as ods:
        r, out = fetch(ods, tmp_path)
    assert r.returncode == 3
    assert "700" in r.stderr and "694" in r.stderr
    assert not out.exists()


def test_more_than_10000_records_uses_the_export(tmp_path, bouchon):
    with OdsServer(scenario="total_count_mismatch", claimed_total=25000) as ods:
        r, out = fetch(ods, tmp_path)
        reqs = api_requests(ods)
    assert r.returncode == 0, r.stderr
    for q in reqs:
        if q["path"] == RECORDS:
            assert int(q["params"]["offset"]) + int(q["params"]["limit"]) <= 10000
    assert reqs[-1]["path"].endswith("/exports/json")


def run_polls(ods, db, polls, extra=()):
    return run_bouchon("run", "--db", str(db), "--base-url", ods.base_url, "--interval", "5",
                       "--max-polls", str(polls), *OLD_DATA, *extra, timeout=120)


def test_run_polls_two_snapshots(tmp_path, bouchon):
    db = tmp_path / "run.db"
    with OdsServer(snapshot="0950") as ods:
        p = subprocess.Popen([bouchon_bin(), "run", "--db", str(db), "--base-url", ods.base_url,
                              "--interval", "5", *OLD_DATA], stderr=subprocess.PIPE, text=True)
        ods.wait_for_requests(7, timeout=30)
        time.sleep(0.5)
        ods.control(snapshot="1000")
        ods.wait_for_requests(14, timeout=30)
        time.sleep(1.5)
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=30)[1]
    assert p.returncode == 0, err
    polls = [line for line in err.splitlines() if "[load] poll" in line]
    assert len(polls) >= 2
    assert "34 state changes" in polls[1]
    s = json.loads(run_bouchon("report", "--db", str(db), "--json").stdout)
    assert s["segments"] == 694 and s["state_changes"] == 34
    assert s["latest"]["states"]["EMBOUTEILLE"] == 22
    assert abs(s["latest"]["congested_km"] - 10.34) < 0.06
    assert sum(1 for j in s["jams"] if j["end"] is None) == 22
    con = sqlite3.connect(db)
    kinds = {k for (k,) in con.execute("SELECT kind FROM raw_source")}
    assert kinds == {"api"}


def test_run_flags_an_empty_feed(tmp_path, bouchon):
    db = tmp_path / "empty.db"
    with OdsServer(scenario="empty") as ods:
        r = run_polls(ods, db, 1)
    assert r.returncode == 0, r.stderr
    assert "empty" in r.stderr
    flag, known = sqlite3.connect(db).execute("SELECT flag, known_km FROM snapshot").fetchone()
    assert flag == "empty" and known == 0


def test_run_flags_an_all_unknown_feed(tmp_path, bouchon):
    db = tmp_path / "unk.db"
    with OdsServer(scenario="all_unknown") as ods:
        r = run_polls(ods, db, 1)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    flag, share, n_fluide = con.execute(
        "SELECT flag, congested_share, n_fluide FROM snapshot").fetchone()
    assert flag == "all_unknown" and share is None and n_fluide == 0


def test_run_rejects_a_record_without_etat_and_keeps_the_rest(tmp_path, bouchon):
    db = tmp_path / "miss.db"
    with OdsServer(scenario="missing_field") as ods:  # gid 2274 has no etat
        r = run_polls(ods, db, 1)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM observation").fetchone()[0] == 693
    field, reason, pos = con.execute("SELECT field, reason, position FROM rejected").fetchone()
    assert field == "etat" and "missing" in reason and pos > 0


def test_run_stores_an_unknown_state_as_inconnu(tmp_path, bouchon):
    db = tmp_path / "bloque.db"
    with OdsServer(scenario="unknown_state") as ods:  # gid 2455 has etat BLOQUE
        r = run_polls(ods, db, 1)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM observation").fetchone()[0] == 694
    assert con.execute("SELECT o.state FROM observation o WHERE gid = 2455").fetchone() == (0,)
    field, value, coerced = con.execute("SELECT field, value, coerced FROM rejected").fetchone()
    assert (field, value, coerced) == ("etat", "BLOQUE", 1)


def test_run_survives_a_failing_poll(tmp_path, bouchon):
    db = tmp_path / "fail.db"
    with OdsServer(scenario="timeout", delay=4, fail_count=3) as ods:
        r = run_polls(ods, db, 2, extra=("--timeout", "1", "--retries", "2"))
    assert r.returncode == 0, r.stderr
    assert "poll 1" in r.stderr and "Timeout" in r.stderr
    assert sqlite3.connect(db).execute("SELECT count(*) FROM observation").fetchone()[0] == 694


def test_run_once_reports_network_failure(tmp_path, bouchon):
    r = run_bouchon("run", "--db", str(tmp_path / "x.db"), "--base-url", "http://127.0.0.1:9",
                    "--once", "--retries", "0", "--timeout", "2")
    assert r.returncode == 4


def test_run_serves_the_api_while_it_polls(tmp_path, bouchon):
    import re
    import urllib.request

    db = tmp_path / "live.db"
    with OdsServer(snapshot="0950") as ods:
        p = subprocess.Popen([bouchon_bin(), "run", "--db", str(db), "--base-url", ods.base_url,
                              "--interval", "5", "--listen", "127.0.0.1:0", *OLD_DATA],
                             stderr=subprocess.PIPE, text=True)
        try:
            base = None
            deadline = time.time() + 30
            while time.time() < deadline and base is None:
                line = p.stderr.readline()
                m = re.search(r"serving (http://127\.0\.0\.1:\d+)", line)
                if m:
                    base = m.group(1)
            assert base, "run --listen did not say where it serves"
            ods.wait_for_requests(7, timeout=30)
            summary = None
            for _ in range(50):  # the first poll commits shortly after its pages
                with urllib.request.urlopen(base + "/api/v1/summary", timeout=10) as resp:
                    summary = json.loads(resp.read())
                if summary["latest"]:
                    break
                time.sleep(0.2)
            assert summary["latest"]["states"]["EMBOUTEILLE"] == 23  # the 09:50 snapshot
            ods.control(snapshot="1000")
            ods.wait_for_requests(14, timeout=30)
            for _ in range(50):
                with urllib.request.urlopen(base + "/api/v1/summary", timeout=10) as resp:
                    summary = json.loads(resp.read())
                if summary["state_changes"] == 34:
                    break
                time.sleep(0.2)
            assert summary["latest"]["states"]["EMBOUTEILLE"] == 22
            with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
                metrics = resp.read().decode()
            assert re.search(r'bouchon_polls_total\{outcome="ok"\} [2-9]', metrics)
            assert "bouchon_last_successful_poll_timestamp_seconds" in metrics
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=30)
    assert p.returncode == 0


# --------------------------------------------------------------------------------------
# Exit codes of `run --once` for bodies cut or empty (docs/CLI.md, exit codes 3 and 4)


def run_once(ods, db, *extra):
    return run_bouchon("run", "--db", str(db), "--base-url", ods.base_url, "--once",
                       "--no-travel-times", "--retries", "1", *OLD_DATA, *extra, timeout=120)


def test_run_once_body_cut_by_the_network_is_a_network_failure(tmp_path, bouchon):
    # shorter than its Content-Length, connection closed: retried, then exit 4
    with OdsServer(scenario="truncated", truncate_mode="short", fail_count=-1) as ods:
        r = run_once(ods, tmp_path / "s.db")
        n = len(api_requests(ods))
    assert r.returncode == 4, r.stderr
    assert n == 2  # first try + 1 retry


def test_run_once_cut_json_received_in_full_is_a_bad_payload(tmp_path, bouchon):
    # valid HTTP (the length matches), JSON cut in the middle: retried, then exit 3
    with OdsServer(scenario="truncated", truncate_mode="cut", fail_count=-1) as ods:
        r = run_once(ods, tmp_path / "c.db")
        n = len(api_requests(ods))
    assert r.returncode == 3, r.stderr
    assert "invalid JSON in records page" in r.stderr
    assert n == 2


class EmptyBody:
    """A portal answering every request with 200 and an empty JSON body."""

    def __enter__(self):
        import http.server
        import threading

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base_url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *a):
        self.srv.shutdown()
        self.srv.server_close()


def test_empty_records_body_says_empty_body(tmp_path, bouchon):
    with EmptyBody() as ods:
        r = run_once(ods, tmp_path / "e.db")
    assert r.returncode == 3, r.stderr
    assert "records page: empty body" in r.stderr
    assert "wrong arguments" not in r.stderr and "line -1" not in r.stderr


def test_once_and_max_polls_exclude_each_other(tmp_path, bouchon):
    r = run_bouchon("run", "--db", str(tmp_path / "x.db"), "--once", "--max-polls", "3")
    assert r.returncode == 2
    assert "--once" in r.stderr and "--max-polls" in r.stderr
    assert not (tmp_path / "x.db").exists()


def test_unchanged_live_snapshot_is_logged_as_such(tmp_path, bouchon):
    db = tmp_path / "u.db"
    with OdsServer(snapshot="0950") as ods:
        r = run_polls(ods, db, 2, extra=("--no-travel-times",))
    assert r.returncode == 0, r.stderr
    assert "[load] poll 2: unchanged snapshot (already stored), skipped" in r.stderr
    assert "[replay] poll" not in r.stderr and "already loaded" not in r.stderr


def test_second_run_replay_counts_every_file(tmp_path, bouchon):
    from helpers import REPO_ROOT, shared_file

    src = tmp_path / "in"
    src.mkdir()
    for f in (REPO_ROOT / "data" / "bordeaux").glob("ci_trafi_l_*.csv"):
        (src / f.name).write_bytes(f.read_bytes())
    travel = shared_file("ci_tpstj_a_2025-12-17T1405Z.csv")
    (src / travel.name).write_bytes(travel.read_bytes())
    db = tmp_path / "r.db"
    first = run_bouchon("run", "--db", str(db), "--replay", str(src))
    assert first.returncode == 0, first.stderr
    assert "3 files (1 of travel times): 1388 records" in first.stderr
    again = run_bouchon("run", "--db", str(db), "--replay", str(src))
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already loaded, skipped") == 3
    assert "3 files (1 of travel times): 0 records" in again.stderr
    assert again.stderr.rstrip().endswith("3 already loaded")
