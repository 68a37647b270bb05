#!/usr/bin/env bash
# HTTP benchmark of `bouchon serve`: wrk against /api/v1/summary and /api/v1/network.
#
#   bench/run_http_bench.sh            # builds the warehouse if needed, then runs wrk
#   bench/run_http_bench.sh --rebuild  # rebuilds the warehouse first
#
# The warehouse (bench/out/http.db) is a replay of the synthetic day bench/out/day (1440
# one-minute snapshots, from bench/gen_synthetic_day.py) when that folder holds snapshots,
# else of the two real snapshots of shared/data/bordeaux.  The server is started on a free
# loopback port and stopped at the end.
#
# Environment (all optional):
#   BOUCHON=path    binary (default build/bouchon)
#   THREADS=n       server worker threads (default 4)
#   WRK_THREADS=n   wrk threads (default 2)      CONNS=n  connections (default 32)
#   DURATION=10s    per run                      ROUTES="path ..." (default summary, network)
# Prints, per route: requests/s, latency p50/p99, non-2xx count, then a one-line verdict
# against the aim (summary >= 5000 req/s with p99 < 20 ms on 2 cores).
# wrk runs on the same machine: it takes CPU from the server, so the figures are a floor.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

rebuild=0
case "${1:-}" in
    --rebuild) rebuild=1 ;;
    "") ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_http_bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

BOUCHON=${BOUCHON:-$repo/build/bouchon}
THREADS=${THREADS:-4}
WRK_THREADS=${WRK_THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-10s}
ROUTES=${ROUTES:-"/api/v1/summary /api/v1/network"}
OUT=$repo/bench/out
DB=$OUT/http.db
DAY=$OUT/day

command -v wrk >/dev/null || { echo "run_http_bench.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -x "$BOUCHON" ] || { echo "run_http_bench.sh: $BOUCHON not built (run make)" >&2; exit 2; }
mkdir -p "$OUT"

if [ "$rebuild" = 1 ]; then
    rm -f "$DB" "$DB-wal" "$DB-shm"
fi
if [ ! -f "$DB" ]; then
    if ls "$DAY"/ci_trafi_l_*.csv >/dev/null 2>&1; then
        input=("$DAY")
        what="synthetic day ($(ls "$DAY"/ci_trafi_l_*.csv | wc -l) snapshots)"
    else
        shared=$repo/../shared/data/bordeaux
        [ -d "$shared" ] || shared=$repo/data/bordeaux
        input=("$shared/ci_trafi_l_2025-12-18T0950.csv" "$shared/ci_trafi_l_2025-12-18T1000.csv")
        what="the two real snapshots"
    fi
    echo "building $DB from $what ..."
    "$BOUCHON" -q replay --db "$DB" "${input[@]}"
fi
echo "warehouse: $DB ($(sqlite3 "$DB" 'SELECT count(*) FROM snapshot' 2>/dev/null || echo '?') snapshots)"

log=$(mktemp)
"$BOUCHON" serve --db "$DB" --listen 127.0.0.1:0 --threads "$THREADS" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
    grep -q '^serving http://' "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
done
base=$(sed -n 's/^serving \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -1)
[ -n "$base" ] || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
echo "server: $base, $THREADS threads; wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

to_ms() { # wrk latency ("612.00us", "1.20ms", "1.01s") -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}

verdict=""
printf '\n%-22s %12s %10s %10s %9s  %s\n' route req/s p50_ms p99_ms non2xx body
for route in $ROUTES; do
    hdr=()
    size=$(curl -s -o /dev/null -w '%{size_download}' "$base$route")
    if [ "$route" = /api/v1/network ]; then
        hdr=(-H 'Accept-Encoding: gzip')
        size=$(curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{size_download}' "$base$route")
    fi
    curl -s -o /dev/null "${hdr[@]}" "$base$route" # warm the cache
    res=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "${hdr[@]}" "$base$route")
    rps=$(echo "$res" | awk '/^Requests\/sec/ {print $2}')
    p50=$(to_ms "$(echo "$res" | awk '$1 == "50%" {print $2}')")
    p99=$(to_ms "$(echo "$res" | awk '$1 == "99%" {print $2}')")
    bad=$(echo "$res" | awk '/Non-2xx/ {print $NF}')
    printf '%-22s %12s %10s %10s %9s  %s bytes%s\n' "$route" "$rps" "$p50" "$p99" "${bad:-0}" \
        "$size" "${hdr[*]:+ (gzip)}"
    if [ "$route" = /api/v1/summary ]; then
        verdict=$(awk -v r="$rps" -v p="$p99" 'BEGIN {
            ok = (r >= 5000 && p < 20);
            printf "summary: %s (aim >= 5000 req/s and p99 < 20 ms)", ok ? "meets the aim" : "BELOW the aim" }')
    fi
done
echo
[ -n "$verdict" ] && echo "$verdict"
