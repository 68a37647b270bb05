"""bouchon import on bad input (tests/integration/test_import.py covers the good files).

Each test is one finding of a new user's session: inputs of another kind rejected with a reason
instead of misread, a file that failed as a whole reported again on a rerun, rows with a wrong
number of fields, corrupt gzip streams, and the `history.imported` counters after a resume, a
re-import in other bytes and a late segments file. Small files are written by the tests; the
real files of the shared folder are used where the finding is about them.
"""

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import time
import zlib

import pytest

from helpers import bouchon_bin, run_bouchon, shared_dir, shared_file

SCORES = "history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"
SEGMENTS = "history/ci_trafi_l_segments_2020-03.geojson"
HEADER = '"gid","time","scores_horaires_ponderes"\n'


def imp(db, kind, *inputs, extra=(), timeout=600):
    r = run_bouchon("import", "--db", db, "--kind", kind, "--json", *extra, *inputs,
                    timeout=timeout)
    assert r.returncode in (0, 3), r.stderr
    return r.returncode, json.loads(r.stdout), r.stderr


def q(db, sql, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def imported(db):
    r = run_bouchon("report", "--db", db, "--json", "--only", "history", timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["history"]["imported"]


def score_lines(n):
    """The header and the first n rows of the real hourly history (text lines)."""
    with gzip.open(shared_file(SCORES), "rt") as f:
        next(f)
        return [next(f) for _ in range(n)]


def rejected_files(db):
    return {os.path.basename(name): reason for name, reason in
            q(db, "SELECT source_name, reason FROM rejected WHERE position = 0")}


# ------------------------------------------------------------- kinds told apart by content


def test_folder_as_segment_history_ties_only_the_segments_file(tmp_path, bouchon):
    """Bug 1: the pc_capte_p sensors (gid + ident on points) are not a segments file."""
    db = tmp_path / "seg.db"
    rc, st, _ = imp(db, "segment-history", shared_dir())
    assert rc == 3
    assert st["tied_gids"] == 679
    assert q(db, "SELECT count(*), min(gid), max(gid) FROM history_gid") == [(679, 2821, 3533)]
    assert q(db, "SELECT count(*) FROM history_gid WHERE ident LIKE 'Z%CT%'") == [(0,)]
    bad = rejected_files(db)
    assert bad["pc_capte_p_2022-03-10T1040.json"].startswith("not a segments file")
    for name in ("comptage_trafic_2019.json", "pc_capte_ponct_p.json",
                 "ci_tpstj_a_corridors.geojson", "ci_chantier_2024-10-01.csv",
                 "comptage-du-trafic-2023.csv"):
        assert name in bad, name
    # the rows stay on their gids: only the 2020-03 segments are tied
    assert q(db, "SELECT count(*) FROM history_segment WHERE ident IS NOT NULL") == [(679,)]


def test_points_in_a_segments_file_are_rejected(tmp_path, bouchon):
    seg = tmp_path / "s.geojson"
    seg.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"gid": 1, "ident": "A1"},
         "geometry": {"type": "LineString", "coordinates": [[-0.5, 44.8], [-0.51, 44.8]]}},
        {"type": "Feature", "properties": {"gid": 2, "ident": "Z1"},
         "geometry": {"type": "Point", "coordinates": [-0.5, 44.8]}},
        {"type": "Feature", "properties": {"gid": -3, "ident": "B1"},
         "geometry": {"type": "LineString", "coordinates": [[-0.5, 44.8], [-0.51, 44.8]]}},
        {"type": "Feature", "properties": {"gid": 1, "ident": "C1"},
         "geometry": {"type": "LineString", "coordinates": [[-0.5, 44.8], [-0.51, 44.8]]}},
    ]}))
    db = tmp_path / "p.db"
    rc, st, _ = imp(db, "segment-history", seg)
    assert rc == 3 and st["tied_gids"] == 1
    rows = q(db, "SELECT position, field, reason, value FROM rejected ORDER BY position")
    assert [(p, f) for p, f, _, _ in rows] == [(2, "geometry"), (3, "gid"), (4, "gid")]
    assert "Point" in rows[0][2]
    assert rows[1][3] == "-3"  # the offending value is kept
    # a gid tied twice within one file: the message says so
    assert "earlier feature of this file" in rows[2][2] and rows[2][3] == "C1"


