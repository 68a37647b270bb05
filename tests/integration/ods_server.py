#!/usr/bin/env python3
"""Local stand-in for the Opendatasoft Explore API v2.1 of Bordeaux Métropole.

Python 3.11 standard library only. Integration tests start it on 127.0.0.1 and
point the bouchon binary's --base-url at it. It serves the recorded ci_trafi_l
snapshots of tests/fixtures/api/ (derived from real Bordeaux Métropole open data,
see the README.md there) and injects faults on demand. It also serves ci_tpstj_a
(live travel times, 16 corridors) from the real snapshot
shared/data/bordeaux/ci_tpstj_a_2025-12-17T1405Z.csv (--travel-csv; $BOUCHON_SHARED
names the shared folder, default <repo>/../shared), converted to the v2.1 shapes:
bm_gid, bm_ident, bm_actuel and bm_ref as JSON integers, bm_libelle, bm_cdate and
bm_mdate as strings, no geometry (GeoJSON features have "geometry": null). Without
that file the dataset is not served (a warning on stderr).

    python3 tests/integration/ods_server.py --port 0 [--scenario NAME] [--snapshot 0950|1000]

When ready it prints exactly one line to stdout, "LISTENING http://127.0.0.1:PORT",
and nothing else. It binds 127.0.0.1 only and exits with status 0 on SIGTERM/SIGINT.

Endpoints (DATA_FORMATS.md §1.1):
  GET /api/explore/v2.1/catalog/datasets/{id}/records
        limit (default 10, -1..100; -1 means 100), offset (>= 0, offset+limit <= 10000),
        select (field list or *), where (ODSQL subset, below), order_by (field [asc|desc], ...),
        refine (field:value, repeatable). Others (timezone, lang, ...) are accepted and
        ignored; group_by is refused with HTTP 400.
  GET /api/explore/v2.1/catalog/datasets/{id}/exports/{json|geojson|csv}
        the whole snapshot, no 100-row cap; limit (default -1 = all), offset, select,
        where, order_by, refine; csv also takes delimiter (default ";"),
        use_labels (true: "Geo Point;Geo Shape" header) and with_bom (default false).
  Control (never faulted, never counted, no API key needed):
  GET  /__control   current state as JSON
  POST /__control   JSON object of settings to change, e.g. {"scenario": "rate_limited",
                    "snapshot": "1000", "fail_count": 3}; keys as the command-line options
                    with underscores, plus "reset_counters": true and "clear_requests": true.
                    Setting "scenario" (even to the same value) restarts the fault counters.
  GET  /__requests  JSON list of the API requests received so far (control calls excluded):
                    seq, time (epoch s), time_iso, method, path, dataset (None off the
                    API routes), query (raw), params, auth_header (bool), scenario,
                    snapshot, fault, status (None while pending).
                    Values of apikey (in query and params) are replaced by "<redacted>".
  DELETE /__requests  clears that list.

Every response carries X-RateLimit-Limit, X-RateLimit-Remaining (--rate-limit minus
the API requests served so far, never below 0) and X-RateLimit-Reset (Unix epoch of the
next UTC midnight: the portal's quota is daily). Past --rate-limit requests the server
answers 429 with the quota body below.

Scenarios (--scenario or POST /__control). "First N" means the first N API requests
(records or exports, any dataset) since the scenario was set; N is --fail-count
(default 2), and a negative N means every request. --fault-dataset ID (control key
"fault_dataset", null for any) confines every scenario, fault and data alike, to the
requests for dataset ID: the others are served normally and not counted in N.
  normal                 recorded data, no fault.
  rate_limited           first N: HTTP 429, "Retry-After: <retry_after>" (default 1),
                         X-RateLimit-Remaining: 0, JSON quota body. Then normal.
  server_error_then_ok   first N: HTTP 503 then 500 alternately (--error-status 503 or 500
                         to pin one), JSON error body. Then normal.
  timeout                first N: the response is held back for --delay seconds
                         (default 10). --timeout-mode before (default): nothing at all is
                         sent during the delay; mid_body: status line, headers and the
                         first half of the body are sent, then the stall, then the rest.
                         After the delay the normal response is sent if the client is
                         still there.
  truncated              first N: --truncate-mode short (default): the Content-Length of
                         the full body is announced, only the first half of the body is
                         sent, then the connection is closed; cut: the first half of the
                         body is sent with a matching Content-Length (valid HTTP, JSON cut
                         in the middle). Then normal.
  html_error             first N: an HTML page with Content-Type text/html and status
                         --html-status (default 502; 200 gives a "maintenance" page with
                         status 200). Then normal.
  empty                  records: total_count 0, results []; exports: [], an empty
                         FeatureCollection, a CSV with the header line only.
  missing_field          the record with gid --target-gid (default 2274) lacks the field
                         --missing-field (default etat): the key is absent from JSON and
                         GeoJSON properties, the cell is empty in CSV.
  unknown_state          the record with gid --target-gid (default 2455) has etat
                         --unknown-value (default "BLOQUE").
  all_unknown            every record has etat "INCONNU".
  total_count_mismatch   records: total_count is --claimed-total (default 700) while the
                         results still hold the real 694 records (offset 600 gives 94,
                         offset 700 gives none). Exports unchanged (they carry no count).
  shifting               records: odd-numbered records requests (1st, 3rd, ...) see the full
                         694 records; even-numbered ones see the dataset without the record
                         --target-gid (default: the lowest gid, 1081), total_count 693, so
                         every later offset shifts by one. Exports unchanged.
  bad_value              the record with gid --target-gid (default: the lowest gid) has field
                         --bad-field (default etat) set to --bad-value (default "BLOQUE"),
                         read as a JSON literal when it is one (-60 is a number, "\"12\"" a
                         string, abc the string abc); e.g. --fault-dataset ci_tpstj_a
                         --bad-field bm_actuel --bad-value -60.
The data scenarios (empty ... bad_value) apply to every request, not only the first N.
The gid of a record is its "gid" field, or "bm_gid" for ci_tpstj_a; all_unknown and
unknown_state only touch records that have an etat.
--snapshot / "snapshot" chooses which recorded snapshot is served (a dataset with
one snapshot, as ci_tpstj_a, serves it whatever the choice).

--require-apikey KEY: API requests without apikey=KEY in the query or the header
"Authorization: Apikey KEY" get HTTP 401 with a JSON error body.

Error bodies: the 400 messages for limit and offset+limit are the real ones
(DATA_FORMATS.md §1.1). The shapes of the 404/401/500/503 bodies, the ODSQL error and
the quota body (fields errorcode/error/reset_time/call_limit/limit_time_unit, as read by
public Opendatasoft clients) are not captured from the real portal: treat them as plausible.

ODSQL subset for where: comparisons (=, !=, <>, <, <=, >, >=) of a field with a "string",
'string' or number; field [not] in (v, ...); field is [not] null; and, or, not, parentheses.
Field names may be `backquoted`. Anything else gets HTTP 400 ODSQLError.
"""

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_FIXTURES = HERE.parent / "fixtures" / "api"
API_PREFIX = "/api/explore/v2.1/catalog/datasets/"
ROUTE = re.compile(r"^/api/explore/v2\.1/catalog/datasets/([^/]+)/(records|exports/([^/]+))/?$")

