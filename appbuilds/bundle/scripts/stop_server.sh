#!/bin/bash
# ApplicationStop / BeforeInstall: stop the running app, if any (never fails the deployment
# when nothing runs).
APP_DIR="${UNBREAKABLE_APP_DIR:-/opt/unbreakable/app}"
if [ -f "$APP_DIR/app.pid" ]; then
    pid=$(cat "$APP_DIR/app.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$APP_DIR/app.pid"
fi
exit 0
