#!/bin/bash
# The load: the tutorial's mix of page, echo, invoke and version calls, until the stop file
# appears. Production gets more traffic than staging. LOAD_CART_CALLS adds that many
# `/api/cart` calls to each round (default 0: the tutorial's mix); LOAD_WORKERS runs that many
# rounds side by side (default 1), enough of them saturate an instance's request slots.
TARGET="${TARGET_URL:-http://127.0.0.1:${APP_PORT:-80}}"
STOP_FILE="$1"
CART_CALLS="${LOAD_CART_CALLS:-0}"
WORKERS="${LOAD_WORKERS:-1}"
case "${DEPLOYMENT_GROUP_NAME:-}" in
    Production*) pause=0.1 ;;
    *) pause=0.3 ;;
esac
worker() {
    while [ ! -f "$STOP_FILE" ]; do
        curl -s -o /dev/null "$TARGET/" -H "x-dynatrace: NA=Test.Homepage;"
        curl -s -o /dev/null "$TARGET/api/echo?text=load" -H "x-dynatrace: NA=Test.Echo;"
        curl -s -o /dev/null "$TARGET/api/invoke" -H "x-dynatrace: NA=Test.Invoke;"
        curl -s -o /dev/null "$TARGET/api/version" -H "x-dynatrace: NA=Test.Version;"
        for _ in $(seq 1 "$CART_CALLS"); do
            curl -s -o /dev/null "$TARGET/api/cart?item=load" -H "x-dynatrace: NA=Test.Cart;"
        done
        sleep "$pause"
    done
}
for _ in $(seq 2 "$WORKERS"); do
    worker &
done
worker
wait
