#!/bin/sh
# Runs every fuzz target built by scripts/build_fuzzers.sh for SECONDS each
# (default 30), one after the other, with -max_len=65536.
#
#   scripts/run_fuzzers.sh [SECONDS] [TARGET...]
#
# Inputs come from build-fuzz/corpus/NAME (kept and grown), the seeds and
# tests/fuzz/regressions/NAME (past crashes, kept in git).  A crash, leak,
# sanitizer report, timeout or failed invariant leaves its input in
# build-fuzz/artifacts/NAME/ and makes the script exit 1 after all targets
# have run.  FUZZ_OUT (build-fuzz), FUZZ_JOBS (1) and FUZZ_FLAGS (extra
# libFuzzer flags) tune it.  Builds the targets first if there are none.
set -u
cd "$(dirname "$0")/.."

OUT=${FUZZ_OUT:-build-fuzz}
ROOT=$(pwd)
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
SECS=${1:-30}
[ $# -gt 0 ] && shift
case "$SECS" in
*[!0-9]* | '') echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
targets="$*"
if [ -z "$targets" ]; then
    for b in "$OUT"/fuzz_*; do
        [ -x "$b" ] && targets="$targets ${b##*/fuzz_}"
    done
fi
if [ -z "$targets" ]; then
    echo "run_fuzzers: no targets in $OUT: building them" >&2
    sh scripts/build_fuzzers.sh || exit 2
    for b in "$OUT"/fuzz_*; do
        [ -x "$b" ] && targets="$targets ${b##*/fuzz_}"
    done
    [ -n "$targets" ] || exit 2
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=""
ntargets=$(echo "$targets" | wc -w)
for t in $targets; do
    bin="$OUT/fuzz_$t"
    if [ ! -x "$bin" ]; then
        echo "run_fuzzers: $bin missing" >&2
        failed="$failed $t"
        continue
    fi
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
    dirs="$OUT/corpus/$t"
    [ -d "$OUT/seeds/$t" ] && dirs="$dirs $OUT/seeds/$t"
    [ -d "tests/fuzz/regressions/$t" ] && dirs="$dirs tests/fuzz/regressions/$t"
    absdirs=""
    for d in $dirs; do
        case "$d" in /*) absdirs="$absdirs $d" ;; *) absdirs="$absdirs $ROOT/$d" ;; esac
    done
    echo "== fuzz_$t: ${SECS}s"
    jobs=""
    # -jobs forks workers that log to ./fuzz-N.log: only when asked for, and there
    [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs="-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS"
    # shellcheck disable=SC2086
    if (cd "$OUT/artifacts/$t" && "$bin" -max_len=65536 -max_total_time="$SECS" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $jobs \
        -artifact_prefix="$OUT/artifacts/$t/" ${FUZZ_FLAGS:-} $absdirs) \
        > "$OUT/artifacts/$t/log.txt" 2>&1; then
        grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)" \
            "$OUT/artifacts/$t/log.txt" | tr '\n' ' '
        echo
    else
        echo "fuzz_$t FAILED; log: $OUT/artifacts/$t/log.txt" >&2
        grep -E "ERROR|invariant failed|runtime error|Test unit written" \
            "$OUT/artifacts/$t/log.txt" | head -n 5 >&2
        failed="$failed $t"
    fi
done
nfail=$(echo "$failed" | wc -w)
if [ -n "$failed" ]; then
    echo "run_fuzzers: failed:$failed"
    echo "fuzz: $((ntargets - nfail)) passed, $nfail failed"
    exit 1
fi
echo "run_fuzzers: all targets ran ${SECS}s without a failure"
echo "fuzz: $ntargets passed, 0 failed"
