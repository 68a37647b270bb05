#!/usr/bin/env python3
"""Build the JSON inputs of the C JSON library benchmark (python3 stdlib only).

Writes into OUTDIR (default: bench/json/out/):
  ci_trafi_l_records.json   records API v2.1 page {"total_count":694,"results":[...]}
                            rebuilt from the real ci_trafi_l CSV snapshot of 2025-12-18 10:00
  err_*.json                broken variants of the real payloads (error-reporting test);
                            err_index.tsv tells where each defect is (byte offset, line, column)
  probe_*.json              tiny edge-case documents (duplicates, big integers, NaN, depth...)

Usage: make_payload.py [--data DIR] [--out OUTDIR]
"""

import argparse
import csv
import datetime as dt
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = "/work/shared/data/bordeaux"
SNAPSHOT = "ci_trafi_l_2025-12-18T1000.csv"
PONCT = "pc_capte_ponct_p.json"


def to_utc(stamp):
    """'2025-12-18T10:00:50+01:00' -> '2025-12-18T09:00:50+00:00' (the records API answers in UTC)."""
    t = dt.datetime.fromisoformat(stamp).astimezone(dt.timezone.utc)
    return t.isoformat()


def record_from_row(row):
    lat, lon = (float(v) for v in row["geo_point_2d"].split(","))
    geometry = json.loads(row["geo_shape"])
    return {
        "gml_id": row["gml_id"],
        "gid": int(row["gid"]),
        "ident": row["ident"],
        "typevoie": row["typevoie"],
        "etat": row["etat"],
        "cdate": to_utc(row["cdate"]),
        "mdate": to_utc(row["mdate"]),
        "origine": row["origine"],
        "commune": row["commune"],
        "code_commune": row["code_commune"],
        "geo_point_2d": {"lon": lon, "lat": lat},
        "geo_shape": {
            "type": "Feature",
            "geometry": {"coordinates": geometry["coordinates"], "type": geometry["type"]},
            "properties": {},
        },
    }


def line_col(data, offset):
    """1-based line, 1-based column in bytes, of byte `offset`."""
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, offset - start + 1


