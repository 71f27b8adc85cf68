#!/usr/bin/env bash
# The project's test command: the normal build's tests (CUDA too when nvcc is
# there), then the same tests under ASan+UBSan (CPU only). Ends with one line
# "N passed, N failed, N skipped" summing both runs; exits non-zero if any
# test failed or a build broke. On a fresh machine it first installs what is
# missing (Debian packages, the Python venv); both steps are no-ops when done.
set -u
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"
if [ "${DF11_SKIP_SETUP:-0}" != 1 ]; then
    scripts/install-deps.sh </dev/null || { echo "test.sh: dependency install failed" >&2; exit 1; }
    # Without the venv the loader tests print SKIP lines; everything else runs.
    scripts/setup-venv.sh </dev/null || echo "test.sh: WARNING: venv setup failed" >&2
fi
logdir=$(mktemp -d "${TMPDIR:-/tmp}/df11-test.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

total_p=0 total_f=0 total_s=0 status=0
run() { # LABEL make-args...
    local label="$1" log="$logdir/$1.log" rc line p f s
    shift
    echo "=== $label: make $* ==="
    local t0=$SECONDS
    make "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n1)
    if [ -z "$line" ]; then
        # The build broke before the runner could report: one failure, so it
        # is never mistaken for a clean run.
        echo "=== $label: no test summary (make exited $rc): counted as 1 failure ==="
        p=0 f=1 s=0
    else
        read -r p _ f _ s _ <<<"${line//,/}"
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    fi
    echo "=== $label: $p passed, $f failed, $s skipped ($((SECONDS - t0))s) ==="
    total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
    [ "$f" -eq 0 ] || status=1
}

# BUILD (when set) picks the normal build's folder; make asan always uses
# build-asan/. DF11_TEST_RUNS chooses the runs (default both).
for r in ${DF11_TEST_RUNS:-test asan}; do
    case $r in
        test) run test -j"$JOBS" ${BUILD:+BUILD="$BUILD"} test ;;
        asan) run asan -j"$JOBS" asan ;;
        *) echo "test.sh: unknown run '$r'" >&2; exit 2 ;;
    esac
done
echo "$total_p passed, $total_f failed, $total_s skipped"
exit $status
