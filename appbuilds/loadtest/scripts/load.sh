#!/bin/bash
# The load: the tutorial's mix of page, echo, invoke and version calls, until the stop file
# appears. Production gets more traffic than staging.
TARGET="${TARGET_URL:-http://127.0.0.1:${APP_PORT:-80}}"
STOP_FILE="$1"
case "${DEPLOYMENT_GROUP_NAME:-}" in
    Production*) pause=0.1 ;;
    *) pause=0.3 ;;
esac
while [ ! -f "$STOP_FILE" ]; do
    curl -s -o /dev/null "$TARGET/" -H "x-dynatrace: NA=Test.Homepage;"
    curl -s -o /dev/null "$TARGET/api/echo?text=load" -H "x-dynatrace: NA=Test.Echo;"
    curl -s -o /dev/null "$TARGET/api/invoke" -H "x-dynatrace: NA=Test.Invoke;"
    curl -s -o /dev/null "$TARGET/api/version" -H "x-dynatrace: NA=Test.Version;"
    sleep "$pause"
done