SCENARIOS = (
    "normal", "rate_limited", "server_error_then_ok", "timeout", "truncated", "html_error",
    "empty", "missing_field", "unknown_state", "all_unknown", "total_count_mismatch", "shifting",
    "bad_value",
)
FAULT_SCENARIOS = ("rate_limited", "server_error_then_ok", "timeout", "truncated", "html_error")
EXPORT_FORMATS = ("json", "geojson", "csv")
DEFAULT_TARGET_GID = {"missing_field": 2274, "unknown_state": 2455}
MAX_LIMIT = 100
MAX_WINDOW = 10000
CSV_LABELS = {"geo_point_2d": "Geo Point", "geo_shape": "Geo Shape"}
JSON_TYPE = "application/json; charset=utf-8"
REPO_ROOT = HERE.parents[1]
TRAVEL_DATASET = "ci_tpstj_a"
TRAVEL_FILE = "ci_tpstj_a_2025-12-17T1405Z.csv"
TRAVEL_INTS = ("bm_gid", "bm_ident", "bm_actuel", "bm_ref")


def default_travel_csv():
    shared = Path(os.environ.get("BOUCHON_SHARED") or REPO_ROOT.parent / "shared")
    return shared / "data" / "bordeaux" / TRAVEL_FILE


# --------------------------------------------------------------------------------------
# Recorded data


class Snapshot:
    """One recorded snapshot of one dataset, in the four served shapes."""

    def __init__(self, fixtures, dataset, snap):
        base = fixtures / f"{dataset}_{snap}"
        doc = json.loads((base.with_name(base.name + ".records.json")).read_text("utf-8"))
        self.records = doc["results"]
        self.export_json = json.loads(base.with_name(base.name + ".export.json").read_text("utf-8"))
        self.features = json.loads(
            base.with_name(base.name + ".export.geojson").read_text("utf-8"))["features"]
        text = base.with_name(base.name + ".export.csv").read_bytes().decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
        self.csv_header = list(reader.fieldnames)
        self.csv_rows = list(reader)
        self.fields = list(self.csv_header)
        self.key = "gid"
        self.gids = sorted(r["gid"] for r in self.records)


class TravelSnapshot:
    """The live ci_tpstj_a snapshot of a real CSV (bm_ fields), in the four served shapes:
    records and export JSON with the integer fields typed, GeoJSON features without geometry,
    and the CSV as read."""

    def __init__(self, path):
        text = Path(path).read_bytes().decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
        self.csv_header = list(reader.fieldnames)
        self.csv_rows = list(reader)
        self.fields = list(self.csv_header)
        self.key = "bm_gid"
        self.records = [{name: typed(name, row[name]) for name in self.csv_header}
                        for row in self.csv_rows]
        self.records.sort(key=lambda r: r["bm_gid"])
        self.export_json = [dict(r) for r in self.records]
        self.features = [{"type": "Feature", "geometry": None, "properties": dict(r)}
                         for r in self.records]
        self.gids = [r["bm_gid"] for r in self.records]