def test_folder_as_counts_reads_only_counts(tmp_path, bouchon):
    """Bug 2: the segments GeoJSON and the pc_capte_p snapshot are not annual counts."""
    db = tmp_path / "c.db"
    rc, st, _ = imp(db, "counts", shared_dir())
    assert rc == 3 and st["stored"] == 534 + 441 + 345
    assert q(db, "SELECT year, count(*) FROM annual_count GROUP BY 1") == \
        [(2019, 534), (2021, 441), (2023, 345)]
    bad = rejected_files(db)
    assert bad["ci_trafi_l_segments_2020-03.geojson"].startswith("not an annual counts file")
    assert bad["pc_capte_p_2022-03-10T1040.json"].startswith("not an annual counts file")


def test_folder_as_travel_times_rejects_other_json(tmp_path, bouchon):
    db = tmp_path / "t.db"
    rc, _, _ = imp(db, "travel-times", shared_dir())
    assert rc == 3
    done = {os.path.basename(n) for (n,) in q(db, "SELECT name FROM raw_source WHERE completed")}
    assert done == {"ci_tpstj_a_2025-12-17T1405Z.csv", "ci_tpstj_a_corridors.geojson",
                    "ci_tpstj_a_hourly_2021-01_2022-01.csv.gz"}
    assert rejected_files(db)["ci_trafi_l_segments_2020-03.geojson"].startswith(
        "not a ci_tpstj_a file")


# ------------------------------------------------------ failed files are reported again


@pytest.mark.parametrize("kind", ["segment-history", "travel-times", "counts", "sensors",
                                  "works", "periods"])
