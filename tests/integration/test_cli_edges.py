"""Edges of the command line found by a new user (docs/CLI.md, docs/REPORT.md): the daily
list of very long ranges, read-only warehouses, option values, --period, the text report,
replay given a travel-times file, a clean stop of import, the README example."""

import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers import REPO_ROOT, bouchon_bin, run_bouchon, shared_file

SNAPSHOTS = sorted((REPO_ROOT / "data" / "bordeaux").glob("ci_trafi_l_*.csv"))
SCORE_HEADER = '"gid","time","scores_horaires_ponderes"\n'


def must(*args, timeout=120):
    r = run_bouchon(*args, timeout=timeout)
    assert r.returncode == 0, f"bouchon {' '.join(map(str, args))}: {r.returncode}\n{r.stderr}"
    return r


def report_json(db, *args):
    return json.loads(must("report", "--db", db, "--json", *args).stdout)


# --------------------------------------------------------------------------------------
# Bug 8: `daily` of a range far wider than the data


@pytest.fixture
def long_layer(tmp_path, bouchon):
    """Hourly rows in 2005 and 2019 (an imported layer of ~7,700 days with the snapshots of
    2025-12-18), more than the 3,700 days `daily` lists."""
    scores = tmp_path / "long.csv"
    scores.write_text(SCORE_HEADER + '2821,"2005-01-03T08:00:00+01:00",2\n'
                      '2821,"2019-09-02T08:00:00+02:00",1\n')
    db = tmp_path / "long.db"
    must("replay", "--db", db, *SNAPSHOTS)
    must("import", "--db", db, "--kind", "segment-history", scores)
    return db


def test_daily_of_a_huge_range_is_clamped_to_the_data_then_flagged(long_layer):
    s = report_json(long_layer, "--from", "1900-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z")
    days, dr = s["daily"], s["daily_range"]
    # clamped to the layer first (not 1900-01-01 .. 1910-02-17), then cut at 3,700 days
    assert days[0]["date"] == "2005-01-03"
    assert len(days) == 3700 and dr["days"] == 3700 and dr["max_days"] == 3700
    assert (dr["from"], dr["to"]) == ("2005-01-03", days[-1]["date"])
    assert dr["clamped_to_data"] is True and dr["truncated"] is True
    assert dr["days_asked"] == 73049 + 1  # 1900-01-01 .. 2099-12-31
    assert days[0]["known_segment_hours"] == 1
    # --only daily carries the same note
    only = json.loads(must("report", "--db", long_layer, "--only", "daily", "--from",
                           "1900-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z").stdout)
    assert only["daily_range"] == dr and only["daily"] == days
    # and the text report says it
    text = must("report", "--db", long_layer, "--from", "1900-01-01T00:00:00Z", "--to",
                "2100-01-01T00:00:00Z").stdout
    assert "Days 3700, 2005-01-03 .. " in text
    assert "daily list truncated to its first 3700 days" in text


def test_daily_of_a_short_range_keeps_its_days_without_data(long_layer):
    # up to 3,700 days nothing is clamped: days without data are listed (null figures)
    s = json.loads(must("report", "--db", long_layer, "--only", "daily", "--from",
                        "2004-12-30T00:00:00Z", "--to", "2005-01-05T00:00:00Z").stdout)
    assert [d["date"] for d in s["daily"]][:2] == ["2004-12-30", "2004-12-31"]
    assert s["daily"][0]["index"] is None
    assert s["daily_range"]["clamped_to_data"] is False and not s["daily_range"]["truncated"]


@pytest.fixture(scope="module")
def real_history(tmp_path_factory):
    """The real snapshots plus the two years of real hourly scores."""
    if not bouchon_bin().exists():
        pytest.fail(f"bouchon binary not built: {bouchon_bin()}")
    db = tmp_path_factory.mktemp("edges") / "h.db"
    must("replay", "--db", db, *SNAPSHOTS)
    must("import", "--db", db, "--kind", "segment-history", "-q", "--segments",
         shared_file("history/ci_trafi_l_segments_2020-03.geojson"),
         shared_file("history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"), timeout=600)
    must("import", "--db", db, "--kind", "periods", shared_file("history/lockdowns_fr.csv"))
    return db


