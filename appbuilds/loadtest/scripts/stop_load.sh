#!/bin/bash
# ApplicationStop: ask the load to stop, then make sure it did.
DIR="${UNBREAKABLE_TESTS_DIR:-/opt/unbreakable/tests}"
mkdir -p "$DIR" && touch "$DIR/stop"
if [ -f "$DIR/load.pid" ]; then
    pid=$(cat "$DIR/load.pid")
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill "$pid" 2>/dev/null || true
    rm -f "$DIR/load.pid"
fi
exit 0
