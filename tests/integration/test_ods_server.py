"""Tests of the Opendatasoft stand-in itself (tests/integration/ods_server.py).

Run: python3 -m pytest tests/integration/test_ods_server.py
"""

import collections
import datetime as dt
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest

from helpers import (FIXTURES_API, ODS_SERVER, REPO_ROOT, OdsServer, bouchon_bin, http_request,
                     run_bouchon)

RECORDS = "/api/explore/v2.1/catalog/datasets/ci_trafi_l/records"
EXPORTS = "/api/explore/v2.1/catalog/datasets/ci_trafi_l/exports/"
SOURCE_DIRS = [REPO_ROOT / "data" / "bordeaux", REPO_ROOT.parent / "shared" / "data" / "bordeaux"]
LIMIT_101 = {"error_code": "InvalidRESTParameterError",
             "message": "Invalid value for limit API parameter: 101 was found but "
                        "-1 <= limit <= 100 is expected."}
OFFSET_10001 = {"error_code": "InvalidRESTParameterError",
                "message": "Invalid value for sum of offset + limit API parameter: 10001 was "
                           "found but <= 10000 is expected."}
STATES_0950 = {"FLUIDE": 438, "INCONNU": 223, "EMBOUTEILLE": 23, "DENSE": 10}
STATES_1000 = {"FLUIDE": 432, "INCONNU": 224, "EMBOUTEILLE": 22, "DENSE": 16}


@pytest.fixture(scope="module")
def shared_server():
    with OdsServer() as server:
        yield server


@pytest.fixture
def srv(shared_server):
    """The module's server, reset to scenario normal / snapshot 0950 with an empty log."""
    shared_server.control(scenario="normal", snapshot="0950", fail_count=2, delay=10.0,
                          timeout_mode="before", truncate_mode="short", html_status=502,
                          error_status="alternate", retry_after=1, target_gid=None,
                          missing_field="etat", unknown_value="BLOQUE", claimed_total=700,
                          rate_limit=10000, require_apikey=None,
                          reset_counters=True, clear_requests=True)
    return shared_server


def page_all(srv, limit=100, **params):
    """Pages through the records endpoint like a simple client; returns (pages, records)."""
    pages, records, offset = [], [], 0
    while True:
        status, _, body = srv.get_json(RECORDS, limit=limit, offset=offset, **params)
        assert status == 200, body
        pages.append(body)
        records += body["results"]
        offset += limit
        if offset >= body["total_count"] or not body["results"]:
            return pages, records


def find_source(name):
    for folder in SOURCE_DIRS:
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"source file {name} not found")


# --------------------------------------------------------------------------------------
# Process behaviour


