#!/usr/bin/env bash
# The test command: install what the tests need when it is missing, then run the whole suite.
# A plain script rather than a Makefile target or `cargo xtask`: it must run before anything is
# built and install Debian packages (with sudo when not root), npm's unleash-server and a
# Python venv, which is shell work; it is the one command README.md gives and CI runs.
# Arguments are passed to `cargo test` (e.g. `scripts/test.sh -p unbreakable-cli`).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo > /dev/null || { echo "cargo is missing: install Rust (https://rustup.rs)" >&2; exit 1; }
command -v python3 > /dev/null || { echo "python3 is missing: install Python 3 with venv (apt-get install python3-venv)" >&2; exit 1; }
cargo --version

# Debian packages: curl for the sample app's CodeDeploy hooks and load test (run for real by
# the end-to-end test); Prometheus 2.42 for the SLI provider's tests, which start their own
# instance on a free port (the package's own service is not used); Alertmanager 0.25 as a
# package (it reads its templates from the package's share directory) for the self-healing
# tests, which start it the same way; Chromium for tests/tests/browser.rs, which loads the
# report and the timeline in headless Chromium (and for scripts/screenshots.sh).
SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
missing=()
command -v curl > /dev/null || missing+=(curl)
command -v prometheus > /dev/null || missing+=(prometheus)
command -v prometheus-alertmanager > /dev/null || missing+=(prometheus-alertmanager)
command -v chromium > /dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Feature toggles against a real Unleash (tests/tests/unleash.rs and the emulators' own tests):
# PostgreSQL 15 from Debian (the tests create, start and remove their own throwaway cluster on
# a free loopback port; as root they run it as the package's `postgres` user, and the
# package's own service is not used), and npm's unleash-server 7.5.x (the last line that runs
# on Node 20) into the gitignored .cache/unleash-server, where emulators/src/unleash.rs looks
# (UNLEASH_SERVER_DIR overrides). Measured here: the npm install takes about 40 s (190 MB),
# the first Unleash start with its migrations 4-10 s.
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && [ -z "${PG_BIN:-}" ]; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends postgresql
fi
if [ ! -f .cache/unleash-server/node_modules/unleash-server/package.json ]; then
    command -v npm > /dev/null || { echo "npm is missing: install Node.js 20 with npm" >&2; exit 1; }
    npm install --prefix .cache/unleash-server 'unleash-server@~7.5' --no-audit --no-fund --loglevel=error
fi

# Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
need_venv() {
    if ! python3 -c 'import ensurepip, venv' 2> /dev/null; then
        $SUDO apt-get update -q
        $SUDO apt-get install -y -q --no-install-recommends python3-venv
    fi
}

# In the project's venv: moto server (DynamoDB, S3, Secrets Manager, SSM) for the function
# tests, which start it themselves on free loopback ports, and cfn-lint for the template test.
if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/cfn-lint ]; then
    need_venv
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' 'cfn-lint>=1.30,<2'
fi

# checkov for the template test, in a venv of its own: checkov 3.3 pins boto3 1.35 and
# networkx 2.6, which in .venv would downgrade what moto and cfn-lint run on. The test runs it
# offline (no download from Prisma Cloud, no version check). Measured here: about a minute.
if [ ! -x .venv-checkov/bin/checkov ]; then
    need_venv
    python3 -m venv .venv-checkov
    .venv-checkov/bin/pip install --quiet --disable-pip-version-check 'checkov>=3.2,<4'
fi


if [ $# -eq 0 ]; then
    set -- --workspace
fi
# Every test binary runs even when one fails, so one run shows every failure.
exec cargo test --no-fail-fast "$@"