def typed(name, cell):
    if name in TRAVEL_INTS and re.fullmatch(r"-?\d+", cell or ""):
        return int(cell)
    return None if cell == "" else cell


def travel_snapshot_name(path):
    m = re.search(r"T(\d{4})Z?\.csv$", Path(path).name)
    return m.group(1) if m else "live"


def load_store(fixtures, travel_csv=None):
    """{dataset: {snap: Snapshot}} from files named <dataset>_<snap>.records.json, plus
    ci_tpstj_a from travel_csv when that file exists."""
    store = {}
    if travel_csv:
        if Path(travel_csv).is_file():
            store[TRAVEL_DATASET] = {travel_snapshot_name(travel_csv): TravelSnapshot(travel_csv)}
        else:
            print(f"ods_server: {travel_csv} not found: {TRAVEL_DATASET} is not served",
                  file=sys.stderr)
    for path in sorted(fixtures.glob("*.records.json")):
        stem = path.name[: -len(".records.json")]
        dataset, _, snap = stem.rpartition("_")
        if not dataset:
            continue
        store.setdefault(dataset, {})[snap] = Snapshot(fixtures, dataset, snap)
    if not store:
        raise SystemExit(f"ods_server: no *.records.json fixtures in {fixtures}")
    return store


# --------------------------------------------------------------------------------------
# Errors and helpers


class ApiError(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__(body.get("message") or body.get("error"))
        self.status = status
        self.body = body
        self.headers = headers or []


def rest_error(message):
    return ApiError(400, {"error_code": "InvalidRESTParameterError", "message": message})


def odsql_error(message):
    return ApiError(400, {"error_code": "ODSQLError", "message": message})


def next_utc_midnight():
    now = dt.datetime.now(dt.timezone.utc)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return tomorrow


def quota_body(limit):
    reset = next_utc_midnight().strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "errorcode": 10002,
        "reset_time": reset,
        "limit_time_unit": "day",
        "call_limit": limit,
        "error": "Too many requests on the domain. Please contact the domain administrator.",
    }


def json_bytes(obj):
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def dump_lines(items):
    """Same layout as tests/fixtures/api/make_fixtures.py (one element per line)."""
    if not items:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]"


def parse_int(params, name, default):
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise rest_error(f"Invalid value for {name} API parameter: {raw} was found "
                         f"but an integer is expected.") from None


def parse_bool(params, name, default):
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise rest_error(f"Invalid value for {name} API parameter: {raw} was found "
                     f"but a boolean is expected.")


# --------------------------------------------------------------------------------------
# ODSQL subset: where, order_by, select

TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.|"")*"|'(?:[^'\\]|\\.|'')*')
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<bq>`[^`]*`)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    )""", re.VERBOSE)
KEYWORDS = {"and", "or", "not", "in", "is", "null"}


def tokenize(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise odsql_error(f"ODSQL query is malformed: unexpected character at position "
                              f"{pos} in {text!r}.")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "str":
            quote = val[0]
            body = val[1:-1].replace(quote * 2, quote)
            val = re.sub(r"\\(.)", r"\1", body)
        elif kind == "num":
            val = float(val) if "." in val else int(val)
        elif kind == "bq":
            kind, val = "ident", val[1:-1]
        elif kind == "word":
            if val.lower() in KEYWORDS:
                kind, val = "kw", val.lower()
            else:
                kind = "ident"
        out.append((kind, val))
    return out


class WhereParser:
    """Recursive descent over the token list; builds a predicate on a flat dict."""

    def __init__(self, text, fields):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.fields = fields

    def fail(self, what):
        raise odsql_error(f"ODSQL query is malformed: {what} in {self.text!r}.")

    def peek(self, kind=None, val=None):
        if self.i >= len(self.toks):
            return False
        k, v = self.toks[self.i]
        return (kind is None or k == kind) and (val is None or v == val)

    def take(self, kind=None, val=None):
        if not self.peek(kind, val):
            self.fail(f"expected {val or kind}")
        tok = self.toks[self.i]
        self.i += 1
        return tok[1]

    def parse(self):
        pred = self.or_expr()
        if self.i != len(self.toks):
            self.fail(f"unexpected {self.toks[self.i][1]!r}")
        return pred

    def or_expr(self):
        parts = [self.and_expr()]
        while self.peek("kw", "or"):
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def and_expr(self):
        parts = [self.not_expr()]
        while self.peek("kw", "and"):
            self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def not_expr(self):
        if self.peek("kw", "not"):
            self.i += 1
            inner = self.not_expr()
            return lambda r: not inner(r)
        if self.peek("punct", "("):
            self.i += 1
            inner = self.or_expr()
            self.take("punct", ")")
            return inner
        return self.comparison()

    def literal(self):
        if self.peek("str") or self.peek("num"):
            return self.take()
        self.fail("expected a literal")
        return None

    def comparison(self):
        field = self.take("ident")
        if field not in self.fields:
            raise odsql_error(f"Unknown field: {field}")
        if self.peek("kw", "is"):
            self.i += 1
            negate = False
            if self.peek("kw", "not"):
                self.i += 1
                negate = True
            self.take("kw", "null")
            return lambda r: (r.get(field) in (None, "")) != negate
        negate = False
        if self.peek("kw", "not"):
            self.i += 1
            negate = True
            if not self.peek("kw", "in"):
                self.fail("expected in")
        if self.peek("kw", "in"):
            self.i += 1
            self.take("punct", "(")
            values = [self.literal()]
            while self.peek("punct", ","):
                self.i += 1
                values.append(self.literal())
            self.take("punct", ")")
            return lambda r: any(compare(r.get(field), "=", v) for v in values) != negate
        op = self.take("op")
        value = self.literal()
        return lambda r: compare(r.get(field), op, value)


def compare(left, op, right):
    if left is None or left == "":
        return op in ("!=", "<>")
    if isinstance(right, (int, float)) and not isinstance(left, (int, float)):
        try:
            left = float(left)
        except (TypeError, ValueError):
            return op in ("!=", "<>")
    elif isinstance(right, str) and not isinstance(left, str):
        left = str(left) if not isinstance(left, dict) else json.dumps(left)
    if op == "=":
        return left == right
    if op in ("!=", "<>"):
        return left != right
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right,
                ">=": left >= right}[op]
    except TypeError:
        return False


def parse_order_by(text, fields):
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise odsql_error(f"ODSQL query is malformed: invalid order_by {text!r}.")
        name = words[0].strip("`")
        desc = False
        if len(words) == 2:
            if words[1].lower() not in ("asc", "desc"):
                raise odsql_error(f"ODSQL query is malformed: invalid order_by {text!r}.")
            desc = words[1].lower() == "desc"
        if name not in fields:
            raise odsql_error(f"Unknown field: {name}")
        if name in ("geo_point_2d", "geo_shape"):
            raise odsql_error(f"Cannot sort on geo field: {name}")
        keys.append((name, desc))
    return keys


def parse_select(text, fields):
    text = text.strip()
    if text in ("", "*"):
        return None
    names = []
    for part in text.split(","):
        name = part.strip().strip("`")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise odsql_error(f"Select expression not supported by this stand-in: {part.strip()!r}")
        if name not in fields:
            raise odsql_error(f"Unknown field: {name}")
        names.append(name)
    return names


def sort_rows(rows, keys, flat):
    def as_key(v):
        if isinstance(v, str):
            try:
                return (0, float(v), "")
            except ValueError:
                return (0, float("-inf"), v)
        return (0, float(v), "")

    for name, desc in reversed(keys):
        present = [r for r in rows if flat(r).get(name) not in (None, "")]
        absent = [r for r in rows if flat(r).get(name) in (None, "")]
        present.sort(key=lambda r: as_key(flat(r)[name]), reverse=desc)
        rows = present + absent
    return rows


# --------------------------------------------------------------------------------------
# Server state


OPTION_TYPES = {
    "scenario": str, "snapshot": str, "fail_count": int, "delay": float,
    "timeout_mode": str, "truncate_mode": str, "html_status": int, "error_status": str,
    "retry_after": int, "target_gid": (int, type(None)), "missing_field": str,
    "unknown_value": str, "claimed_total": int, "rate_limit": int,
    "require_apikey": (str, type(None)), "fault_dataset": (str, type(None)),
    "bad_field": str, "bad_value": str,
}


