#!/usr/bin/env bash
# Runs every check CI runs: house rules, formatting, lints and all tests. Installs and starts what
# the tests need (today: nothing beyond the Rust toolchain; tests start vigil themselves).
set -euo pipefail
cd "$(dirname "$0")/.."

# House rule: every Rust file opens with a `//!` line saying what it holds.
missing=$(find crates -name '*.rs' -print0 | xargs -0 -n1 sh -c 'head -n1 "$0" | grep -q "^//!" || echo "$0"')
if [ -n "$missing" ]; then
    echo "these files do not open with a //! line:" >&2
    echo "$missing" >&2
    exit 1
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
