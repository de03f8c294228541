#!/bin/bash
# ValidateService: the app answers and runs the build this bundle carries.
set -euo pipefail
APP_DIR="${UNBREAKABLE_APP_DIR:-/opt/unbreakable/app}"
# shellcheck disable=SC1091
source "$APP_DIR/build.env"
url=$(head -1 "$APP_DIR/app.out" | sed -n 's/.*listening on \(http[^ ]*\).*/\1/p')
url="${url:-http://127.0.0.1:${APP_PORT:-80}}"
answer=$(curl -fsS "$url/api/version")
if ! echo "$answer" | grep -q "$BUILD_NUMBER"; then
    echo "expected build $BUILD_NUMBER, the app says: $answer" >&2
    exit 1
fi
echo "build $BUILD_NUMBER answers at $url"
