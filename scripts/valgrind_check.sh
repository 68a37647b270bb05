#!/usr/bin/env bash
# Runs the main commands on the real snapshots under valgrind: any leak or
# memory error fails.  Prints "valgrind: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99)
p=0
f=0
check() {
    local name=$1
    shift
    if "${vg[@]}" "$@" >"$tmp/out" 2>&1; then
        p=$((p + 1))
    else
        f=$((f + 1))
        echo "valgrind: $name failed:"
        tail -30 "$tmp/out"
    fi
}
check replay ./build/bouchon -q replay --db "$tmp/v.db" data/bordeaux/ci_trafi_l_2025-12-18T1000.csv data/bordeaux/ci_trafi_l_2025-12-18T0950.csv
check replay-again ./build/bouchon -q replay --db "$tmp/v.db" data/bordeaux
check report ./build/bouchon report --db "$tmp/v.db"
check report-json ./build/bouchon report --db "$tmp/v.db" --json
for t in build/tests/test_*; do
    [ -x "$t" ] && check "$(basename "$t")" "$t"
done
echo "valgrind: $p passed, $f failed"
[ "$f" -eq 0 ]
