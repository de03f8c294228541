#!/bin/bash
# ApplicationStart: start the load in the background.
set -euo pipefail
DIR="${UNBREAKABLE_TESTS_DIR:-/opt/unbreakable/tests}"
rm -f "$DIR/stop"
chmod +x "$DIR/load.sh"
nohup "$DIR/load.sh" "$DIR/stop" > "$DIR/load.out" 2>&1 &
echo $! > "$DIR/load.pid"
echo "load test started against ${TARGET_URL:-http://127.0.0.1:${APP_PORT:-80}} for ${DEPLOYMENT_GROUP_NAME:-}"
