#!/usr/bin/env bash
# History import benchmark: the whole 14.2 M-row hourly ci_trafi_l history and the
# ci_tpstj_a travel-time year, imported by `bouchon import` (C) and by the plain Python
# reference (bench/reference_import.py) on the same files; then the heaviest analytics
# queries on the imported warehouse.
#
#   bench/run_import_bench.sh                  # C and reference
#   bench/run_import_bench.sh --c-only         # skip the (slow) Python reference
#
# Environment (all optional):
#   BOUCHON=path      C binary (default build/bouchon)
#   BOUCHON_SHARED=d  shared folder (default ../shared from the repository)
#   RUNS=n            repetitions of each analytics query, median reported (default 5)
#
# Measured for each import: rows read, wall seconds and peak RSS (/usr/bin/time -v),
# rows/s.  Analytics: wall milliseconds of one `bouchon report --only SECTION` process
# (open, query, JSON) for a year of hotspots, a two-year profile, the lockdown periods and
# the whole report.  Both imports start from a fresh database and a warm page cache.
# Results: bench/out/import_bench_results.txt (docs/BENCHMARKS.md "History import" quotes them).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

c_only=0
case "${1:-}" in
    --c-only) c_only=1 ;;
    "") ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_import_bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

BOUCHON=${BOUCHON:-$repo/build/bouchon}
SHARED=${BOUCHON_SHARED:-$repo/../shared}
RUNS=${RUNS:-5}
D=$SHARED/data/bordeaux
HIST=$D/history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz
SEGS=$D/history/ci_trafi_l_segments_2020-03.geojson
TT=$D/history/ci_tpstj_a_hourly_2021-01_2022-01.csv.gz
CORR=$D/history/ci_tpstj_a_corridors.geojson
PERIODS=$D/history/lockdowns_fr.csv
OUT=$repo/bench/out
C_DB=$OUT/import_c.db
REF_DB=$OUT/import_ref.db

die() { echo "run_import_bench.sh: $*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 not found"
for f in "$HIST" "$SEGS" "$TT" "$CORR" "$PERIODS"; do
    [ -r "$f" ] || die "missing input $f (set BOUCHON_SHARED)"
done
[ -x "$BOUCHON" ] || die "C binary '$BOUCHON' not found: run make first, or set BOUCHON=path"
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing the 'time' package (GNU time, for /usr/bin/time -v)"
        apt-get install -y time >/dev/null || die "apt-get install time failed"
    fi
    [ -x /usr/bin/time ] || die "/usr/bin/time missing: apt-get install time"
fi

mkdir -p "$OUT"
cat "$HIST" "$SEGS" "$TT" "$CORR" >/dev/null   # warm the page cache

# measure NAME ROWS_FROM -- command...: sets RES_<NAME>_{wall,rss}
measure() {
    local name=$1; shift 2
    local tfile=$OUT/import_${name}.time log=$OUT/import_${name}.log
    echo "== $name: $*"
    set +e
    /usr/bin/time -v -o "$tfile" "$@" >"$log" 2>&1
    local rc=$?
    set -e
    if [ $rc != 0 ] && [ $rc != 3 ]; then
        tail -n 20 "$log" >&2
        die "$name exited with status $rc"
    fi
    tail -n 3 "$log" | sed 's/^/   /'
    printf -v "RES_${name}_wall" '%s' "$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":");
        s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$tfile")"
    printf -v "RES_${name}_rss" '%s' "$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tfile")"
}

rm -f "$C_DB" "$C_DB-wal" "$C_DB-shm"
measure c_hist -- "$BOUCHON" import --db "$C_DB" --kind segment-history --segments "$SEGS" "$HIST"
measure c_tt -- "$BOUCHON" import --db "$C_DB" --kind travel-times --corridors "$CORR" "$TT"
"$BOUCHON" -q import --db "$C_DB" --kind periods "$PERIODS" >/dev/null
c_hist_rows=$(sqlite3 "$C_DB" "SELECT rows FROM import_file f JOIN raw_source r USING (source_id) WHERE r.dataset = 'ci_trafi_l_hourly'" 2>/dev/null || echo 14166177)
c_tt_rows=$(sqlite3 "$C_DB" "SELECT count(*) FROM travel_time" 2>/dev/null || echo 750910)
c_stored=$(sqlite3 "$C_DB" "SELECT count(*) FROM hourly_score" 2>/dev/null || echo "?")

