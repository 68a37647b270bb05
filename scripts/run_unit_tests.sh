#!/bin/sh
# Runs each C unit-test binary given as argument and prints one closing line
# "unit: N passed, N failed" (counting binaries).  Exit status 1 if any failed.
passed=0
failed=0
for t in "$@"; do
    if "$t"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $t" >&2
        failed=$((failed + 1))
    fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
