"""Shared helpers for the integration tests (Python 3.11 stdlib only, no pytest needed).

    from helpers import OdsServer, start_ods_server, bouchon_bin, run_bouchon

    with OdsServer(scenario="rate_limited", fail_count=2) as ods:
        res = run_bouchon("fetch", "--base-url", ods.base_url, timeout=60)
        assert res.returncode == 0, res.stderr
        paths = [r["path"] for r in ods.requests()]

    ods = start_ods_server(snapshot="0950")   # same thing without the with-block
    ods.control(snapshot="1000")              # simulate the next poll
    ods.stop()

Paths are resolved from this file's location, never from the current directory.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

INTEGRATION_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEGRATION_DIR.parents[1]
ODS_SERVER = INTEGRATION_DIR / "ods_server.py"
FIXTURES_API = REPO_ROOT / "tests" / "fixtures" / "api"
API_PATH = "/api/explore/v2.1"
DATASET = "ci_trafi_l"


# --------------------------------------------------------------------------------------
# The bouchon binary


def shared_dir():
    """The project's shared real data, $BOUCHON_SHARED/data/bordeaux (default ../shared beside
    the repository). A missing folder fails the test with the reason."""
    import pytest

    root = Path(os.environ.get("BOUCHON_SHARED") or REPO_ROOT.parent / "shared")
    data = root / "data" / "bordeaux"
    if not data.is_dir():
        pytest.fail(f"shared data not found at {data} (set BOUCHON_SHARED)")
    return data


def shared_file(name):
    """A file of shared_dir() (e.g. "history/lockdowns_fr.csv"); a missing one fails the test."""
    import pytest

    path = shared_dir() / name
    if not path.exists():
        pytest.fail(f"missing shared file {path}")
    return path


def bouchon_bin():
    """Path of the binary under test: $BOUCHON_BIN if set (relative values are taken
    from the repository root), else <repo>/build/bouchon."""
    env = os.environ.get("BOUCHON_BIN")
    if env:
        path = Path(env)
        return path if path.is_absolute() else REPO_ROOT / path
    return REPO_ROOT / "build" / "bouchon"


def bouchon_available():
    path = bouchon_bin()
    return path.is_file() and os.access(path, os.X_OK)


def run_bouchon(*args, timeout=60, check=False, env=None, input=None, cwd=None, **kwargs):
    """subprocess.run of the binary with text capture and a timeout (seconds).

    Arguments are converted with str(). `env` entries are added to os.environ.
    Returns the CompletedProcess (stdout/stderr as str); raises
    subprocess.TimeoutExpired if the binary runs longer than `timeout`, and
    subprocess.CalledProcessError if check=True and the exit status is not 0."""
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run([str(bouchon_bin()), *[str(a) for a in args]], timeout=timeout,
                          check=check, env=full_env, input=input,
                          cwd=str(cwd) if cwd is not None else None, **kwargs)


# --------------------------------------------------------------------------------------
# The Opendatasoft stand-in


class OdsServer:
    """Runs tests/integration/ods_server.py as a subprocess on a free port.

    Keyword options become command-line flags: scenario="timeout", delay=3,
    fail_count=-1, snapshot="1000", require_apikey="k", truncate_mode="cut", ...
    (underscores become dashes; a value of True gives a bare flag, None omits it)."""

    def __init__(self, scenario="normal", snapshot="0950", startup_timeout=15, **options):
        self.options = {"scenario": scenario, "snapshot": snapshot, **options}
        self.startup_timeout = startup_timeout
        self.proc = None
        self.port = None
        self.base_url = None
        self._stderr = None

    # -- lifecycle ---------------------------------------------------------------------

    def command(self):
        cmd = [sys.executable, str(ODS_SERVER), "--port", "0"]
        for key, value in self.options.items():
            if value is None or value is False:
                continue
            flag = "--" + key.replace("_", "-")
            cmd += [flag] if value is True else [flag, str(value)]
        return cmd

    def start(self):
        if self.proc is not None:
            raise RuntimeError("OdsServer already started")
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                     stderr=self._stderr, stdin=subprocess.DEVNULL)
        line = self._read_first_line()
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"ods_server did not start: {line!r}; stderr: {self.stderr()}")
        self.base_url = line.split(" ", 1)[1].strip()
        self.port = int(self.base_url.rsplit(":", 1)[1])
        return self

    def _read_first_line(self):
        box = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not box:
            self.stop()
            raise RuntimeError(f"ods_server printed nothing in {self.startup_timeout}s; "
                               f"stderr: {self.stderr()}")
        return box[0].decode("utf-8", "replace")

    def stop(self, timeout=10):
        """SIGTERM, wait, SIGKILL if needed. Returns the exit status (0 = clean)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdout:
            proc.stdout.close()
        self.returncode = proc.returncode
        return proc.returncode

    def stderr(self):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # -- URLs --------------------------------------------------------------------------

    @property
    def api_url(self):
        """http://127.0.0.1:PORT/api/explore/v2.1"""
        return self.base_url + API_PATH

    def records_url(self, dataset=DATASET, **params):
        return self._url(f"{API_PATH}/catalog/datasets/{dataset}/records", params)

    def export_url(self, fmt, dataset=DATASET, **params):
        return self._url(f"{API_PATH}/catalog/datasets/{dataset}/exports/{fmt}", params)

    def _url(self, path, params):
        query = urllib.parse.urlencode(params) if params else ""
        return self.base_url + path + ("?" + query if query else "")

    # -- control -----------------------------------------------------------------------

    def control(self, **changes):
        """POST /__control; e.g. control(scenario="empty"), control(snapshot="1000"),
        control(clear_requests=True, reset_counters=True). Returns the new state."""
        body = json.dumps(changes).encode("utf-8")
        status, _, data = http_request(self.base_url + "/__control", method="POST", body=body,
                                       headers={"Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError(f"control {changes} refused: {data.decode('utf-8', 'replace')}")
        return json.loads(data)

    def state(self):
        return json.loads(http_request(self.base_url + "/__control")[2])

    def requests(self):
        """The API requests received so far (see ods_server.py: path, query, params,
        time, status, fault, ...)."""
        return json.loads(http_request(self.base_url + "/__requests")[2])

    def clear_requests(self):
        http_request(self.base_url + "/__requests", method="DELETE")

    def wait_for_requests(self, count, timeout=10):
        """Poll until at least `count` API requests were received; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests()
            if len(reqs) >= count or time.monotonic() > deadline:
                return reqs
            time.sleep(0.05)

    # -- direct access (tests of the stand-in itself) ------------------------------------

    def get(self, path_or_url, timeout=10, headers=None, **params):
        """GET a path ("/api/...") or full URL: returns (status, headers dict, body bytes).
        HTTP errors are returned, not raised."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return http_request(url, timeout=timeout, headers=headers)

    def get_json(self, path_or_url, timeout=10, headers=None, **params):
        status, hdrs, body = self.get(path_or_url, timeout=timeout, headers=headers, **params)
        return status, hdrs, json.loads(body)


def start_ods_server(**options):
    """Start an OdsServer (see its docstring for options) and return it; call .stop()."""
    return OdsServer(**options).start()


def http_request(url, method="GET", body=None, headers=None, timeout=10):
    """Small urllib wrapper: (status, headers as a dict with lower-case names, body)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()
