#!/usr/bin/env bash
# docs/report.png and docs/timeline.png, taken with headless Chromium from real runs of
# `unbreakable local`:
#   report    `unbreakable local` (the tutorial, builds 1-4)       → the report, docs/report.png
#   timeline  `unbreakable local --scenario self-healing`          → the timeline, docs/timeline.png
#
# Needs Debian's Chromium (`sudo apt-get install chromium`), and what `unbreakable local`
# needs: cargo, python3 with venv (moto), and for the self-healing run Prometheus,
# Alertmanager, PostgreSQL 15 and npm's unleash-server (scripts/test.sh installs them all;
# the run names whatever is missing). Each run takes about 3-5 minutes, plus the first build.
#
# How the URL is captured: each run is started with --keep-running, which after the summary
# prints "The stack keeps running: open <report URL> — Ctrl-C stops it." and keeps the report
# function serving (the timeline is on the same gateway, at /RemediationSequences). The script
# waits for that line, takes the screenshot, then sends the run SIGINT (Ctrl-C), on which it
# stops every process it started.
#
# Usage: scripts/screenshots.sh [report] [timeline]     (no argument: both)
#   REPORT_URL=… / TIMELINE_URL=…  screenshot a page already served (say by a run of yours
#                                  with --keep-running) instead of starting a run
#   REPORT_WINDOW=1280,1700 / TIMELINE_WINDOW=1100,1610
#                                  the browser window, so the part of the page the picture shows
set -euo pipefail
cd "$(dirname "$0")/.."

command -v chromium > /dev/null || { echo "chromium is missing: install Debian's chromium (sudo apt-get install chromium), then run again" >&2; exit 1; }

REPORT_WINDOW=${REPORT_WINDOW:-1280,1700}
TIMELINE_WINDOW=${TIMELINE_WINDOW:-1100,1610}
RUN_LIMIT_SECONDS=${RUN_LIMIT_SECONDS:-1800}

pages=("$@")
[ ${#pages[@]} -gt 0 ] || pages=(report timeline)
for page in "${pages[@]}"; do
    case $page in
        report | timeline) ;;
        *) echo "unknown page \"$page\": give report, timeline or nothing (both)" >&2; exit 2 ;;
    esac
done

# Headless Chromium as root in a container, with none of its own traffic (the same flags as
# tests/tests/browser.rs: --disable-background-networking leaves the component updater, Google
# account cookies and network time running; they are sent to a closed loopback port).
shoot() {
    local url=$1 out=$2 window=$3
    local scratch
    scratch=$(mktemp -d)
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication \
        --component-updater=url-source=http://127.0.0.1:9/ --gaia-url=http://127.0.0.1:9/ \
        --user-data-dir="$scratch/profile" --hide-scrollbars --window-size="$window" \
        --screenshot="$scratch/shot.png" "$url" > "$scratch/chromium.log" 2>&1 || true
    if [ ! -s "$scratch/shot.png" ]; then
        echo "chromium took no screenshot of $url; its output:" >&2
        grep -v 'dbus\|unexpected operator' "$scratch/chromium.log" >&2 || true
        rm -rf "$scratch"
        exit 1
    fi
    mv "$scratch/shot.png" "$out"
    rm -rf "$scratch"
    echo "$out: $url at $window"
}

run_pid=
tail_pid=
# Ctrl-C to the run (it then stops the functions, apps, load tests and servers it started).
stop_run() {
    if [ -n "$run_pid" ] && kill -0 "$run_pid" 2> /dev/null; then
        kill -INT "$run_pid" 2> /dev/null || true
        for _ in $(seq 120); do
            kill -0 "$run_pid" 2> /dev/null || break
            sleep 0.5
        done
        if kill -0 "$run_pid" 2> /dev/null; then
            echo "the run did not stop within 60 s of Ctrl-C; terminating it (processes it started may be left)" >&2
            kill -TERM "$run_pid" 2> /dev/null || true
        fi
        wait "$run_pid" 2> /dev/null || true
    fi
    if [ -n "$tail_pid" ]; then
        kill "$tail_pid" 2> /dev/null || true
        wait "$tail_pid" 2> /dev/null || true
    fi
    run_pid=
    tail_pid=
}
trap stop_run EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start `unbreakable local "$@" --keep-running`, show its output, and set run_url to the
# report's URL once the stack is kept running. (Not in a subshell: stop_run needs run_pid.)
run_url=
start_run() {
    command -v cargo > /dev/null || { echo "cargo is missing: install Rust (https://rustup.rs)" >&2; exit 1; }
    local log
    log=$(mktemp --suffix=.log)
    echo "== cargo run -p unbreakable-cli -- local${*:+ $*} --keep-running (output also in $log)" >&2
    # `cargo run` replaces itself with the CLI (exec), so $! is the run's own process.
    cargo run --quiet -p unbreakable-cli -- local "$@" --keep-running > "$log" 2>&1 &
    run_pid=$!
    tail -n +1 -f --pid="$run_pid" "$log" >&2 &
    tail_pid=$!
    local started=$SECONDS
    run_url=
    while [ -z "$run_url" ]; do
        if ! kill -0 "$run_pid" 2> /dev/null; then
            echo "unbreakable local ended before keeping its stack running; its output is in $log" >&2
            exit 1
        fi
        if [ $((SECONDS - started)) -gt "$RUN_LIMIT_SECONDS" ]; then
            echo "unbreakable local did not keep its stack running within $RUN_LIMIT_SECONDS s; its output is in $log" >&2
            exit 1
        fi
        sleep 1
        run_url=$(sed -n 's/^The stack keeps running: open \(http[^ ]*\) .*/\1/p' "$log" | head -n 1)
    done
}

for page in "${pages[@]}"; do
    case $page in
        report)
            if [ -n "${REPORT_URL:-}" ]; then
                shoot "$REPORT_URL" docs/report.png "$REPORT_WINDOW"
            else
                start_run
                shoot "$run_url" docs/report.png "$REPORT_WINDOW"
                stop_run
            fi
            ;;
        timeline)
            if [ -n "${TIMELINE_URL:-}" ]; then
                shoot "$TIMELINE_URL" docs/timeline.png "$TIMELINE_WINDOW"
            else
                start_run --scenario self-healing
                shoot "${run_url%%/BuildValidationResults*}/RemediationSequences" docs/timeline.png "$TIMELINE_WINDOW"
                stop_run
            fi
            ;;
    esac
done