class State:
    def __init__(self, store, opts):
        self.lock = threading.Lock()
        self.store = store
        self.opts = dict(opts)
        self.fault_counter = 0
        self.records_counter = 0
        self.quota_used = 0
        self.requests = []
        self.validate(self.opts)

    def validate(self, opts):
        if opts["scenario"] not in SCENARIOS:
            raise ValueError(f"unknown scenario {opts['scenario']!r}; "
                             f"one of {', '.join(SCENARIOS)}")
        snaps = set()
        for per in self.store.values():
            snaps.update(per)
        if opts["snapshot"] not in snaps:
            raise ValueError(f"unknown snapshot {opts['snapshot']!r}; one of {sorted(snaps)}")
        if opts["timeout_mode"] not in ("before", "mid_body"):
            raise ValueError("timeout_mode must be before or mid_body")
        if opts["truncate_mode"] not in ("short", "cut"):
            raise ValueError("truncate_mode must be short or cut")
        if opts["error_status"] not in ("alternate", "500", "503"):
            raise ValueError("error_status must be alternate, 500 or 503")
        if not 100 <= opts["html_status"] <= 599:
            raise ValueError("html_status must be an HTTP status")
        if opts["delay"] < 0 or opts["retry_after"] < 0 or opts["rate_limit"] < 0:
            raise ValueError("delay, retry_after and rate_limit must be >= 0")

    def apply_control(self, changes):
        if not isinstance(changes, dict):
            raise ValueError("control body must be a JSON object")
        with self.lock:
            new = dict(self.opts)
            for key, value in changes.items():
                if key in ("reset_counters", "clear_requests"):
                    continue
                if key not in OPTION_TYPES:
                    raise ValueError(f"unknown control key {key!r}")
                want = OPTION_TYPES[key]
                if key == "error_status" and isinstance(value, int):
                    value = str(value)
                if key == "delay" and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if isinstance(value, bool) or not isinstance(value, want):
                    raise ValueError(f"bad type for {key!r}")
                new[key] = value
            self.validate(new)
            self.opts = new
            if "scenario" in changes or changes.get("reset_counters"):
                self.fault_counter = 0
                self.records_counter = 0
            if changes.get("reset_counters"):
                self.quota_used = 0
            if changes.get("clear_requests"):
                self.requests.clear()
            return self.describe_locked()

    def describe_locked(self):
        return {
            **self.opts,
            "require_apikey": bool(self.opts["require_apikey"]),
            "fault_counter": self.fault_counter,
            "records_counter": self.records_counter,
            "quota_used": self.quota_used,
            "requests_logged": len(self.requests),
            "scenarios": list(SCENARIOS),
            "datasets": {d: sorted(s) for d, s in self.store.items()},
        }

    def describe(self):
        with self.lock:
            return self.describe_locked()


# --------------------------------------------------------------------------------------
# Data shaping per representation

KIND_FLAT = {
    "records": lambda r: r,
    "json": lambda r: r,
    "geojson": lambda f: f["properties"],
    "csv": lambda r: r,
}


def replaced(kind, row, fn):
    """A copy of row whose flat field dict went through fn(flat_copy, is_csv)."""
    if kind == "geojson":
        props = dict(row["properties"])
        fn(props, False)
        return {**row, "properties": props}
    flat = dict(row)
    fn(flat, kind == "csv")
    return flat


def base_rows(snapshot, kind):
    return {"records": snapshot.records, "json": snapshot.export_json,
            "geojson": snapshot.features, "csv": snapshot.csv_rows}[kind]


