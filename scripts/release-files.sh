#!/usr/bin/env bash
# The files the tutorial's pipeline takes from your S3 bucket, built from this repository:
# app_build1.zip … app_build4.zip (CodeDeploy bundles of the sample app; upload one as
# app.zip to release that build), tests.zip (the load test) and monspec.json.
# Output: target/release-files/.
set -euo pipefail
cd "$(dirname "$0")/.."
# The whole workspace, as everywhere, so no dependency is built twice with other features.
cargo build --release --workspace --bins
target="${CARGO_TARGET_DIR:-target}"
out="$target/release-files"
rm -rf "$out" && mkdir -p "$out"
python3 - "$target/release/sample-app" "$out" <<'PY'
import os, sys, zipfile
binary, out = sys.argv[1], sys.argv[2]

def add(z, path, name, mode):
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as f:
        z.writestr(info, f.read())

def add_tree(z, root):
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            path = os.path.join(dirpath, f)
            add(z, path, os.path.relpath(path, root), 0o755 if f.endswith(".sh") else 0o644)

for build in range(1, 5):
    with zipfile.ZipFile(f"{out}/app_build{build}.zip", "w") as z:
        add_tree(z, "appbuilds/bundle")
        add(z, binary, "sample-app", 0o755)
        info = zipfile.ZipInfo("build.env")
        info.external_attr = 0o644 << 16
        z.writestr(info, f"BUILD_NUMBER={build}\n")
with zipfile.ZipFile(f"{out}/tests.zip", "w") as z:
    add_tree(z, "appbuilds/loadtest")
PY
cp monspec/monspec.json "$out/monspec.json"
ls -l "$out"
