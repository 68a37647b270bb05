#!/bin/sh
# Run the JSON library benchmark or its error/edge-case probes.
#   ./run.sh bench   RUNS (3) x every library/variant x 3 real payloads -> table
#   ./run.sh check   truncated/invalid payloads and probes, every library
# Build first (make); the Makefile targets `bench` and `check` do both.
set -eu
cd "$(dirname "$0")"
OUT=out
DATA=${DATA:-/work/shared/data/bordeaux}
RUNS=${RUNS:-3}
ITERS=${ITERS:-30}

PAYLOADS="$OUT/ci_trafi_l_records.json $DATA/pc_capte_ponct_p.json $DATA/pc_capte_p_2022-03-10T1040.json"
# One configuration a line: program and its options.
CONFIGS="bench_jansson
bench_jansson -d
bench_jansson -d -u
bench_cjson
bench_jsonc
bench_jsonc -s"

case "${1:-}" in
bench)
    results=$OUT/results.tsv
    : >"$results"
    echo "# $(date -u +%FT%TZ) $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" \
        | tee -a "$results"
    echo "# loadavg before: $(cat /proc/loadavg)" | tee -a "$results"
    run=1
    while [ "$run" -le "$RUNS" ]; do
        for payload in $PAYLOADS; do
            echo "$CONFIGS" | while read -r prog opts; do
                # shellcheck disable=SC2086 # $opts is a list of options
                line=$("$OUT/$prog" $opts bench "$payload" "$ITERS")
                printf 'run=%s\t%s\n' "$run" "$line" >>"$results"
                printf 'run %s %-22s %-32s %s\n' "$run" "$prog $opts" "$(basename "$payload")" \
                    "$(echo "$line" | tr '\t' '\n' | grep ms_median | tr '\n' ' ')"
            done
        done
        run=$((run + 1))
    done
    echo "# loadavg after: $(cat /proc/loadavg)" | tee -a "$results"
    python3 summarize.py "$results"
    ;;
check)
    report=$OUT/check.txt
    : >"$report"
    for f in "$OUT"/err_*.json "$OUT"/probe_*.json; do
        echo "== $(basename "$f") $(grep -F "$(basename "$f")" "$OUT/err_index.tsv" | cut -f2- | tr '\t' ' ')" \
            >>"$report"
        echo "$CONFIGS
bench_jsonc -s -D 2048" | grep -v -- ' -u' | while read -r prog opts; do
            # shellcheck disable=SC2086
            "$OUT/$prog" $opts check "$f" >>"$report" 2>&1 || echo "  exit status $?" >>"$report"
        done
        case "$f" in
        */probe_gid_*.json) "$OUT/bench_jansson" -d -u check "$f" >>"$report" 2>&1 ;;
        esac
    done
    cat "$report"
    ;;
*)
    echo "usage: $0 bench|check" >&2
    exit 2
    ;;
esac
