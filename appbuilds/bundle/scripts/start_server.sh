#!/bin/bash
# ApplicationStart: run the sample app as the build in build.env says. Like the tutorial, the
# Dynatrace variables come from the CodeDeploy environment (OneAgent turns them into process
# tags and properties). UNBREAKABLE_APP_DIR / APP_PORT / APP_BIND let a local agent run it.
set -euo pipefail
APP_DIR="${UNBREAKABLE_APP_DIR:-/opt/unbreakable/app}"
cd "$APP_DIR"
# shellcheck disable=SC1091
source ./build.env
export BUILD_NUMBER
export DT_TAGS="APPLICATION_NAME=${APPLICATION_NAME:-} DeploymentGroup=${DEPLOYMENT_GROUP_NAME:-}"
export DT_CUSTOM_PROP="DEPLOYMENT_ID=${DEPLOYMENT_ID:-} DEPLOYMENT_GROUP_NAME=${DEPLOYMENT_GROUP_NAME:-} APPLICATION_NAME=${APPLICATION_NAME:-}"
export DT_CLUSTER_ID="${DEPLOYMENT_GROUP_NAME:-} ${APPLICATION_NAME:-}"
export PORT="${APP_PORT:-80}" BIND="${APP_BIND:-0.0.0.0}" SERVICE_LOG="$APP_DIR/serviceoutput.log"
chmod +x ./sample-app
nohup ./sample-app > "$APP_DIR/app.out" 2>&1 &
echo $! > "$APP_DIR/app.pid"
for _ in $(seq 1 50); do
    if grep -q "listening on" "$APP_DIR/app.out" 2>/dev/null; then
        echo "Deployed build $BUILD_NUMBER: DEPLOYMENT_ID=${DEPLOYMENT_ID:-} DEPLOYMENT_GROUP_NAME=${DEPLOYMENT_GROUP_NAME:-} $(head -1 "$APP_DIR/app.out")"
        exit 0
    fi
    sleep 0.1
done
echo "the sample app did not start:" >&2
cat "$APP_DIR/app.out" >&2
exit 1