@pytest.mark.slow
def test_daily_1900_2100_shows_the_real_data(real_history):
    s = report_json(real_history, "--from", "1900-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z")
    dates = [d["date"] for d in s["daily"]]
    assert dates[0] == "2019-09-01" and dates[-1] == "2025-12-18"
    assert s["daily_range"]["truncated"] is False and s["daily_range"]["clamped_to_data"]
    assert sum(d["known_segment_hours"] for d in s["daily"]) == \
        s["history"]["known_segment_hours"] + sum(
            d["known_segment_hours"] for d in s["daily"] if d["date"] == "2025-12-18")


@pytest.mark.slow
def test_periods_of_a_range_without_data_agree_with_only_periods(real_history):
    rng = ("--from", "2030-01-01T00:00:00Z", "--to", "2030-02-01T00:00:00Z")
    full = report_json(real_history, *rng)
    only = json.loads(must("report", "--db", real_history, "--only", "periods", *rng).stdout)
    assert "daily" not in full  # no data in the range
    assert len(full["periods"]) == 3 and full["periods"] == only["periods"]


# --------------------------------------------------------------------------------------
# Bug 9: report and serve on a read-only warehouse


def as_reader():
    """Command prefix running as a user without write access: as root, permissions do not
    bind (root may create FILE-shm anywhere), so the binary runs as nobody (setpriv)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.fail("running as root needs setpriv (util-linux) to drop privileges")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def ro_dir(bouchon):
    """A directory under /tmp that nobody can traverse but not write (pytest's tmp_path
    is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="bouchon-ro-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    os.chmod(d, 0o755)
    shutil.rmtree(d, ignore_errors=True)


def run_as_reader(*args, timeout=60):
    return subprocess.run([*as_reader(), str(bouchon_bin()), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def seal(d):
    for f in d.iterdir():
        os.chmod(f, 0o444)
    os.chmod(d, 0o555)


def test_report_reads_a_read_only_warehouse(ro_dir):
    db = ro_dir / "b.db"
    must("replay", "--db", db, *SNAPSHOTS)
    # the writer closed cleanly: no FILE-wal, no FILE-shm, which SQLite cannot create here
    assert sorted(p.name for p in ro_dir.iterdir()) == ["b.db"]
    seal(ro_dir)
    r = run_as_reader("report", "--db", db, "--json")
    assert r.returncode == 0, r.stderr
    assert "readonly database" not in r.stderr
    assert "immutable=1" in r.stderr and "changes written after this point are not seen" in r.stderr
    assert sorted(p.name for p in ro_dir.iterdir()) == ["b.db"]  # nothing created beside it
    got = json.loads(r.stdout)
    want = report_json(db)  # as root: a normal read-only open (it may create FILE-shm)
    assert got["segments"] == want["segments"] == 694
    assert got["latest"] == want["latest"] and got["jams"] == want["jams"]


def test_report_reads_a_read_only_warehouse_with_its_side_files(ro_dir):
    # FILE-shm and an empty FILE-wal left by a reader: SQLite reads them read-only itself,
    # no fallback needed
    db = ro_dir / "b.db"
    must("replay", "--db", db, *SNAPSHOTS)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.execute("SELECT count(*) FROM segment").fetchone()
    shutil.copy(ro_dir / "b.db-shm", ro_dir / "shm")
    con.close()
    if not (ro_dir / "b.db-shm").exists():
        shutil.copy(ro_dir / "shm", ro_dir / "b.db-shm")
    if not (ro_dir / "b.db-wal").exists():
        (ro_dir / "b.db-wal").write_bytes(b"")
    os.remove(ro_dir / "shm")
    seal(ro_dir)
    r = run_as_reader("report", "--db", db, "--json")
    assert r.returncode == 0, r.stderr
    assert "immutable" not in r.stderr
    assert json.loads(r.stdout)["segments"] == 694


def test_serve_reads_a_read_only_warehouse(ro_dir):
    import socket
    import urllib.request

    db = ro_dir / "b.db"
    must("replay", "--db", db, *SNAPSHOTS)
    seal(ro_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([*as_reader(), str(bouchon_bin()), "serve", "--db", str(db), "--listen",
                          f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True)
    try:
        body = None
        deadline = time.time() + 20
        while time.time() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/summary", timeout=5) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.2)
        assert body is not None, p.stderr.read() if p.poll() is not None else "no answer"
        assert body["segments"] == 694 and body["latest"]["states"]["FLUIDE"] == 432
    finally:
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=20)[1]
    assert p.returncode == 0, err
    assert "immutable=1" in err


def test_read_only_warehouse_with_a_pending_wal_is_refused_clearly(ro_dir):
    db = ro_dir / "b.db"
    must("replay", "--db", db, *SNAPSHOTS)
    # a writer that committed without checkpointing: the WAL holds a transaction
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE later(x)")
    con.commit()
    shutil.copy(db, ro_dir / "c.db")
    shutil.copy(ro_dir / "b.db-wal", ro_dir / "c.db-wal")
    con.close()
    os.remove(db)
    assert (ro_dir / "c.db-wal").stat().st_size > 0
    seal(ro_dir)
    r = run_as_reader("report", "--db", ro_dir / "c.db")
    assert r.returncode == 5
    assert "c.db-wal holds transactions not yet in the main file" in r.stderr
    assert "wal_checkpoint(TRUNCATE)" in r.stderr


def test_writers_keep_their_message_on_a_read_only_warehouse(ro_dir):
    db = ro_dir / "b.db"
    must("replay", "--db", db, *SNAPSHOTS)
    seal(ro_dir)
    r = run_as_reader("replay", "--db", db, *SNAPSHOTS)
    assert r.returncode == 5
    assert "readonly database" in r.stderr or "unable to open" in r.stderr


# --------------------------------------------------------------------------------------
# Doc mismatches


def test_readme_example_comment_is_what_report_prints(tmp_path, bouchon):
    readme = (REPO_ROOT / "README.md").read_text()
    m = re.search(r"report --db var/b\.db\s+# (\d+) segments, (\d+) state changes, (\d+) jam "
                  r"episodes \((\d+) ongoing\)", readme)
    assert m, "README example comment not found"
    db = tmp_path / "b.db"
    must("replay", "--db", db, REPO_ROOT / "data" / "bordeaux")
    text = must("report", "--db", db).stdout
    seg, changes, jams, ongoing = m.groups()
    assert f"Segments {seg}," in text and f"state changes {changes}," in text
    assert f"Jam episodes {jams} ({ongoing} ongoing)" in text


def test_replay_names_a_travel_times_file(tmp_path, bouchon):
    travel = shared_file("ci_tpstj_a_2025-12-17T1405Z.csv")
    db = tmp_path / "t.db"
    r = run_bouchon("replay", "--db", db, travel)
    assert r.returncode == 3
    assert "a ci_tpstj_a (travel times) file, not ci_trafi_l" in r.stderr
    assert "import --kind travel-times" in r.stderr
    assert "CSV header lacks" not in r.stderr
    # nothing was written for it: the next import of the same file is not "already imported"
    r = must("import", "--db", db, "--kind", "travel-times", travel)
    assert "already imported, skipped" not in r.stderr


# --------------------------------------------------------------------------------------
# Rough edges


def test_text_report_prints_dash_for_unknown_travel_figures(tmp_path, bouchon):
    db = tmp_path / "tt.db"
    must("replay", "--db", db, *SNAPSHOTS)
    must("import", "--db", db, "--kind", "travel-times",
         shared_file("ci_tpstj_a_2025-12-17T1405Z.csv"))
    text = must("report", "--db", db, "--from", "2030-01-01T00:00:00Z", "--to",
                "2030-01-02T00:00:00Z").stdout
    assert "Travel times: 16 corridors" in text
    assert not re.search(r"\bnan\b", text)
    assert re.search(r"TTI - PTI - buffer - \(0 samples\)", text)


@pytest.mark.parametrize("arg, needle", [
    ("2020-03-17..2020-05-10=", "empty label"),
    ("2020-05-10..2020-03-17", "the end 2020-03-17 is before the start 2020-05-10"),
    ("2020-03-17", "expected YYYY-MM-DD..YYYY-MM-DD"),
    ("2020-02-30..2020-03-01", "two valid dates"),
])
def test_bad_periods_are_refused_clearly(tmp_path, bouchon, arg, needle):
    db = tmp_path / "p.db"
    must("replay", "--db", db, SNAPSHOTS[0])
    r = run_bouchon("report", "--db", db, "--period", arg)
    assert r.returncode == 2
    assert needle in r.stderr and arg in r.stderr


def test_a_labelled_period_is_kept(tmp_path, bouchon):
    db = tmp_path / "p.db"
    must("replay", "--db", db, SNAPSHOTS[0])
    s = json.loads(must("report", "--db", db, "--only", "periods", "--period",
                        "2025-12-18..2025-12-18=Un jour").stdout)
    assert [p["label"] for p in s["periods"]] == ["Un jour"]


@pytest.mark.parametrize("args, opt", [
    (["import", "--db", "{db}", "--kind", "segment-history", "--batch-rows", "1.7", "x"],
     "--batch-rows"),
    (["import", "--db", "{db}", "--kind", "counts", "--year", "2023.5", "x"], "--year"),
    (["import", "--db", "{db}", "--kind", "counts", "--year", "1800", "x"], "--year"),
    (["import", "--db", "{db}", "--kind", "sensors", "--stale-after", "9.5", "x"], "--stale-after"),
    (["report", "--db", "{db}", "--limit", "2.5"], "--limit"),
    (["report", "--db", "{db}", "--min-known", "1e3"], "--min-known"),
    (["replay", "--db", "{db}", "--batch", "0x10", "x"], "--batch"),
    (["run", "--db", "{db}", "--max-polls", "2.0"], "--max-polls"),
    (["run", "--db", "{db}", "--travel-every", "1.5"], "--travel-every"),
    (["run", "--db", "{db}", "--retries", "-1"], "--retries"),
    (["run", "--db", "{db}", "--hysteresis", "30.5"], "--hysteresis"),
    (["run", "--db", "{db}", "--interval", "inf"], "--interval"),
    (["serve", "--db", "{db}", "--threads", "1.5"], "--threads"),
])
def test_non_integer_option_values_are_refused(tmp_path, bouchon, args, opt):
    db = tmp_path / "o.db"
    r = run_bouchon(*[a.replace("{db}", str(db)) for a in args])
    assert r.returncode == 2, r.stderr
    assert opt in r.stderr and "expected" in r.stderr
    assert not db.exists()


def test_whole_values_are_still_accepted(tmp_path, bouchon):
    db = tmp_path / "w.db"
    must("replay", "--db", db, "--batch", "16", *SNAPSHOTS)
    must("report", "--db", db, "--limit", "3", "--min-known", "0", "--min-duration", "60")


def test_sigterm_stops_import_cleanly_and_resumes(tmp_path, bouchon):
    """A large score file (plain CSV, written here) with small batches: SIGTERM stops it at
    a batch boundary with a message, exit 143; the rerun completes it."""
    src = tmp_path / "big.csv"
    rows = 400_000
    with open(src, "w") as f:
        f.write(SCORE_HEADER)
        base = 1_567_296_000  # 2019-09-01T00:00:00Z
        for i in range(rows):
            gid, h = 1000 + i % 400, i // 400
            t = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + 3600 * h))
            f.write(f'{gid},"{t}",{i % 4}\n')
    db = tmp_path / "big.db"
    p = subprocess.Popen([str(bouchon_bin()), "import", "--db", str(db), "--kind",
                          "segment-history", "--batch-rows", "2000", str(src)],
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.05)
        try:
            n = sqlite3.connect(db, timeout=5).execute("SELECT count(*) FROM hourly_score").fetchone()[0]
        except sqlite3.OperationalError:
            n = 0
        if n > 0 or p.poll() is not None:
            break
    assert p.poll() is None, "the import ended before the signal: make the file larger"
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 143, err
    assert "interrupted by SIGTERM" in err and "run the same command again to resume" in err
    con = sqlite3.connect(db)
    stored = con.execute("SELECT count(*) FROM hourly_score").fetchone()[0]
    assert 0 < stored < rows
    assert con.execute("SELECT completed FROM raw_source").fetchall() == [(0,)]
    con.close()
    r = must("import", "--db", db, "--kind", "segment-history", src)
    assert "already imported, skipped" not in r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM hourly_score").fetchone()[0] == rows
    assert con.execute("SELECT completed FROM raw_source").fetchall() == [(1,)]


def test_text_report_of_a_history_only_warehouse_prints_the_history(tmp_path, bouchon):
    """A warehouse holding imports but no snapshot: the text report says so, then still prints
    the history sections (here the 16 corridors of a live travel-time file)."""
    db = tmp_path / "tt.db"
    r = run_bouchon("import", "--db", str(db), "--kind", "travel-times", "--corridors",
                    str(shared_file("history/ci_tpstj_a_corridors.geojson")),
                    str(shared_file("ci_tpstj_a_2025-12-17T1405Z.csv")), "-q")
    assert r.returncode == 0, r.stderr
    r = run_bouchon("report", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "No snapshot stored yet." in r.stdout
    assert "Travel times: 16 corridors" in r.stdout