def test_prints_one_listening_line_and_exits_cleanly_on_sigterm():
    proc = subprocess.Popen([sys.executable, str(ODS_SERVER), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING http://127.0.0.1:")
        port = int(line.strip().rsplit(":", 1)[1])
        status, _, _ = http_request(f"http://127.0.0.1:{port}{RECORDS}?limit=1")
        assert status == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == b""  # nothing after the single LISTENING line
    assert line.endswith("\n") and line.count("\n") == 1


def test_binds_loopback_only(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5):
        pass
    other = [a for a in {i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None,
                                                               socket.AF_INET)}
             if not a.startswith("127.")]
    for addr in other:
        with pytest.raises(OSError):
            socket.create_connection((addr, srv.port), timeout=2).close()


def test_sigterm_while_a_response_is_held_back():
    with OdsServer(scenario="timeout", delay=30, fail_count=-1) as server:
        with pytest.raises(OSError):
            server.get(RECORDS, timeout=0.5)
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 5


def test_cli_scenario_and_snapshot():
    with OdsServer(scenario="empty", snapshot="1000") as server:
        status, _, body = server.get_json(RECORDS)
        assert (status, body) == (200, {"total_count": 0, "results": []})
        state = server.state()
        assert state["scenario"] == "empty" and state["snapshot"] == "1000"


def test_keep_alive_connection_serves_several_requests(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        for offset in (0, 100, 200):
            conn.request("GET", f"{RECORDS}?limit=100&offset={offset}")
            resp = conn.getresponse()
            body = json.loads(resp.read())
            assert resp.status == 200 and len(body["results"]) == 100
    finally:
        conn.close()


# --------------------------------------------------------------------------------------
# Records API


def test_paging_gives_694_unique_gids_over_7_pages(srv):
    pages, records = page_all(srv)
    assert len(pages) == 7
    assert [len(p["results"]) for p in pages] == [100] * 6 + [94]
    assert {p["total_count"] for p in pages} == {694}
    gids = [r["gid"] for r in records]
    assert len(set(gids)) == 694 and gids == sorted(gids)
    assert gids[0] == 1081 and gids[-1] == 2688
    reqs = srv.requests()
    assert [r["params"]["offset"] for r in reqs] == [str(o) for o in range(0, 700, 100)]
    assert all(r["path"] == RECORDS and r["status"] == 200 for r in reqs)
    assert all("limit=100" in r["query"] and r["time"] > 0 for r in reqs)


def test_default_limit_is_10(srv):
    status, _, body = srv.get_json(RECORDS)
    assert status == 200 and body["total_count"] == 694 and len(body["results"]) == 10


def test_limit_zero_returns_only_the_count(srv):
    assert srv.get_json(RECORDS, limit=0)[2] == {"total_count": 694, "results": []}


def test_limit_101_is_rejected_with_the_real_message(srv):
    status, headers, body = srv.get_json(RECORDS, limit=101)
    assert status == 400 and body == LIMIT_101
    assert headers["content-type"].startswith("application/json")


def test_offset_plus_limit_over_10000_is_rejected(srv):
    status, _, body = srv.get_json(RECORDS, limit=100, offset=9901)
    assert status == 400 and body == OFFSET_10001
    status, _, body = srv.get_json(RECORDS, limit=100, offset=9900)
    assert status == 200 and body == {"total_count": 694, "results": []}
    status, _, body = srv.get_json(RECORDS, offset=9995)  # default limit 10
    assert status == 400 and "10005 was found" in body["message"]


def test_bad_integer_and_negative_offset(srv):
    assert srv.get(RECORDS, limit="ten")[0] == 400
    status, _, body = srv.get_json(RECORDS, offset=-1)
    assert status == 400 and body["error_code"] == "InvalidRESTParameterError"


def test_unknown_dataset_and_unknown_route_are_404_json(srv):
    status, headers, body = srv.get_json("/api/explore/v2.1/catalog/datasets/nope/records")
    assert status == 404 and body["error_code"] and "nope" in body["message"]
    assert "x-ratelimit-limit" in headers
    status, _, body = srv.get_json("/api/explore/v2.1/nothing")
    assert status == 404 and "error_code" in body


def test_record_shape_matches_the_records_api(srv):
    status, _, body = srv.get_json(RECORDS, where="gid = 2151")
    assert status == 200 and body["total_count"] == 1
    rec = body["results"][0]
    assert list(rec) == ["gml_id", "gid", "ident", "typevoie", "etat", "cdate", "mdate",
                         "origine", "commune", "code_commune", "geo_point_2d", "geo_shape"]
    assert rec["gml_id"] == "CI_TRAFI_L.2151" and rec["gid"] == 2151
    assert rec["ident"] == "I83" and rec["commune"] == "Bordeaux"
    assert rec["code_commune"] == "33063"
    assert rec["cdate"] == "2020-12-10T16:04:32+00:00"
    assert rec["mdate"] == "2025-12-18T08:50:50+00:00"
    assert rec["geo_point_2d"] == {"lon": -0.6015537717765584, "lat": 44.82186651428834}
    shape = rec["geo_shape"]
    assert shape["type"] == "Feature" and shape["properties"] == {}
    assert shape["geometry"]["type"] == "LineString"
    assert shape["geometry"]["coordinates"][0] == [-0.601044, 44.82288]


def test_all_record_datetimes_are_utc(srv):
    _, records = page_all(srv)
    for rec in records:
        for name in ("cdate", "mdate"):
            assert rec[name].endswith("+00:00"), rec


def test_select_where_order_by_refine(srv):
    status, _, body = srv.get_json(RECORDS, select="gml_id,gid,etat", limit=3,
                                   order_by="gid desc")
    assert status == 200 and body["total_count"] == 694
    assert [list(r) for r in body["results"]] == [["gml_id", "gid", "etat"]] * 3
    assert body["results"][0]["gid"] == 2688
    status, _, body = srv.get_json(RECORDS, order_by="commune asc, gid desc", limit=100)
    keys = [(r["commune"], -r["gid"]) for r in body["results"]]
    assert keys == sorted(keys)
    jam = 'etat in ("EMBOUTEILLE","DENSE")'
    status, _, body = srv.get_json(RECORDS, where=jam, limit=100)
    assert body["total_count"] == 33 and len(body["results"]) == 33
    assert collections.Counter(r["etat"] for r in body["results"]) == {"EMBOUTEILLE": 23,
                                                                        "DENSE": 10}
    status, _, body = srv.get_json(RECORDS, where="origine = 'DIRA' and etat != 'INCONNU'")
    assert status == 200 and body["total_count"] == 0
    status, _, body = srv.get_json(RECORDS, refine="origine:DIRA", limit=0)
    assert body["total_count"] == 126
    _, records = page_all(srv)
    expected = sum(1 for r in records if r["gid"] < 1100 or r["commune"] == "Bègles")
    status, _, body = srv.get_json(RECORDS, limit=0,
                                   where='not (gid >= 1100) or `commune` = "Bègles"')
    assert status == 200 and body["total_count"] == expected > 0
    status, _, body = srv.get_json(RECORDS, limit=0, where="commune is null")
    assert body["total_count"] == 0
    for bad in ("etat ==", "nosuchfield = 1", 'etat in ("A"', "etat = FLUIDE"):
        status, _, body = srv.get_json(RECORDS, where=bad)
        assert status == 400 and body["error_code"] == "ODSQLError", bad
    assert srv.get_json(RECORDS, select="count(*) as n")[0] == 400
    assert srv.get_json(RECORDS, order_by="geo_shape")[0] == 400
    assert srv.get_json(RECORDS, group_by="etat")[0] == 400


# --------------------------------------------------------------------------------------
# Exports


def test_exports_are_the_fixture_files(srv):
    for fmt, suffix in (("json", "export.json"), ("geojson", "export.geojson"),
                        ("csv", "export.csv")):
        for snap in ("0950", "1000"):
            srv.control(snapshot=snap)
            status, headers, body = srv.get(EXPORTS + fmt)
            assert status == 200
            assert body == (FIXTURES_API / f"ci_trafi_l_{snap}.{suffix}").read_bytes(), fmt
            assert "attachment" in headers["content-disposition"]


def test_csv_export_is_byte_identical_to_the_source(srv):
    for snap, name in (("0950", "ci_trafi_l_2025-12-18T0950.csv"),
                       ("1000", "ci_trafi_l_2025-12-18T1000.csv")):
        srv.control(snapshot=snap)
        status, headers, body = srv.get(EXPORTS + "csv")
        assert status == 200 and headers["content-type"].startswith("text/csv")
        assert body == find_source(name).read_bytes()


def test_exports_have_no_row_cap_and_keep_source_offsets(srv):
    status, headers, body = srv.get_json(EXPORTS + "json")
    assert status == 200 and isinstance(body, list) and len(body) == 694
    assert body[0]["gid"] == 2151 and body[0]["cdate"] == "2020-12-10T17:04:32+01:00"
    status, _, gj = srv.get_json(EXPORTS + "geojson")
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 694
    feat = gj["features"][0]
    assert feat["geometry"]["type"] == "LineString" and feat["properties"]["ident"] == "I83"
    status, _, text = srv.get(EXPORTS + "csv")
    assert text.decode().count("\n") == 695


def test_export_parameters(srv):
    status, _, body = srv.get_json(EXPORTS + "json", limit=5, offset=2, select="gid,etat")
    assert status == 200 and len(body) == 5 and list(body[0]) == ["gid", "etat"]
    status, _, body = srv.get_json(EXPORTS + "json", where='etat = "DENSE"')
    assert len(body) == 10
    status, _, text = srv.get(EXPORTS + "csv", use_labels="true", with_bom="true",
                              delimiter=",", select="geo_point_2d,gid")
    lines = text.decode("utf-8").split("\n")
    assert lines[0] == "\ufeffGeo Point,gid"
    assert lines[1].startswith('"44.82186651428834,-0.6015537717765584",2151')
    assert srv.get(EXPORTS + "parquet")[0] == 400
    assert srv.get(EXPORTS + "json", offset=9999, limit=5)[0] == 400


def test_records_and_exports_describe_the_same_instants(srv):
    _, records = page_all(srv)
    _, _, export = srv.get_json(EXPORTS + "json")
    by_gid = {r["gid"]: r for r in export}
    assert set(by_gid) == {r["gid"] for r in records}
    for rec in records:
        exp = by_gid[rec["gid"]]
        for key in rec:
            if key in ("cdate", "mdate"):
                assert dt.datetime.fromisoformat(rec[key]) == dt.datetime.fromisoformat(exp[key])
            else:
                assert rec[key] == exp[key], key


def test_two_snapshots_match_the_documented_facts(srv):
    _, r0950 = page_all(srv)
    srv.control(snapshot="1000")
    _, r1000 = page_all(srv)
    assert collections.Counter(r["etat"] for r in r0950) == STATES_0950
    assert collections.Counter(r["etat"] for r in r1000) == STATES_1000
    a = {r["gid"]: r for r in r0950}
    b = {r["gid"]: r for r in r1000}
    assert set(a) == set(b)
    assert sum(a[g]["etat"] != b[g]["etat"] for g in a) == 34
    assert sum(a[g]["mdate"] != b[g]["mdate"] for g in a) == 565
    assert collections.Counter(r["origine"] for r in r1000) == {"PC_CIRCULATION": 568,
                                                                "DIRA": 126}


# --------------------------------------------------------------------------------------
# Rate-limit headers and quota


def test_rate_limit_headers_on_every_response(srv):
    seen = []
    for path, params in ((RECORDS, {}), (RECORDS, {"limit": 101}), (EXPORTS + "csv", {}),
                         ("/api/explore/v2.1/catalog/datasets/nope/records", {}),
                         ("/__control", {}), ("/__requests", {})):
        _, headers, _ = srv.get(path, **params)
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
            assert name in headers, (path, name)
        seen.append(int(headers["x-ratelimit-remaining"]))
        assert int(headers["x-ratelimit-reset"]) > time.time()
    assert seen[:4] == [9999, 9998, 9997, 9996] and seen[4] == seen[5] == 9996


def test_quota_exhaustion_gives_429(srv):
    srv.control(rate_limit=3)
    assert [srv.get(RECORDS)[0] for _ in range(4)] == [200, 200, 200, 429]
    status, headers, body = srv.get_json(RECORDS)
    assert status == 429 and headers["x-ratelimit-remaining"] == "0"
    assert body["call_limit"] == 3 and "Too many requests" in body["error"]


# --------------------------------------------------------------------------------------
# Fault scenarios


def test_rate_limited(srv):
    srv.control(scenario="rate_limited", fail_count=2)
    for _ in range(2):
        status, headers, body = srv.get_json(RECORDS, limit=100)
        assert status == 429 and headers["retry-after"] == "1"
        assert headers["x-ratelimit-remaining"] == "0"
        assert body["errorcode"] == 10002 and "reset_time" in body
    status, _, body = srv.get_json(RECORDS, limit=100)
    assert status == 200 and len(body["results"]) == 100
    assert [r["status"] for r in srv.requests()] == [429, 429, 200]
    assert [r["fault"] for r in srv.requests()] == ["rate_limited", "rate_limited", None]


def test_server_error_then_ok(srv):
    srv.control(scenario="server_error_then_ok", fail_count=3)
    statuses = []
    for _ in range(4):
        status, headers, body = srv.get(RECORDS)
        statuses.append(status)
        assert headers["content-type"].startswith("application/json")
        assert "error_code" in json.loads(body) or status == 200
    assert statuses == [503, 500, 503, 200]
    srv.control(scenario="server_error_then_ok", fail_count=1, error_status="500")
    assert [srv.get(RECORDS)[0] for _ in range(2)] == [500, 200]


def test_timeout_before_headers(srv):
    srv.control(scenario="timeout", fail_count=1, delay=1.5)
    started = time.monotonic()
    with pytest.raises(OSError):  # socket.timeout is an OSError
        srv.get(RECORDS, timeout=0.4)
    assert time.monotonic() - started < 1.4
    started = time.monotonic()
    status, _, body = srv.get_json(RECORDS, timeout=5)
    assert status == 200 and time.monotonic() - started < 1.0


def test_timeout_always_and_patient_client(srv):
    srv.control(scenario="timeout", fail_count=-1, delay=0.6)
    for _ in range(2):
        started = time.monotonic()
        status, _, _ = srv.get(RECORDS, timeout=5)
        assert status == 200 and time.monotonic() - started >= 0.55


def test_timeout_mid_body(srv):
    srv.control(scenario="timeout", fail_count=1, delay=1.5, timeout_mode="mid_body")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=0.4)
    try:
        conn.request("GET", RECORDS + "?limit=100")
        resp = conn.getresponse()  # the status line and headers do arrive
        assert resp.status == 200 and int(resp.getheader("Content-Length")) > 1000
        with pytest.raises(OSError):
            resp.read()
    finally:
        conn.close()


def test_truncated_short_body(srv):
    srv.control(scenario="truncated", fail_count=1, truncate_mode="short")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request("GET", RECORDS + "?limit=100")
        resp = conn.getresponse()
        announced = int(resp.getheader("Content-Length"))
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert 0 < len(info.value.partial) < announced
    finally:
        conn.close()
    assert srv.get_json(RECORDS, limit=100)[0] == 200


def test_truncated_cut_json(srv):
    srv.control(scenario="truncated", fail_count=2, truncate_mode="cut")
    for path in (RECORDS + "?limit=100", EXPORTS + "json"):
        status, headers, body = srv.get(path)
        assert status == 200 and int(headers["content-length"]) == len(body)
        with pytest.raises(ValueError):
            json.loads(body)
    assert len(srv.get_json(EXPORTS + "json")[2]) == 694


@pytest.mark.parametrize("code", [502, 200])
def test_html_error(srv, code):
    srv.control(scenario="html_error", fail_count=1, html_status=code)
    status, headers, body = srv.get(RECORDS)
    assert status == code and headers["content-type"].startswith("text/html")
    assert body.lstrip().startswith(b"<") and b"</html>" in body
    assert srv.get_json(RECORDS)[0] == 200


# --------------------------------------------------------------------------------------
# Data scenarios


def test_empty(srv):
    srv.control(scenario="empty")
    assert srv.get_json(RECORDS, limit=100)[2] == {"total_count": 0, "results": []}
    assert srv.get_json(EXPORTS + "json")[2] == []
    assert srv.get_json(EXPORTS + "geojson")[2] == {"type": "FeatureCollection", "features": []}
    assert srv.get(EXPORTS + "csv")[2].decode().split("\n") == [
        "geo_point_2d;geo_shape;gml_id;gid;ident;typevoie;etat;cdate;mdate;origine;commune;"
        "code_commune", ""]


def exports_record(srv, gid):
    _, _, js = srv.get_json(EXPORTS + "json")
    _, _, gj = srv.get_json(EXPORTS + "geojson")
    _, _, csv_text = srv.get(EXPORTS + "csv")
    lines = csv_text.decode().split("\n")
    header = lines[0].split(";")
    row = next(line for line in lines[1:] if f";CI_TRAFI_L.{gid};{gid};" in line)
    tail = row.split('";', 1)[1].split(";")  # the cells after the quoted geo_shape
    return (next(r for r in js if r["gid"] == gid),
            next(f["properties"] for f in gj["features"] if f["properties"]["gid"] == gid),
            dict(zip(header[2:], tail)))


def test_missing_field_default_is_etat_of_gid_2274(srv):
    srv.control(scenario="missing_field")
    _, records = page_all(srv)
    altered = [r for r in records if "etat" not in r]
    assert [r["gid"] for r in altered] == [2274] and len(records) == 694
    assert all("mdate" in r for r in records)
    js, props, csv_row = exports_record(srv, 2274)
    assert "etat" not in js and "etat" not in props and csv_row["etat"] == ""
    srv.control(missing_field="mdate", target_gid=2455)
    _, records = page_all(srv)
    assert [r["gid"] for r in records if "mdate" not in r] == [2455]
    assert all("etat" in r for r in records)


def test_unknown_state_default_is_gid_2455_bloque(srv):
    srv.control(scenario="unknown_state")
    _, records = page_all(srv)
    odd = [r for r in records if r["etat"] not in STATES_0950]
    assert [(r["gid"], r["etat"]) for r in odd] == [(2455, "BLOQUE")]
    js, props, csv_row = exports_record(srv, 2455)
    assert js["etat"] == props["etat"] == csv_row["etat"] == "BLOQUE"


def test_all_unknown(srv):
    srv.control(scenario="all_unknown", snapshot="1000")
    _, records = page_all(srv)
    assert len(records) == 694 and {r["etat"] for r in records} == {"INCONNU"}
    assert {r["etat"] for r in srv.get_json(EXPORTS + "json")[2]} == {"INCONNU"}


def test_total_count_mismatch(srv):
    srv.control(scenario="total_count_mismatch")
    pages, records = page_all(srv)
    assert {p["total_count"] for p in pages} == {700}
    assert len(records) == 694 and len(pages) == 7  # 7 pages for 700 announced...
    assert len(pages[-1]["results"]) == 94           # ...but the last one is short
    assert srv.get_json(RECORDS, limit=100, offset=700)[2] == {"total_count": 700,
                                                               "results": []}
    assert srv.get_json(RECORDS, limit=0)[2]["total_count"] == 700


def test_shifting(srv):
    srv.control(scenario="shifting")
    pages, records = page_all(srv)
    assert [p["total_count"] for p in pages] == [694, 693, 694, 693, 694, 693, 694]
    gids = [r["gid"] for r in records]
    srv.control(scenario="normal")
    _, full = page_all(srv)
    ref = [r["gid"] for r in full]
    # even-numbered requests see the dataset without gid 1081 (the lowest), so their
    # offsets land one record further: a naive client misses 3 records and sees 3 twice
    assert ref[0] == 1081 and 1081 in gids
    assert set(ref) - set(gids) == {ref[100], ref[300], ref[500]}
    dups = [g for g, n in collections.Counter(gids).items() if n > 1]
    assert sorted(dups) == sorted([ref[200], ref[400], ref[600]])


# --------------------------------------------------------------------------------------
# API key, control endpoint, request log


def test_require_apikey():
    with OdsServer(require_apikey="s3cret") as server:
        status, headers, body = server.get_json(RECORDS)
        assert status == 401 and body["error_code"] and "x-ratelimit-limit" in headers
        assert server.get(RECORDS, apikey="wrong")[0] == 401
        assert server.get(RECORDS, apikey="s3cret")[0] == 200
        assert server.get(RECORDS, headers={"Authorization": "Apikey s3cret"})[0] == 200
        assert server.get(RECORDS, headers={"Authorization": "Apikey nope"})[0] == 401
        assert server.get("/__control")[0] == 200  # control needs no key
        reqs = server.requests()
        assert reqs[2]["params"]["apikey"] == "<redacted>"
        assert "s3cret" not in json.dumps(reqs)
        assert [r["auth_header"] for r in reqs] == [False, False, False, True, True]


def test_control_rejects_bad_input(srv):
    for bad in ({"scenario": "nope"}, {"snapshot": "1234"}, {"colour": "red"},
                {"fail_count": "two"}, {"truncate_mode": "half"}):
        status, _, body = http_request(srv.base_url + "/__control", method="POST",
                                       body=json.dumps(bad).encode())
        assert status == 400 and "error" in json.loads(body), bad
    status, _, _ = http_request(srv.base_url + "/__control", method="POST", body=b"{nope")
    assert status == 400
    assert srv.state()["scenario"] == "normal"


def test_control_switches_snapshot_between_polls(srv):
    first = srv.get_json(RECORDS, where="gid = 2274")[2]["results"][0]
    srv.control(snapshot="1000")
    second = srv.get_json(RECORDS, where="gid = 2274")[2]["results"][0]
    assert first["mdate"] == "2025-12-18T08:50:50+00:00"
    assert second["mdate"] == "2025-12-18T09:00:50+00:00"
    assert [r["snapshot"] for r in srv.requests()] == ["0950", "1000"]


def test_request_log(srv):
    srv.get(RECORDS, limit=5, offset=10, order_by="gid")
    srv.get("/__control")
    srv.get(EXPORTS + "csv")
    reqs = srv.requests()
    assert len(reqs) == 2
    first = reqs[0]
    assert first["method"] == "GET" and first["path"] == RECORDS
    assert urllib.parse.parse_qs(first["query"]) == {"limit": ["5"], "offset": ["10"],
                                                     "order_by": ["gid"]}
    assert first["params"] == {"limit": "5", "offset": "10", "order_by": "gid"}
    assert reqs[0]["seq"] == 1 and reqs[1]["seq"] == 2
    assert reqs[0]["time"] <= reqs[1]["time"] <= time.time()
    assert reqs[1]["path"].endswith("/exports/csv")
    srv.clear_requests()
    assert srv.requests() == []


# --------------------------------------------------------------------------------------
# helpers.py


def test_bouchon_bin_and_run_bouchon(monkeypatch):
    monkeypatch.delenv("BOUCHON_BIN", raising=False)
    assert bouchon_bin() == REPO_ROOT / "build" / "bouchon"
    monkeypatch.setenv("BOUCHON_BIN", "/bin/echo")
    res = run_bouchon("fetch", "--base-url", "http://127.0.0.1:1")
    assert res.returncode == 0 and res.stdout == "fetch --base-url http://127.0.0.1:1\n"
    monkeypatch.setenv("BOUCHON_BIN", "/bin/sleep")
    with pytest.raises(subprocess.TimeoutExpired):
        run_bouchon(5, timeout=0.3)
    monkeypatch.setenv("BOUCHON_BIN", "build/other")
    assert bouchon_bin() == REPO_ROOT / "build" / "other"


def test_fixtures_are_up_to_date():
    src = [d for d in SOURCE_DIRS if (d / "ci_trafi_l_2025-12-18T0950.csv").is_file()]
    if not src:
        pytest.skip("source CSV files not available")
    res = subprocess.run([sys.executable, str(FIXTURES_API / "make_fixtures.py"), "--check",
                          "--source-dir", str(src[0])], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
