#!/usr/bin/env bash
# tests/sanitize.sh - the unit tests and the FastCGI and request-path e2e tests under
# AddressSanitizer+UBSan and under ThreadSanitizer, each built in a copy of the tracked files
# (build-asan/, build-tsan/ at the top; the main build is not touched, and a configured source
# tree cannot host out-of-tree builds).
#
#   tests/sanitize.sh              both
#   tests/sanitize.sh asan|tsan    one
#   TESTS="tests/e2e/30-fastcgi-php.sh" tests/sanitize.sh tsan    other tests
#
# A sanitizer report anywhere (wharf, the unit tests) fails the run, even when the test that
# triggered it passed: every process writes its reports under build-KIND/san-reports/, and
# the run fails when that directory is not empty at the end. Prints "KIND: clean" or the
# reports.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(asan tsan)
default_tests="tests/e2e/10-static.sh tests/e2e/18-http-framing.sh tests/e2e/30-fastcgi-php.sh
tests/e2e/31-fastcgi-tcp-flush.sh tests/e2e/32-fastcgi-upload.sh tests/e2e/33-fastcgi-loopback.sh
tests/e2e/34-fastcgi-presets.sh tests/e2e/35-fastcgi-failover.sh tests/e2e/36-fastcgi-spawn.sh
tests/e2e/37-fastcgi-workers.sh tests/e2e/39-fastcgi-output.sh tests/e2e/40-fastcgi-faults.sh
tests/e2e/41-fastcgi-hung-upstream.sh tests/e2e/44-fastcgi-hostile.sh tests/e2e/55-webhook.sh
tests/e2e/57-site-runtime.sh tests/e2e/86-hostile-http.sh tests/e2e/87-slow-and-half-closed.sh"
tests=${TESTS:-$default_tests}
status=0
for kind in "${kinds[@]}"; do
    case $kind in asan | tsan) ;; *) echo "unknown sanitizer '$kind' (asan or tsan)" >&2; exit 2 ;; esac
    dir=$top/build-$kind
    reports=$dir/san-reports
    mkdir -p "$dir"
    # the tracked files as they are now (modified ones included); only changed files rebuild
    git -C "$top" ls-files -z | tar -C "$top" --null -T - -cf - | tar -C "$dir" -xf - || exit 1
    (cd "$dir" && { [ -f Makefile ] || { autoreconf -fi && ./configure --quiet --enable-"$kind" CFLAGS="-g -O1"; }; } &&
        make -j"$(nproc)") >"$dir/build.out" 2>&1 || { tail -n 30 "$dir/build.out" >&2; echo "$kind: build failed" >&2; exit 1; }
    rm -rf "$reports"
    mkdir -p "$reports"
    unit=$(cd "$dir" && make -s print-unit-tests 2>/dev/null)
    export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=0"
    export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1"
    export TSAN_OPTIONS="log_path=$reports/tsan:second_deadlock_stack=1"
    (cd "$dir" && make -j"$(nproc)" check TESTS="$unit $tests" >"$dir/check.out" 2>&1)
    rc=$?
    tail -n 12 "$dir/check.out" | grep -E '^# (TOTAL|PASS|FAIL|ERROR)'
    if [ -n "$(ls -A "$reports")" ]; then
        echo "$kind: sanitizer reports in $reports:"
        head -n 60 "$reports"/*
        status=1
    elif [ $rc -ne 0 ]; then
        echo "$kind: tests failed (see $dir/check.out and the .log files beside it)"
        status=1
    else
        echo "$kind: clean"
    fi
done
exit $status
