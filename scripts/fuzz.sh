#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets (libFuzzer through cargo-fuzz) for a bounded time,
# starting from the saved corpus in fuzz/corpus/<target>. Usage: bash scripts/fuzz.sh [SECONDS]
# (per target; 10 by default, which is what scripts/test.sh runs). Installs cargo-fuzz from
# crates.io on first use. A crash fails the run and leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-10}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (crates.io)" >&2
    cargo install cargo-fuzz --locked --quiet
fi
# cargo-fuzz passes flags that only a nightly compiler accepts; the machine's one stable toolchain
# accepts them with RUSTC_BOOTSTRAP. The targets are safe Rust: no sanitizer is needed to find
# panics and broken invariants, and the build is much faster without one.
export RUSTC_BOOTSTRAP=1
target_dir="${VIGIL_FUZZ_TARGET_DIR:-$HOME/.cache/vigil-fuzz-target}"
for target in ingest legacy_record trino search_params; do
    # New inputs libFuzzer finds go to a scratch directory; the saved corpus stays as committed.
    found=$(mktemp -d)
    echo "fuzzing $target for ${seconds}s" >&2
    log="$found.log"
    status=0
    cargo fuzz run --fuzz-dir fuzz --sanitizer none --target-dir "$target_dir" "$target" \
        "$found" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' "$log" >&2 || true
    rm -rf "$found"
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        rm -f "$log"
        echo "fuzz target $target failed (exit $status); its input is in fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
    rm -f "$log"
done
echo "fuzzing: 4 targets ran ${seconds}s each without a failure" >&2
