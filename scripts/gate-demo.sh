#!/usr/bin/env bash
# The quality gate end to end on this machine: start the Dynatrace simulator with a recorded
# build, then run `unbreakable validate` against it, once for a healthy build and once for
# build 2 (which breaks /api/invoke). Prints both verdicts; exits non-zero only on a tool error.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p unbreakable-cli -p unbreakable-emulators
bin=target/debug

run_build() {
    local fixture=$1 title=$2
    local log
    log=$(mktemp)
    "$bin/dynatrace-simulator" --fixture "tests/fixtures/dynatrace/$fixture.json" >"$log" 2>&1 &
    local pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
    local url
    url=$(sed -n 's/.*listening on //p' "$log")
    [ -n "$url" ] || { echo "the simulator did not start:"; cat "$log"; exit 2; }
    echo
    echo "=== $title ==="
    local code=0
    DT_TENANT_URL=$url DT_API_TOKEN=dt0c01.SIMULATOR.TOKEN \
        "$bin/unbreakable" validate --monspec monspec/monspec.json --comparison StagingToProduction \
        --start 2026-11-21T10:00:00Z --end 2026-11-21T10:05:00Z || code=$?
    echo "(exit code $code: 0 approved, 1 rejected, 2 error)"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    trap - EXIT
    rm -f "$log"
    [ "$code" -le 1 ]
}

run_build build_pass "A healthy build"
run_build build_violation "Build 2: half of /api/invoke fails"
