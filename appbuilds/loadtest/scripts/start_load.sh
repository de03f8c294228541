#!/bin/bash
# ApplicationStart: start the load in the background.
set -euo pipefail
DIR="${UNBREAKABLE_TESTS_DIR:-/opt/unbreakable/tests}"
for setting in LOAD_CART_CALLS LOAD_WORKERS; do
    value="${!setting:-}"
    if [ -n "$value" ] && ! [[ "$value" =~ ^[0-9]+$ ]]; then
        echo "$setting must be a whole number (e.g. 2), got \"$value\"" >&2
        exit 1
    fi
done
if [ "${LOAD_WORKERS:-1}" -lt 1 ]; then
    echo "LOAD_WORKERS must be at least 1, got \"$LOAD_WORKERS\"" >&2
    exit 1
fi
rm -f "$DIR/stop"
chmod +x "$DIR/load.sh"
nohup "$DIR/load.sh" "$DIR/stop" > "$DIR/load.out" 2>&1 &
echo $! > "$DIR/load.pid"
echo "load test started against ${TARGET_URL:-http://127.0.0.1:${APP_PORT:-80}} for ${DEPLOYMENT_GROUP_NAME:-} (${LOAD_WORKERS:-1} worker(s), ${LOAD_CART_CALLS:-0} cart call(s) a round)"