if [ "$c_only" = 0 ]; then
    rm -f "$REF_DB" "$REF_DB-wal" "$REF_DB-shm"
    measure ref_hist -- python3 bench/reference_import.py --db "$REF_DB" --kind segment-history \
        --segments "$SEGS" "$HIST"
    measure ref_tt -- python3 bench/reference_import.py --db "$REF_DB" --kind travel-times "$TT"
    ref_stored=$(sqlite3 "$REF_DB" "SELECT count(*) FROM hourly_score" 2>/dev/null || echo "?")
fi

# ---- analytics: median wall ms of RUNS processes
query_ms() {
    python3 - "$RUNS" "$@" <<'EOF'
import subprocess, sys, time
runs = int(sys.argv[1]); cmd = sys.argv[2:]
ts = []
for _ in range(runs):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    ts.append((time.monotonic() - t0) * 1000)
ts.sort()
print(f"{ts[len(ts) // 2]:.0f} {ts[0]:.0f} {ts[-1]:.0f}")
EOF
}
Y1="--from 2021-01-01T00:00:00+01:00 --to 2022-01-01T00:00:00+01:00"
Y2="--from 2020-01-01T00:00:00+01:00 --to 2022-01-01T00:00:00+01:00"
# shellcheck disable=SC2086
q_hot=$(query_ms "$BOUCHON" report --db "$C_DB" --only hotspots_history $Y1)
# shellcheck disable=SC2086
q_prof=$(query_ms "$BOUCHON" report --db "$C_DB" --only profile $Y2)
q_hot_all=$(query_ms "$BOUCHON" report --db "$C_DB" --only hotspots_history)
q_periods=$(query_ms "$BOUCHON" report --db "$C_DB" --only periods)
q_corr=$(query_ms "$BOUCHON" report --db "$C_DB" --only corridors)
q_daily=$(query_ms "$BOUCHON" report --db "$C_DB" --only daily)
q_full=$(query_ms "$BOUCHON" report --db "$C_DB" --json)

row() {   # label rows wall rss
    awk -v l="$1" -v r="$2" -v w="$3" -v m="$4" 'BEGIN {
        printf "%-40s %12d %9.2f %12.0f %11.1f\n", l, r, w, (w > 0 ? r / w : 0), m }'
}
{
    echo
    echo "history import benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
         "load average $(cut -d' ' -f1-3 /proc/loadavg)," \
         "Python $(python3 -c 'import platform; print(platform.python_version())')," \
         "SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1)"
    printf "%-40s %12s %9s %12s %11s\n" "import" "rows" "wall s" "rows/s" "peak RSS MB"
    row "C: segment-history (14.2 M rows)" "$c_hist_rows" "$RES_c_hist_wall" "$RES_c_hist_rss"
    row "C: travel-times (one year)" "$c_tt_rows" "$RES_c_tt_wall" "$RES_c_tt_rss"
    if [ "$c_only" = 0 ]; then
        row "Python reference: segment-history" "$c_hist_rows" "$RES_ref_hist_wall" "$RES_ref_hist_rss"
        row "Python reference: travel-times" "$c_tt_rows" "$RES_ref_tt_wall" "$RES_ref_tt_rss"
        echo "hourly_score rows: C $c_stored, reference $ref_stored (the C import merges 3 DST duplicates; the reference keeps the first)"
    fi
    echo
    echo "analytics on the imported warehouse: one 'bouchon report' process, ms (median min max of $RUNS)"
    printf "  %-46s %s\n" "hotspots_history, one year (2021)" "$q_hot"
    printf "  %-46s %s\n" "profile, two years (2020-2021)" "$q_prof"
    printf "  %-46s %s\n" "hotspots_history, all 28 months" "$q_hot_all"
    printf "  %-46s %s\n" "periods (3 lockdowns, before/during/after)" "$q_periods"
    printf "  %-46s %s\n" "corridors (16, TTI/PTI per month and hour)" "$q_corr"
    printf "  %-46s %s\n" "daily (853 days)" "$q_daily"
    printf "  %-46s %s\n" "whole report --json" "$q_full"
    echo "warehouse: $(du -m "$C_DB" | cut -f1) MB"
} | tee "$OUT/import_bench_results.txt"