def test_failed_files_are_not_completed(tmp_path, bouchon, kind):
    """Bug 6 and the empty files: rejected by every kind, and again on a rerun (exit 3)."""
    wrong = tmp_path / "wronghdr_2020.csv"
    wrong.write_text("a,b,c\n1,2,3\n")
    empty = tmp_path / "empty_2020.csv"
    empty.write_text("")
    raw = gzip.compress((HEADER + "".join(score_lines(2000))).encode())
    trunc = tmp_path / "trunc.csv.gz"
    trunc.write_bytes(raw[: len(raw) // 2])
    db = tmp_path / "f.db"
    for _ in range(2):
        rc, st, err = imp(db, kind, wrong, empty, trunc)
        assert rc == 3, err
        assert st["skipped"] == 0 and "already imported, skipped" not in err
        assert st["rejected"] >= 3
    assert q(db, "SELECT count(*) FROM raw_source WHERE completed = 1") == [(0,)]
    reasons = rejected_files(db)
    assert reasons["empty_2020.csv"].startswith("empty file")
    assert reasons["trunc.csv.gz"]  # truncated stream or not that kind: a reason
    assert q(db, "SELECT count(*) FROM rejected WHERE position = 0") == [(3,)]


def test_identical_bytes_of_a_failed_file_are_reported(tmp_path, bouchon):
    data = os.urandom(5000)
    a, b = tmp_path / "random.csv", tmp_path / "random.csv.gz"
    a.write_bytes(data)
    b.write_bytes(data)
    db = tmp_path / "r.db"
    rc, st, err = imp(db, "segment-history", a, b)
    assert rc == 3 and st["skipped"] == 0 and "already imported, skipped" not in err


def test_truncated_gzip_keeps_complete_lines_and_is_rerun(tmp_path, bouchon):
    lines = score_lines(20000)
    raw = gzip.compress((HEADER + "".join(lines)).encode())
    trunc = tmp_path / "trunc.csv.gz"
    trunc.write_bytes(raw[: len(raw) * 3 // 4])
    db = tmp_path / "t.db"
    rc, st, _ = imp(db, "segment-history", trunc)
    assert rc == 3
    n = st["rows"]
    assert n > 10000 and st["stored"] + st["duplicates"] == n
    (reason,), = q(db, "SELECT reason FROM rejected WHERE position = 0")
    assert "truncated" in reason and "kept" in reason
    rc, st2, _ = imp(db, "segment-history", trunc)
    assert rc == 3 and st2["skipped"] == 0
    # the rerun resumes: the same counters, nothing stored twice
    assert (st2["rows"], st2["stored"], st2["rejected"]) == (n, st["stored"], 1)
    assert q(db, "SELECT count(*) FROM hourly_score")[0][0] == st["stored"]
    assert q(db, "SELECT rows, stored, rejected FROM import_file") == [(n, st["stored"], 1)]


# ------------------------------------------------------------ rows with a wrong field count


def test_rows_with_extra_fields_are_rejected(tmp_path, bouchon):
    """Bug 4: an unquoted decimal comma (1,5) is not silently read as 1."""
    f = tmp_path / "extra.csv"
    f.write_text(HEADER + '2821,"2019-09-02T10:00:00+02:00",1,5\n'
                 '2821,"2019-09-02T11:00:00+02:00",1,5,6\n'
                 '2821,"2019-09-02T12:00:00+02:00",2\n'
                 '2821,"2019-09-02T13:00:00+02:00"\n')
    db = tmp_path / "e.db"
    rc, st, _ = imp(db, "segment-history", f)
    assert rc == 3 and st["stored"] == 1 and st["rejected"] == 3
    rows = q(db, "SELECT position, reason, value FROM rejected ORDER BY position")
    assert [p for p, _, _ in rows] == [2, 3, 5]
    assert "4 fields where the header has 3" in rows[0][1]
    assert rows[0][2] == '2821,"2019-09-02T10:00:00+02:00",1,5'
    assert q(db, "SELECT score FROM hourly_score") == [(2.0,)]


def test_travel_times_extra_fields_and_absurd_values(tmp_path, bouchon):
    f = tmp_path / "tt.csv"
    f.write_text('"time","gid","actuel","ref"\n'
                 '"2021-01-11T06:00:00+01:00",1,690,633.9\n'
                 '"2021-01-11T07:00:00+01:00",1,700,600,9\n'
                 '"2021-01-11T08:00:00+01:00",1,1e308,600\n'
                 '"2021-01-11T09:00:00+01:00",1,700,1e9\n'
                 '"2021-01-11T10:00:00+01:00",1,86400,600\n')
    db = tmp_path / "t.db"
    rc, st, _ = imp(db, "travel-times", f)
    assert rc == 3 and st["stored"] == 2 and st["rejected"] == 3
    rows = q(db, "SELECT position, field, reason FROM rejected ORDER BY position")
    assert [(p, fl) for p, fl, _ in rows] == [(3, ""), (4, "actuel"), (5, "ref")]
    assert "more than a day" in rows[1][2]


def test_counts_rows_with_extra_fields(tmp_path, bouchon):
    f = tmp_path / "comptage_2020.csv"
    f.write_text("ident;mjo_val;nom_voie\nZ1;100;Rue A\nZ2;200;Rue B;oops\n")
    db = tmp_path / "c.db"
    rc, st, _ = imp(db, "counts", f)
    assert rc == 3 and st["stored"] == 1 and st["rejected"] == 1


def test_malformed_row_keeps_its_text(tmp_path, bouchon):
    f = tmp_path / "q.csv"
    f.write_text(HEADER + '2821,"2019-09-02T10:00:00+02:00"x,1\n'
                 '2821,"2019-09-02T11:00:00+02:00",1\n')
    db = tmp_path / "q.db"
    rc, st, _ = imp(db, "segment-history", f)
    assert rc == 3 and st["stored"] == 1
    assert q(db, "SELECT position, reason, value FROM rejected") == \
        [(2, "unexpected text after a closing quote", '2821,"2019-09-02T10:00:00+02:00"x,1')]


def test_over_long_line_is_skipped_not_the_rest(tmp_path, bouchon):
    f = tmp_path / "hugeline.csv"
    with open(f, "w") as out:
        out.write(HEADER + '2821,"2019-09-02T10:00:00+02:00",1\n')
        out.write("9" * (17 << 20) + "\n")
        out.write('2821,"2019-09-02T11:00:00+02:00",2\n')
    db = tmp_path / "h.db"
    rc, st, _ = imp(db, "segment-history", f)
    assert rc == 3 and st["stored"] == 2 and st["rejected"] == 1
    (pos, reason), = q(db, "SELECT position, reason FROM rejected")
    assert pos == 3 and "longer than" in reason


# ------------------------------------------------------------------------- corrupt gzip


def test_gzip_crc_error_keeps_every_row_and_says_so(tmp_path, bouchon):
    """Bug 5: a bad trailer (CRC) must not drop the last megabytes of good rows."""
    lines = score_lines(100000)
    raw = bytearray(gzip.compress((HEADER + "".join(lines)).encode()))
    raw[-8] ^= 0xFF  # the CRC32 of the trailer
    f = tmp_path / "crc.csv.gz"
    f.write_bytes(bytes(raw))
    db = tmp_path / "c.db"
    rc, st, _ = imp(db, "segment-history", f)
    assert rc == 3
    assert st["rows"] == 100000 and st["stored"] + st["duplicates"] == 100000
    (reason,), = q(db, "SELECT reason FROM rejected WHERE position = 0")
    assert "incorrect data check" in reason and "kept" in reason
    assert q(db, "SELECT completed FROM raw_source") == [(0,)]


def test_gzip_stored_block_with_a_changed_digit_is_reported(tmp_path, bouchon):
    body = (HEADER + '2821,"2019-09-02T10:00:00+02:00",1\n'
            '2821,"2019-09-02T11:00:00+02:00",2\n').encode()
    comp = zlib.compressobj(0, zlib.DEFLATED, 31)  # level 0: stored blocks, bytes in clear
    raw = bytearray(comp.compress(body) + comp.flush())
    i = raw.index(b",2\n")
    raw[i + 1] = ord("3")
    f = tmp_path / "stored.csv.gz"
    f.write_bytes(bytes(raw))
    db = tmp_path / "s.db"
    rc, st, _ = imp(db, "segment-history", f)
    assert rc == 3 and st["rows"] == 2
    (reason,), = q(db, "SELECT reason FROM rejected WHERE position = 0")
    assert "incorrect data check" in reason and "cannot be told apart" in reason


def test_concatenated_gzip_members_are_read(tmp_path, bouchon):
    lines = score_lines(3000)
    f = tmp_path / "two.csv.gz"
    f.write_bytes(gzip.compress((HEADER + "".join(lines[:1000])).encode()) +
                  gzip.compress("".join(lines[1000:]).encode()))
    db = tmp_path / "m.db"
    rc, st, _ = imp(db, "segment-history", f)
    assert rc == 0 and st["rows"] == 3000


# -------------------------------------------------------------- the imported counters


def counters(db):
    c = imported(db)
    return {k: c[k] for k in ("rows", "stored", "rejected", "duplicates", "merged", "unknown",
                              "capped", "raised", "unmapped_rows")}


@pytest.fixture(scope="module")
def part(tmp_path_factory):
    """600,000 real rows (gzip) and the warehouse of one uninterrupted import of them."""
    d = tmp_path_factory.mktemp("part")
    lines = score_lines(600000)
    gz = d / "part.csv.gz"
    with gzip.open(gz, "wt", compresslevel=1) as f:
        f.write(HEADER + "".join(lines))
    plain = d / "part.csv"
    plain.write_text(HEADER + "".join(lines))
    ref = d / "ref.db"
    rc, st, _ = imp(ref, "segment-history", gz, extra=("--segments", shared_file(SEGMENTS)))
    assert rc == 0
    return d, gz, plain, ref, st


def test_counters_after_kills_equal_one_import(tmp_path, part, bouchon):
    """Bug 7: SIGKILL twice, then a rerun: the counters of one uninterrupted import."""
    _, gz, _, ref, ref_st = part
    db = tmp_path / "k.db"
    imp(db, "segment-history", shared_file(SEGMENTS))
    kills = 0
    for _ in range(2):
        before = q(db, "SELECT coalesce(sum(rows), 0) FROM history_hour")[0][0]
        p = subprocess.Popen([bouchon_bin(), "import", "--db", str(db), "--kind",
                              "segment-history", "-q", "--batch-rows", "50000", str(gz)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            try:
                n = q(db, "SELECT coalesce(sum(rows), 0) FROM history_hour")[0][0]
            except sqlite3.OperationalError:
                n = before
            if n > before:
                p.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.002)
        p.wait()
    done = q(db, "SELECT completed FROM raw_source WHERE dataset = 'ci_trafi_l_hourly'")
    if kills == 0 or done == [(1,)]:
        pytest.skip("the import finished before it could be killed")
    assert q(db, "SELECT completed FROM raw_source WHERE dataset = 'ci_trafi_l_hourly'") == [(0,)]
    rc, st, _ = imp(db, "segment-history", gz)
    assert rc == 0
    for k in ("rows", "stored", "duplicates", "unknown", "capped", "raised", "unmapped_rows"):
        assert st[k] == ref_st[k], k
    assert counters(db) == counters(ref)
    assert q(db, "SELECT count(*), sum(rows) FROM history_hour") == \
        q(ref, "SELECT count(*), sum(rows) FROM history_hour")


def test_counters_after_reimport_in_other_bytes(tmp_path, part, bouchon):
    """The same rows as plain CSV: duplicates, not new rows, unknown or capped."""
    _, gz, plain, ref, _ = part
    db = tmp_path / "r.db"
    imp(db, "segment-history", gz, extra=("--segments", shared_file(SEGMENTS)))
    rc, st, _ = imp(db, "segment-history", plain)
    assert rc == 0 and st["stored"] == 0 and st["duplicates"] == st["rows"] == 600000
    assert st["unknown"] == st["capped"] == st["raised"] == st["unmapped_rows"] == 0
    c, r = counters(db), counters(ref)
    for k in ("stored", "unknown", "capped", "raised", "unmapped_rows", "merged", "rejected"):
        assert c[k] == r[k], k
    assert c["rows"] == 2 * r["rows"] and c["duplicates"] == r["duplicates"] + r["rows"]


def test_counters_with_a_late_segments_file(tmp_path, part, bouchon):
    _, gz, _, ref, _ = part
    db = tmp_path / "l.db"
    imp(db, "segment-history", gz)
    rc, st, _ = imp(db, "segment-history", shared_file(SEGMENTS))
    assert rc == 0
    assert counters(db) == counters(ref)
    assert counters(db)["unmapped_rows"] < 600000


# ------------------------------------------------------------------- works and periods


def test_works_reimport_in_other_bytes_keeps_source(tmp_path, bouchon):
    src = shared_file("ci_chantier_2024-10-01.csv")
    other = tmp_path / "works.csv"
    other.write_bytes(src.read_bytes().replace(b"\r\n", b"\n"))
    db = tmp_path / "w.db"
    rc, st, _ = imp(db, "works", src)
    assert rc == 0 and st["stored"] == 315
    before = q(db, "SELECT gid, source_id FROM road_work ORDER BY gid")
    rc, st, _ = imp(db, "works", other)
    assert rc == 0 and st["duplicates"] == 315 and st["merged"] == 0 and st["stored"] == 0
    assert q(db, "SELECT gid, source_id FROM road_work ORDER BY gid") == before


def test_period_with_another_end_is_merged(tmp_path, bouchon):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text('"deb","fin","label"\n2020-03-17,2020-05-10,Confinement\n')
    b.write_text('"deb","fin","label"\n2020-03-17,2020-05-11,Confinement\n'
                 '2020-03-17,2020-05-10,Confinement\n')
    db = tmp_path / "p.db"
    imp(db, "periods", a)
    rc, st, _ = imp(db, "periods", b)
    assert rc == 0 and st["merged"] == 1 and st["duplicates"] == 1 and st["stored"] == 0
    assert q(db, "SELECT end_day FROM period") == [(18392,)]  # 2020-05-10 kept
