#!/usr/bin/env bash
# Build every function in functions/ with the `lambda-zip` profile (size-optimised, stripped,
# fat LTO, one codegen unit: small zips, fast cold starts) and write
# target/lambda/<function>.zip, each holding an executable named `bootstrap` (custom runtime
# provided.al2023), and print each zip's size against the 5 MB target.
# UNBREAKABLE_PACKAGE_PROFILE picks another profile (the test uses dev, to reuse the tree
# `cargo test` built: then the whole workspace is built so cargo unifies features as it does
# for the tests, and no dependency is built twice).
# UNBREAKABLE_LAMBDA_DIR writes the zips elsewhere (the stack test packages into a directory
# of its own, so it never races the packaging test over target/lambda).
# Fails if a binary needs a glibc symbol newer than 2.34 (Amazon Linux 2023).
set -euo pipefail
cd "$(dirname "$0")/.."

# UNBREAKABLE_MAX_GLIBC lowers the ceiling (the test uses it to see the check fail).
MAX_GLIBC="${UNBREAKABLE_MAX_GLIBC:-2.34}"
functions=()
for dir in functions/*/; do
    [ -f "$dir/Cargo.toml" ] && functions+=("$(basename "$dir")")
done
profile="${UNBREAKABLE_PACKAGE_PROFILE:-lambda-zip}"
if [ "$profile" = dev ]; then
    cargo build --profile "$profile" --workspace --bins
else
    # A profile of its own shares nothing with the test build: build only the functions.
    packages=()
    for f in "${functions[@]}"; do packages+=(-p "$f"); done
    cargo build --profile "$profile" "${packages[@]}"
fi

target="${CARGO_TARGET_DIR:-target}"
profile_dir="$target/$profile"
[ "$profile" = dev ] && profile_dir="$target/debug"
out="${UNBREAKABLE_LAMBDA_DIR:-$target/lambda}"
mkdir -p "$out"
status=0
for f in "${functions[@]}"; do
    binary="$profile_dir/$f"
    newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
    if [ -n "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]; then
        echo "error: $f needs GLIBC_$newest, newer than glibc $MAX_GLIBC (Amazon Linux 2023, provided.al2023): Lambda would fail to start it." >&2
        echo "       Build on an older distribution, or with cargo-lambda/zig (x86_64-unknown-linux-gnu.2.34), or for musl." >&2
        status=1
        continue
    fi
    python3 - "$binary" "$out/$f.zip" <<'PY'
import sys, zipfile
binary, out = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap")
info.external_attr = 0o755 << 16  # executable
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read())
PY
    zipped=$(stat -c %s "$out/$f.zip")
    verdict=$([ "$zipped" -le 5000000 ] && echo met || echo MISSED)
    printf '%-40s %6s KiB zipped (target ≤ 5 MB: %s)  %6s KiB binary  (glibc ≤ %s)\n' "$out/$f.zip" "$(( zipped / 1024 ))" "$verdict" "$(( $(stat -c %s "$binary") / 1024 ))" "${newest:-none}"
done
exit $status
