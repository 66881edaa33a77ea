#!/bin/sh
# summarize.sh TEST...: read the .trs files automake's TAP driver wrote for each test and print
# every failing test point, then the one closing line "N passed, N failed" (every TAP test
# point of every unit and end-to-end test). A test that did not run, or was skipped while
# WHARF_TEST_NO_SKIP=1, counts as failed. Exit 1 if anything failed.
passed=0 failed=0
for t in "$@"; do
    trs="${t%.sh}"
    trs="${trs}.trs"
    case "$t" in *.sh) trs="${t%.sh}.trs";; esac
    if [ ! -f "$trs" ]; then
        echo "not run: $t"
        failed=$((failed + 1))
        continue
    fi
    log="${trs%.trs}.log"
    p=$(grep -c '^:test-result: \(PASS\|XFAIL\)' "$trs")
    f=$(grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' "$trs")
    s=$(grep -c '^:test-result: SKIP' "$trs")
    if [ "$s" -gt 0 ] && [ "${WHARF_TEST_NO_SKIP:-0}" = 1 ]; then
        f=$((f + s))
        echo "skipped (counted as failed): $t"
    fi
    if [ "$f" -gt 0 ] && [ -f "$log" ]; then
        echo "--- $t"
        grep -E '^(not ok|#|Bail out|ERROR)' "$log" | grep -v '^# (passed|skipped)' | head -40
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