def nth(data, needle, n):
    """Byte offset of the n-th (0-based) occurrence of needle."""
    pos = -1
    for _ in range(n + 1):
        pos = data.index(needle, pos + 1)
    return pos


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    with open(os.path.join(args.data, SNAPSHOT), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    if len(rows) != 694:
        sys.exit(f"expected 694 rows in {SNAPSHOT}, got {len(rows)}")
    page = {"total_count": len(rows), "results": [record_from_row(r) for r in rows]}
    # Same separators as the Opendatasoft output seen in the real exports: ", " and ": ".
    records = json.dumps(page, ensure_ascii=False).encode("utf-8")
    write(args.out, "ci_trafi_l_records.json", records)

    with open(os.path.join(args.data, PONCT), "rb") as f:
        ponct = f.read()

    index = []  # (file, defect, offset)

    def broken(name, data, offset, what):
        write(args.out, name, data)
        ln, col = line_col(data, offset)
        index.append((name, what, offset, ln, col))

    # 1. Truncated download: the page cut in the middle of record 400's coordinates.
    cut = nth(records, b'"coordinates": [[', 400) + 40
    broken("err_truncated.json", records[:cut], cut, "truncated inside record 400 (EOF)")

    # 2. Invalid token: the etat value of record 412 loses its quotes (FLUIDE instead of "FLUIDE").
    pos = nth(records, b'"etat": "', 412) + len(b'"etat": ')
    end = records.index(b'"', pos + 1)
    bad = records[:pos] + records[pos + 1:end] + records[end + 1:]
    broken("err_bad_token.json", bad, pos, "unquoted etat value in record 412")

    # 3. Missing comma between two records of the 4 MB export (record 5000 / 5001).
    sep = b'},{"geo_point_2d"' if b'},{"geo_point_2d"' in ponct else b'}, {"geo_point_2d"'
    pos = nth(ponct, sep, 4999) + 1
    bad = ponct[:pos] + ponct[pos + 1:]
    broken("err_missing_comma.json", bad, pos, "comma between records 4999 and 5000 removed")

    # 4. Latin-1 byte in a string (a mis-encoded "Mérignac"), record 3.
    pos = records.index("Mérignac".encode("utf-8"))
    bad = records[:pos] + "Mérignac".encode("latin-1") + records[pos + len("Mérignac".encode()):]
    broken("err_latin1.json", bad, pos + 1, "invalid UTF-8 (latin-1 é) in commune")

    # 5. Two documents back to back (a log file with a second page appended).
    bad = records + b"\n" + records[:200]
    broken("err_trailing.json", bad, len(records) + 1, "second document after the first")

    # 6. Pretty-printed page with the same unquoted token: is line/column any use?
    pretty = json.dumps(page, ensure_ascii=False, indent=1).encode("utf-8")
    pos = nth(pretty, b'"etat": "', 412) + len(b'"etat": ')
    end = pretty.index(b'"', pos + 1)
    bad = pretty[:pos] + pretty[pos + 1:end] + pretty[end + 1:]
    broken("err_bad_token_pretty.json", bad, pos, "unquoted etat value in record 412 (indented)")

    with open(os.path.join(args.out, "err_index.tsv"), "w", encoding="utf-8") as f:
        f.write("file\tdefect\toffset\tline\tcolumn\n")
        for name, what, off, ln, col in index:
            f.write(f"{name}\t{what}\t{off}\t{ln}\t{col}\n")

    probes = {
        "probe_dup_key.json": b'{"gid": 1, "etat": "FLUIDE", "gid": 2}',
        "probe_int64_max.json": b'{"gid": 9223372036854775807}',
        "probe_int64_over.json": b'{"gid": 9223372036854775808}',
        "probe_uint64_over.json": b'{"gid": 18446744073709551616}',
        "probe_int64_under.json": b'{"gid": -9223372036854775809}',
        "probe_int_2p53p1.json": b'{"gid": 9007199254740993}',
        "probe_real_over.json": b'{"v": 1e400}',
        "probe_nan.json": b'{"v": NaN}',
        "probe_infinity.json": b'{"v": Infinity}',
        "probe_comment.json": b'{"v": 1 /* comment */}',
        "probe_trailing_comma.json": b'{"v": [1, 2,]}',
        "probe_single_quote.json": b"{'v': 1}",
        "probe_leading_zero.json": b'{"v": 012}',
        "probe_nul_escape.json": b'{"v": "a\\u0000b"}',
        "probe_lone_surrogate.json": b'{"v": "\\ud800"}',
        "probe_long_number.json": b'{"v": 44.82288' + b"0" * 70 + b'1}',
        "probe_reals.json": b'[44.82288, -0.601044, 0.1, 44.82186651428834, 1e-7, 5]',
        "probe_bare_scalar.json": b'42',
        "probe_empty.json": b'',
    }
    # Field-level error after a successful parse: record 1 of a 3-record page has gid as a string.
    small = {"total_count": 3, "results": [record_from_row(r) for r in rows[:3]]}
    small["results"][1]["gid"] = str(small["results"][1]["gid"])
    probes["probe_gid_string.json"] = json.dumps(small, ensure_ascii=False).encode("utf-8")
    small = {"total_count": 3, "results": [record_from_row(r) for r in rows[:3]]}
    del small["results"][1]["gid"]
    probes["probe_gid_missing.json"] = json.dumps(small, ensure_ascii=False).encode("utf-8")
    for depth in (32, 33, 1000, 1001, 2048, 2049, 100000):
        probes[f"probe_depth_{depth}.json"] = b"[" * depth + b"]" * depth
    for name, data in probes.items():
        write(args.out, name, data)

    print(f"wrote {len(records)} bytes ci_trafi_l_records.json, {len(index)} err_*, "
          f"{len(probes)} probe_* into {args.out}")


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
