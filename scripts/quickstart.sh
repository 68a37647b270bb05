#!/usr/bin/env bash
# The main job on the embedded default (SQLite), from a fresh clone:
# installs what is missing, builds, then
#   - online:  polls the live Bordeaux API every minute into var/bouchon.db and
#              serves the dashboard on http://127.0.0.1:8080 (Ctrl-C stops);
#   - offline, or with --offline: plays the bundled real snapshots
#              (data/bordeaux) into var/bouchon.db and prints the report.
# Options: --offline, --serve (offline: keep serving the dashboard afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

offline=0
serve=0
for a in "$@"; do
    case "$a" in
    --offline) offline=1 ;;
    --serve) serve=1 ;;
    *) echo "usage: scripts/quickstart.sh [--offline] [--serve]" >&2; exit 2 ;;
    esac
done

bash scripts/install-deps.sh
make -s
if ! sh web/build.sh build/web >/dev/null 2>&1; then
    echo "note: the dashboard could not be built (npm registry unreachable?); the API still works" >&2
fi
mkdir -p var
db=var/bouchon.db
base=${BOUCHON_BASE_URL:-https://opendata.bordeaux-metropole.fr}

if [ "$offline" -eq 0 ] && curl -fsS -m 8 -o /dev/null \
    "$base/api/explore/v2.1/catalog/datasets/ci_trafi_l/records?limit=1"; then
    echo "live API reachable: polling $base every 60 s; dashboard on http://127.0.0.1:8080" >&2
    exec ./build/bouchon run --db "$db" --base-url "$base" --listen 127.0.0.1:8080
fi

echo "offline (or --offline): playing the bundled real snapshots of data/bordeaux" >&2
if [ "$serve" -eq 1 ]; then
    echo "dashboard on http://127.0.0.1:8080 (Ctrl-C stops)" >&2
    ./build/bouchon run --db "$db" --replay data/bordeaux --listen 127.0.0.1:8080 &
    pid=$!
    trap 'kill -TERM $pid 2>/dev/null' INT TERM
    sleep 2
    ./build/bouchon report --db "$db"
    wait $pid
else
    ./build/bouchon run --db "$db" --replay data/bordeaux
    ./build/bouchon report --db "$db"
fi
