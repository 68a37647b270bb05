#!/usr/bin/env bash
# The whole test suite, from a fresh clone on Debian 12 (the README's second
# command).  Installs what it needs, builds, then runs every section and ends
# with one line "suite: N passed, N failed" counting individual tests.
#   scripts/test.sh              unit, integration, browser, Kafka, fuzz smoke, valgrind
#   scripts/test.sh --sanitize   the unit and integration tests under ASan+UBSan
# Test outputs (screenshots, logs, scrapes) go to test-output/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
mode=normal
[ "${1:-}" = "--sanitize" ] && mode=sanitize

export BOUCHON_SHARED=${BOUCHON_SHARED:-$ROOT/../shared}
mkdir -p test-output
passed=0
failed=0
failures=()

note() { printf '\n=== %s\n' "$*"; }
# count LOG SECTION: adds the test counts a runner printed in LOG.
count() {
    local log=$1 section=$2 p=0 f=0 n
    # cmocka: "[  PASSED  ] 12 test(s)." / "[  FAILED  ] 1 test(s), listed below:"
    n=$(grep -ahoE '^\[  PASSED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null)
    p=$((p + ${n:-0}))
    n=$(grep -ahoE '^\[  FAILED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null)
    f=$((f + ${n:-0}))
    # pytest -q: "12 passed, 1 failed, 2 skipped in 3.1s"
    n=$(grep -ahoE '^[=]* ?[0-9]+ passed' "$log" | tail -1 | grep -oE '[0-9]+')
    p=$((p + ${n:-0}))
    n=$(grep -ahoE '[0-9]+ failed' "$log" | grep -v '^0' | tail -1 | grep -oE '[0-9]+')
    [ -n "$(grep -aE '(passed|failed).* in [0-9.]+s' "$log")" ] && f=$((f + ${n:-0}))
    n=$(grep -ahoE '[0-9]+ error' "$log" | tail -1 | grep -oE '[0-9]+')
    [ -n "$(grep -aE '(passed|failed|error).* in [0-9.]+s' "$log")" ] && f=$((f + ${n:-0}))
    # node --test: "# pass 3" / "# fail 0"
    n=$(grep -ahoE '^# pass [0-9]+' "$log" | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null)
    p=$((p + ${n:-0}))
    n=$(grep -ahoE '^# fail [0-9]+' "$log" | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null)
    f=$((f + ${n:-0}))
    # scripts that print "NAME: N passed, N failed"
    n=$(grep -ahoE '^[a-z -]+: [0-9]+ passed, [0-9]+ failed$' "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null)
    p=$((p + ${n:-0}))
    n=$(grep -ahoE '^[a-z -]+: [0-9]+ passed, [0-9]+ failed$' "$log" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null)
    f=$((f + ${n:-0}))
    passed=$((passed + p))
    failed=$((failed + f))
    echo "--- $section: $p passed, $f failed"
}
# run SECTION CMD...: runs CMD with its output in test-output/SECTION.log; a
# non-zero exit with no failed test counted still counts as one failure.
run() {
    local section=$1
    shift
    local log="test-output/$section.log" before=$failed rc
    note "$section"
    "$@" >"$log" 2>&1
    rc=$?
    tail -n 25 "$log"
    count "$log" "$section"
    if [ $rc -ne 0 ]; then
        if [ $failed -eq $before ]; then
            failed=$((failed + 1))
        fi
        failures+=("$section (exit $rc)")
    fi
}

note "dependencies"
bash scripts/install-deps.sh --test || { echo "cannot install dependencies"; exit 1; }
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null

PYTEST=(/usr/bin/python3 -m pytest -q -p no:cacheprovider -o addopts="")

if [ "$mode" = sanitize ]; then
    note "build (ASan+UBSan)"
    make -s SANITIZE=1 -j2 || { echo "suite: 0 passed, 1 failed"; exit 1; }
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run unit-asan make -s SANITIZE=1 check
    BOUCHON_BIN=$ROOT/build-asan/bouchon BOUCHON_SANITIZED=1 \
        run integration-asan "${PYTEST[@]}" tests/integration -m "not slow"
else
    note "build"
    make -s -j2 || { echo "suite: 0 passed, 1 failed"; exit 1; }
    run format make -s format-check
    run unit make -s check
    run web sh web/build.sh build/web
    BOUCHON_BIN=$ROOT/build/bouchon run integration "${PYTEST[@]}" tests/integration
    if [ -d tests/browser ]; then
        run browser-deps sh -c 'cd tests/browser && { [ -d node_modules ] || npm ci --no-audit --no-fund; }'
        # The browser tests read a warehouse built from the real snapshots plus the imported
        # history of the shared data folder (hourly scores, travel times, counts, stations,
        # works, lockdowns): the live views and the history views (tests/browser/README.md).
        browser_db() {
            rm -f test-output/browser.db test-output/browser.db-wal test-output/browser.db-shm
            ./build/bouchon -q replay --db test-output/browser.db data/bordeaux &&
                BOUCHON_BIN=$ROOT/build/bouchon bash scripts/import_history.sh test-output/browser.db \
                    "$BOUCHON_SHARED/data/bordeaux"
        }
        run browser-db browser_db
        BOUCHON_TEST_DB=$ROOT/test-output/browser.db BOUCHON_BIN=$ROOT/build/bouchon BOUCHON_SHARED=$BOUCHON_SHARED \
            run browser node --test tests/browser/
    fi
    if [ -x scripts/kafka/cluster.sh ] && [ -d tests/kafka ]; then
        run kafka "${PYTEST[@]}" tests/kafka
    fi
    if [ -x scripts/run_fuzzers.sh ]; then
        run fuzz bash scripts/run_fuzzers.sh 20
    fi
    run valgrind bash scripts/valgrind_check.sh
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed sections: ${failures[*]}"
fi
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