def bad_literal(text):
    """--bad-value as served in JSON: a JSON literal when it parses as one, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def scenario_rows(opts, snapshot, kind, dataset=None):
    rows = base_rows(snapshot, kind)
    scen = opts["scenario"]
    flat = KIND_FLAT[kind]
    if opts.get("fault_dataset") and dataset != opts["fault_dataset"]:
        return rows
    if scen == "empty":
        return []
    if scen == "all_unknown":
        def set_unknown(d, _csv):
            d["etat"] = "INCONNU"
        return [replaced(kind, r, set_unknown) if "etat" in flat(r) else r for r in rows]
    if scen == "bad_value":
        target = opts["target_gid"] if opts["target_gid"] is not None else snapshot.gids[0]
        field, value = opts["bad_field"], bad_literal(opts["bad_value"])

        def set_bad(d, is_csv):
            d[field] = (value if isinstance(value, str) else json.dumps(value)) if is_csv \
                else value
        return [replaced(kind, r, set_bad) if str(flat(r).get(snapshot.key)) == str(target)
                else r for r in rows]
    if scen in ("missing_field", "unknown_state"):
        target = opts["target_gid"]
        if target is None:
            target = DEFAULT_TARGET_GID[scen]
        field, value = opts["missing_field"], opts["unknown_value"]

        def alter(d, is_csv):
            if scen == "unknown_state":
                if "etat" in d:
                    d["etat"] = value
            elif is_csv:
                d[field] = ""
            else:
                d.pop(field, None)
        return [replaced(kind, r, alter) if str(flat(r).get(snapshot.key)) == str(target)
                else r for r in rows]
    return rows


# --------------------------------------------------------------------------------------
# HTTP handler


class Response:
    def __init__(self, status, body=b"", ctype=JSON_TYPE, headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = list(headers or [])


def error_response(err):
    return Response(err.status, json_bytes(err.body), headers=err.headers)


HTML_502 = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<h1>502 Bad Gateway</h1>
<p>The upstream server did not answer in time. Please try again later.</p>
</body>
</html>
"""
HTML_200 = """<!DOCTYPE html>
<html lang="fr">
<head><meta charset="utf-8"><title>Maintenance</title></head>
<body>
<h1>Portail en maintenance</h1>
<p>Le portail open data est momentanément indisponible. Merci de réessayer plus tard.</p>
</body>
</html>
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "ods-standin/1.0"

    # -- plumbing ---------------------------------------------------------------------

    @property
    def state(self):
        return self.server.state

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("ods_server: %s - %s\n" % (self.address_string(), fmt % args))

    def ratelimit_headers(self, remaining=None):
        limit = self.state.opts["rate_limit"]
        if remaining is None:
            remaining = max(0, limit - self.state.quota_used)
        reset = int(next_utc_midnight().timestamp())
        return [("X-RateLimit-Limit", str(limit)), ("X-RateLimit-Remaining", str(remaining)),
                ("X-RateLimit-Reset", str(reset))]

    def send_head(self, resp, length, remaining=None):
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(length))
        for name, value in self.ratelimit_headers(remaining) + resp.headers:
            self.send_header(name, value)
        self.end_headers()

    def send(self, resp, remaining=None):
        try:
            self.send_head(resp, len(resp.body), remaining)
            self.wfile.write(resp.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def split_path(self):
        parts = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        return urllib.parse.unquote(parts.path), parts.query, params

    # -- methods ----------------------------------------------------------------------

    def do_GET(self):
        path, query, params = self.split_path()
        if path == "/__control":
            self.send(Response(200, json_bytes(self.state.describe())))
        elif path == "/__requests":
            with self.state.lock:
                body = json_bytes(list(self.state.requests))
            self.send(Response(200, body))
        else:
            self.api(path, query, params)

    def do_POST(self):
        path, query, params = self.split_path()
        body = self.read_body()
        if path == "/__control":
            try:
                changes = json.loads(body.decode("utf-8") or "{}")
                state = self.state.apply_control(changes)
            except (ValueError, UnicodeDecodeError) as exc:
                self.send(Response(400, json_bytes({"error": str(exc)})))
                return
            self.send(Response(200, json_bytes(state)))
        else:
            self.api(path, query, params)

    def do_DELETE(self):
        path, query, params = self.split_path()
        if path == "/__requests":
            with self.state.lock:
                self.state.requests.clear()
            self.send(Response(200, json_bytes([])))
        else:
            self.api(path, query, params)

    def do_PUT(self):
        self.read_body()
        path, query, params = self.split_path()
        self.api(path, query, params)

    # -- API --------------------------------------------------------------------------

    def api(self, path, query, params):
        st = self.state
        single = {k: v[-1] for k, v in params.items()}
        logged_params = {k: ("<redacted>" if k == "apikey" else (v[0] if len(v) == 1 else v))
                         for k, v in params.items()}
        now = time.time()
        m = ROUTE.match(path)
        dataset = m.group(1) if m else None
        with st.lock:
            opts = dict(st.opts)
            targeted = not opts["fault_dataset"] or dataset == opts["fault_dataset"]
            if targeted:
                st.fault_counter += 1
            k = st.fault_counter
            st.quota_used += 1
            quota_used = st.quota_used
            entry = {
                "seq": len(st.requests) + 1,
                "time": now,
                "time_iso": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(),
                "method": self.command,
                "path": path,
                "dataset": dataset,
                "query": re.sub(r"(^|&)(apikey=)[^&]*", r"\1\2<redacted>", query),
                "params": logged_params,
                "auth_header": "Authorization" in self.headers,
                "scenario": opts["scenario"],
                "snapshot": opts["snapshot"],
                "fault": None,
                "status": None,
            }
            st.requests.append(entry)
        scen = opts["scenario"]
        n = opts["fail_count"]
        active = targeted and scen in FAULT_SCENARIOS and (n < 0 or k <= n)
        if active:
            entry["fault"] = scen

        resp, remaining = None, None
        if active and scen == "rate_limited":
            resp = Response(429, json_bytes(quota_body(opts["rate_limit"])),
                            headers=[("Retry-After", str(opts["retry_after"]))])
            remaining = 0
        elif active and scen == "server_error_then_ok":
            status = int(opts["error_status"]) if opts["error_status"] != "alternate" else (
                503 if k % 2 == 1 else 500)
            if status == 503:
                body = {"error_code": "ServiceUnavailable",
                        "message": "The service is temporarily unavailable, retry later."}
            else:
                body = {"error_code": "InternalServerError",
                        "message": "An internal error occurred."}
            resp = Response(status, json_bytes(body))
        elif active and scen == "html_error":
            code = opts["html_status"]
            reason = self.responses.get(code, ("Error",))[0]
            page = HTML_200 if code == 200 else HTML_502.replace("502 Bad Gateway",
                                                                 f"{code} {reason}")
            resp = Response(code, page.encode("utf-8"), ctype="text/html; charset=utf-8")

        if resp is None:
            try:
                self.check_apikey(opts, params)
                if quota_used > opts["rate_limit"]:
                    raise ApiError(429, quota_body(opts["rate_limit"]),
                                   headers=[("Retry-After", str(opts["retry_after"]))])
                if self.command != "GET":
                    raise ApiError(405, {"error_code": "MethodNotAllowed",
                                         "message": f"Method {self.command} not allowed."})
                resp = self.route(opts, path, params, single)
            except ApiError as err:
                resp = error_response(err)

        entry["status"] = resp.status
        if active and scen == "timeout":
            self.send_delayed(resp, opts)
        elif active and scen == "truncated":
            self.send_truncated(resp, opts)
        else:
            self.send(resp, remaining)

    def check_apikey(self, opts, params):
        key = opts["require_apikey"]
        if not key:
            return
        if key in params.get("apikey", []):
            return
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "apikey" and value.strip() == key:
            return
        raise ApiError(401, {"error_code": "InvalidAPIKeyError",
                             "message": "A valid API key is required: pass apikey=<key> or the "
                                        "header 'Authorization: Apikey <key>'."})

    def send_delayed(self, resp, opts):
        stop = self.server.stop_event
        try:
            if opts["timeout_mode"] == "before":
                stop.wait(opts["delay"])
                if stop.is_set():
                    self.close_connection = True
                    return
                self.send(resp)
                return
            half = len(resp.body) // 2
            self.send_head(resp, len(resp.body))
            self.wfile.write(resp.body[:half])
            self.wfile.flush()
            stop.wait(opts["delay"])
            if stop.is_set():
                self.close_connection = True
                return
            self.wfile.write(resp.body[half:])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_truncated(self, resp, opts):
        half = resp.body[: len(resp.body) // 2]
        try:
            if opts["truncate_mode"] == "short":
                self.send_head(resp, len(resp.body))
                self.wfile.write(half)
                self.wfile.flush()
                self.close_connection = True
            else:
                self.send_head(resp, len(half))
                self.wfile.write(half)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def route(self, opts, path, params, single):
        m = ROUTE.match(path)
        if not m:
            raise ApiError(404, {"error_code": "NotFoundError",
                                 "message": f"Unknown API endpoint: {path}"})
        dataset = m.group(1)
        snaps = self.state.store.get(dataset)
        if snaps is None:
            raise ApiError(404, {"error_code": "NotFoundError",
                                 "message": f"Dataset '{dataset}' was not found."})
        snapshot = snaps.get(opts["snapshot"]) or snaps[sorted(snaps)[-1]]
        if "group_by" in single:
            raise rest_error("group_by is not supported by this stand-in server.")
        if m.group(2) == "records":
            return self.records(opts, dataset, snapshot, params, single)
        fmt = m.group(3)
        if fmt not in EXPORT_FORMATS:
            raise ApiError(400, {"error_code": "InvalidRESTParameterError",
                                 "message": f"Unknown export format: {fmt}. This stand-in serves "
                                            f"{', '.join(EXPORT_FORMATS)}."})
        return self.export(opts, dataset, snapshot, fmt, params, single)

    def filtered(self, kind, rows, snapshot, params, single):
        flat = KIND_FLAT[kind]
        where = single.get("where", "").strip()
        if where:
            pred = WhereParser(where, snapshot.fields).parse()
            rows = [r for r in rows if pred(flat(r))]
        for ref in params.get("refine", []):
            name, sep, value = ref.partition(":")
            if not sep or name not in snapshot.fields:
                raise rest_error(f"Invalid value for refine API parameter: {ref} was found but "
                                 f"field:value is expected.")
            rows = [r for r in rows if str(flat(r).get(name)) == value]
        order = single.get("order_by", "").strip()
        if order:
            rows = sort_rows(rows, parse_order_by(order, snapshot.fields), flat)
        return rows

    def records(self, opts, dataset, snapshot, params, single):
        limit = parse_int(single, "limit", 10)
        offset = parse_int(single, "offset", 0)
        if limit < -1 or limit > MAX_LIMIT:
            raise rest_error(f"Invalid value for limit API parameter: {limit} was found but "
                             f"-1 <= limit <= {MAX_LIMIT} is expected.")
        if limit == -1:
            limit = MAX_LIMIT
        if offset < 0:
            raise rest_error(f"Invalid value for offset API parameter: {offset} was found but "
                             f"offset >= 0 is expected.")
        if offset + limit > MAX_WINDOW:
            raise rest_error(f"Invalid value for sum of offset + limit API parameter: "
                             f"{offset + limit} was found but <= {MAX_WINDOW} is expected.")
        select = parse_select(single.get("select", ""), snapshot.fields)
        rows = scenario_rows(opts, snapshot, "records", dataset)
        extra = 0
        scen = opts["scenario"]
        if opts["fault_dataset"] and dataset != opts["fault_dataset"]:
            scen = "normal"
        if scen == "total_count_mismatch":
            extra = opts["claimed_total"] - len(rows)
        elif scen == "shifting":
            with self.state.lock:
                self.state.records_counter += 1
                nth = self.state.records_counter
            if nth % 2 == 0:
                target = opts["target_gid"] if opts["target_gid"] is not None else snapshot.gids[0]
                rows = [r for r in rows if r[snapshot.key] != target]
        rows = self.filtered("records", rows, snapshot, params, single)
        page = rows[offset: offset + limit]
        if select is not None:
            page = [{name: r[name] for name in select if name in r} for r in page]
        body = {"total_count": max(0, len(rows) + extra), "results": page}
        return Response(200, json_bytes(body))

    def export(self, opts, dataset, snapshot, fmt, params, single):
        limit = parse_int(single, "limit", -1)
        offset = parse_int(single, "offset", 0)
        if limit < -1:
            raise rest_error(f"Invalid value for limit API parameter: {limit} was found but "
                             f"limit >= -1 is expected.")
        if offset < 0:
            raise rest_error(f"Invalid value for offset API parameter: {offset} was found but "
                             f"offset >= 0 is expected.")
        if offset > 0 and offset + max(limit, 0) > MAX_WINDOW:
            raise rest_error(f"Invalid value for sum of offset + limit API parameter: "
                             f"{offset + max(limit, 0)} was found but <= {MAX_WINDOW} is expected.")
        select = parse_select(single.get("select", ""), snapshot.fields)
        rows = self.filtered(fmt, scenario_rows(opts, snapshot, fmt, dataset), snapshot, params,
                             single)
        rows = rows[offset:] if limit == -1 else rows[offset: offset + limit]
        disposition = [("Content-Disposition", f'attachment; filename="{dataset}.{fmt}"')]
        if fmt == "json":
            if select is not None:
                rows = [{n: r[n] for n in select if n in r} for r in rows]
            return Response(200, (dump_lines(rows) + "\n").encode("utf-8"), headers=disposition)
        if fmt == "geojson":
            if select is not None:
                rows = [{**f, "properties": {n: f["properties"][n] for n in select
                                             if n in f["properties"]}} for f in rows]
            text = '{"type": "FeatureCollection", "features": %s}\n' % dump_lines(rows)
            return Response(200, text.encode("utf-8"), ctype="application/geo+json; charset=utf-8",
                            headers=disposition)
        delimiter = single.get("delimiter", ";") or ";"
        if len(delimiter) != 1:
            raise rest_error(f"Invalid value for delimiter API parameter: {delimiter} was found "
                             f"but a single character is expected.")
        header = select if select is not None else snapshot.csv_header
        labels = [CSV_LABELS.get(h, h) for h in header] if parse_bool(single, "use_labels", False) \
            else header
        out = io.StringIO()
        if parse_bool(single, "with_bom", False):
            out.write("\ufeff")
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        writer.writerow(labels)
        for r in rows:
            writer.writerow([r.get(h, "") for h in header])
        return Response(200, out.getvalue().encode("utf-8"), ctype="text/csv; charset=utf-8",
                        headers=disposition)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# --------------------------------------------------------------------------------------
# Main


def build_parser():
    ap = argparse.ArgumentParser(description="Local stand-in for the Opendatasoft Explore "
                                             "API v2.1 (Bordeaux Métropole ci_trafi_l).")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--fixtures", default=str(DEFAULT_FIXTURES), help="recorded payloads folder")
    ap.add_argument("--travel-csv", default=str(default_travel_csv()),
                    help=f"real live {TRAVEL_DATASET} snapshot served as that dataset")
    ap.add_argument("--scenario", default="normal", choices=SCENARIOS)
    ap.add_argument("--snapshot", default="0950", help="recorded snapshot served (0950, 1000)")
    ap.add_argument("--fail-count", type=int, default=2,
                    help="fault scenarios hit the first N API requests; negative: all (default 2)")
    ap.add_argument("--delay", type=float, default=10.0, help="timeout scenario: stall seconds")
    ap.add_argument("--timeout-mode", default="before", choices=("before", "mid_body"))
    ap.add_argument("--truncate-mode", default="short", choices=("short", "cut"))
    ap.add_argument("--html-status", type=int, default=502, help="html_error status (502 or 200)")
    ap.add_argument("--error-status", default="alternate", choices=("alternate", "500", "503"))
    ap.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    ap.add_argument("--target-gid", type=int, default=None,
                    help="record altered by missing_field (default 2274), unknown_state "
                         "(default 2455) or removed by shifting (default lowest gid)")
    ap.add_argument("--missing-field", default="etat", help="missing_field: field removed")
    ap.add_argument("--unknown-value", default="BLOQUE", help="unknown_state: etat value")
    ap.add_argument("--claimed-total", type=int, default=700,
                    help="total_count_mismatch: total_count announced")
    ap.add_argument("--rate-limit", type=int, default=10000,
                    help="X-RateLimit-Limit; requests beyond it get 429")
    ap.add_argument("--require-apikey", metavar="KEY", default=None)
    ap.add_argument("--fault-dataset", metavar="ID", default=None,
                    help="scenarios hit only the requests for this dataset (default: any)")
    ap.add_argument("--bad-field", default="etat", help="bad_value: field altered")
    ap.add_argument("--bad-value", default="BLOQUE",
                    help="bad_value: value set (a JSON literal, else text)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    store = load_store(Path(args.fixtures), args.travel_csv)
    opts = {name: getattr(args, name) for name in OPTION_TYPES}
    try:
        state = State(store, opts)
    except ValueError as exc:
        print(f"ods_server: {exc}", file=sys.stderr)
        return 2
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = state
    server.verbose = args.verbose
    server.stop_event = threading.Event()
    done = threading.Event()

    def on_signal(_signo, _frame):
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    port = server.server_address[1]
    sys.stdout.write(f"LISTENING http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    while not done.wait(0.5):
        pass
    server.stop_event.set()
    server.shutdown()
    server.server_close()
    thread.join(2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
