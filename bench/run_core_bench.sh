#!/usr/bin/env bash
# Core benchmark: replay of one synthetic day (1440 ci_trafi_l snapshots of the
# real 694-segment network) by the C binary and by the plain Python reference.
#
#   bench/run_core_bench.sh                  # both; fails if build/bouchon is missing
#   bench/run_core_bench.sh --reference-only # only the Python reference
#
# Environment (all optional):
#   BOUCHON=path      C binary (default build/bouchon)
#   DAY_DIR=dir       input day (default bench/out/day; generated if incomplete)
#   SEED=n            generator seed when the day is generated (default 20251218)
#   REF_SYNC=mode     PRAGMA synchronous of the reference: OFF|NORMAL|FULL (default NORMAL);
#                     set it to what the C binary uses, the disk's fsync cost dominates
#   REF_BATCH=n       files per transaction in the reference (default 64, the default
#                     --batch of bouchon replay, so both commit equally often)
#
# Measured, for each: observations in the resulting DB (SELECT count(*) FROM
# observation), wall seconds and peak RSS from /usr/bin/time -v, observations/s.
# Both start from a fresh database and a warm page cache for the input files.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

ref_only=0
case "${1:-}" in
    --reference-only) ref_only=1 ;;
    "") ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_core_bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

BOUCHON=${BOUCHON:-$repo/build/bouchon}
DAY_DIR=${DAY_DIR:-$repo/bench/out/day}
SEED=${SEED:-20251218}
REF_SYNC=${REF_SYNC:-NORMAL}
REF_BATCH=${REF_BATCH:-64}
OUT=$repo/bench/out
C_DB=$OUT/core_c.db
REF_DB=$OUT/core_ref.db
EXPECTED_FILES=1440

die() { echo "run_core_bench.sh: $*" >&2; exit 1; }

# ---- prerequisites (checked before the long steps)
command -v python3 >/dev/null || die "python3 not found"
command -v sqlite3 >/dev/null || die "sqlite3 CLI not found (apt-get install sqlite3)"
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing the 'time' package (GNU time, for /usr/bin/time -v)"
        apt-get install -y time >/dev/null || die "apt-get install time failed"
    fi
    [ -x /usr/bin/time ] || die "/usr/bin/time missing: apt-get install time"
fi
if [ "$ref_only" = 0 ] && [ ! -x "$BOUCHON" ]; then
    die "C binary '$BOUCHON' not found or not executable.
Build it first (it must provide 'bouchon replay --db FILE DIR'), set BOUCHON=path,
or run with --reference-only to measure only the Python reference."
fi

# ---- input day
mkdir -p "$OUT"
count_day() { find "$DAY_DIR" -maxdepth 1 -name 'ci_trafi_l_2025-12-18T[0-2][0-9][0-5][0-9].csv' 2>/dev/null | wc -l; }
if [ "$(count_day)" != "$EXPECTED_FILES" ]; then
    echo "== generating the synthetic day in $DAY_DIR (seed $SEED)"
    python3 bench/gen_synthetic_day.py --seed "$SEED" --out "$DAY_DIR"
    [ "$(count_day)" = "$EXPECTED_FILES" ] || die "generator did not produce $EXPECTED_FILES files"
else
    echo "== using existing day in $DAY_DIR ($EXPECTED_FILES files; delete it to regenerate)"
fi
day_bytes=$(du -sb "$DAY_DIR" | cut -f1)
cat "$DAY_DIR"/*.csv >/dev/null        # warm the page cache: both runs read from memory

# ---- one measured run: run NAME DB LOG -- command...
# sets RES_<NAME>_{obs,wall,rss}
measure() {
    local name=$1 db=$2 log=$3; shift 4
    local tfile=$OUT/core_${name}.time
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
    echo "== $name: $*"
    set +e
    /usr/bin/time -v -o "$tfile" "$@" >"$log" 2>&1
    local rc=$?
    set -e
    if [ $rc != 0 ]; then
        echo "--- last lines of $log:" >&2; tail -n 20 "$log" >&2
        die "$name exited with status $rc"
    fi
    sed 's/^/   /' "$log" | tail -n 8
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 2:39.23" -> seconds
    local wall rss obs
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
                for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$tfile")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tfile")
    obs=$(sqlite3 "$db" 'SELECT count(*) FROM observation') || die "$name: cannot count observations in $db"
    printf -v "RES_${name}_obs" '%s' "$obs"
    printf -v "RES_${name}_wall" '%s' "$wall"
    printf -v "RES_${name}_rss" '%s' "$rss"
}

if [ "$ref_only" = 0 ]; then
    measure c "$C_DB" "$OUT/core_c.log" -- "$BOUCHON" replay --db "$C_DB" "$DAY_DIR"
fi
measure ref "$REF_DB" "$OUT/core_ref.log" -- \
    python3 bench/reference_replay.py --synchronous "$REF_SYNC" --batch "$REF_BATCH" --db "$REF_DB" "$DAY_DIR"

# ---- table
row() {   # name label
    local obs wall rss
    eval "obs=\$RES_$1_obs wall=\$RES_$1_wall rss=\$RES_$1_rss"
    awk -v l="$2" -v o="$obs" -v w="$wall" -v r="$rss" 'BEGIN {
        printf "%-44s %12d %10.2f %14.0f %10.1f\n", l, o, w, (w > 0 ? o / w : 0), r }'
}
{
    echo
    echo "core benchmark: replay of $EXPECTED_FILES files, $((day_bytes / 1000000)) MB, from $DAY_DIR"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
         "Python $(python3 -c 'import platform; print(platform.python_version())')," \
         "SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)') (Python module)"
    printf "%-44s %12s %10s %14s %10s\n" "implementation" "observations" "wall s" "observations/s" "peak RSS MB"
    [ "$ref_only" = 0 ] && row c "C: bouchon replay"
    row ref "Python reference (sync=$REF_SYNC, batch=$REF_BATCH)"
    if [ "$ref_only" = 0 ]; then
        if [ "$RES_c_obs" != "$RES_ref_obs" ]; then
            echo "WARNING: observation counts differ (C $RES_c_obs, reference $RES_ref_obs)"
        fi
        awk -v a="$RES_c_wall" -v b="$RES_ref_wall" 'BEGIN { if (a > 0) printf "speed-up (wall): %.1fx\n", b / a }'
    fi
} | tee "$OUT/core_bench_results.txt"
