#!/usr/bin/env bash
# Runs every check CI runs: house rules, formatting, lints, a short fuzzing run, all tests,
# schemathesis against the OpenAPI contract, and the package check (the release build served by
# an unprivileged user, as the Dockerfile runs it). Installs what the tests need beyond the Rust
# toolchain, into a cache outside the clone: the S3/STS emulator moto, pyarrow, duckdb,
# openapi-spec-validator and schemathesis (PyPI); the Azure Blob emulator Azurite and the OpenID
# provider oidc-provider (npm); Debian's chromium and chromium-driver (web UI and sign-in tests)
# and rsyslog (forwarding tests); and cargo-fuzz (crates.io). Tests start vigil, the emulators
# and receivers themselves, on loopback ports, and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${VIGIL_TEST_TOOLS_DIR:-$HOME/.cache/vigil-test-tools}"
mkdir -p "$tools"
if [ ! -x "$tools/venv/bin/moto_server" ]; then
    echo "installing moto (S3 and STS emulator) into $tools/venv" >&2
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi
# The Parquet export test reads the lake back with pyarrow and DuckDB's Python package.
if ! "$tools/venv/bin/python" -c 'import pyarrow, duckdb' 2>/dev/null; then
    echo "installing pyarrow and duckdb (to read Parquet exports back) into $tools/venv" >&2
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'pyarrow>=15' 'duckdb>=1'
fi
# The OpenAPI tests validate the contract with openapi-spec-validator and probe the running
# service with schemathesis.
if ! { "$tools/venv/bin/python" -c 'import openapi_spec_validator' 2>/dev/null && [ -x "$tools/venv/bin/st" ]; }; then
    echo "installing openapi-spec-validator and schemathesis (OpenAPI checks) into $tools/venv" >&2
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator>=0.7' 'schemathesis>=4,<5'
fi
if [ ! -x "$tools/azurite/node_modules/.bin/azurite-blob" ]; then
    echo "installing Azurite (Azure Blob emulator) into $tools/azurite" >&2
    mkdir -p "$tools/azurite"
    (cd "$tools/azurite" && npm install --silent --no-audit --no-fund 'azurite@3' >/dev/null)
fi
# The sign-in tests run a real OpenID provider: npm's oidc-provider, a certified implementation.
if [ ! -f "$tools/oidc-provider/node_modules/oidc-provider/lib/index.js" ]; then
    echo "installing oidc-provider (OpenID provider for the sign-in tests) into $tools/oidc-provider" >&2
    mkdir -p "$tools/oidc-provider"
    (cd "$tools/oidc-provider" && npm install --silent --no-audit --no-fund 'oidc-provider@9' >/dev/null)
fi
# Installs Debian packages (as root, or through sudo), updating the package lists only if needed.
apt_install() {
    local as_root=""
    if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $as_root apt-get install -y --no-install-recommends "$@" >/dev/null ||
        { $as_root apt-get update -qq && $as_root apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
# The web UI tests drive Debian's Chromium through ChromeDriver.
if [ -z "${VIGIL_TEST_CHROMEDRIVER:-}" ] && { [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; }; then
    echo "installing Debian's chromium and chromium-driver (for the web UI tests)" >&2
    apt_install chromium chromium-driver
fi
# The forwarding tests send to Debian's rsyslogd, over TCP and over TLS (its gtls driver).
if [ -z "${VIGIL_TEST_RSYSLOGD:-}" ] &&
    ! { [ -x /usr/sbin/rsyslogd ] && [ -n "$(find /usr/lib -name lmnsd_gtls.so -print -quit 2>/dev/null)" ]; }; then
    echo "installing Debian's rsyslog and rsyslog-gnutls (syslog receiver for the forwarding tests)" >&2
    apt_install rsyslog rsyslog-gnutls
fi
export VIGIL_TEST_RSYSLOGD="${VIGIL_TEST_RSYSLOGD:-/usr/sbin/rsyslogd}"
export VIGIL_TEST_MOTO_SERVER="$tools/venv/bin/moto_server"
export VIGIL_TEST_AZURITE_BLOB="$tools/azurite/node_modules/.bin/azurite-blob"
export VIGIL_TEST_PYTHON="$tools/venv/bin/python"
export VIGIL_TEST_OIDC_PROVIDER="$tools/oidc-provider/node_modules/oidc-provider"

# House rule: every Rust file opens with a `//!` line saying what it holds.
missing=$(find crates fuzz/fuzz_targets -name '*.rs' -print0 | xargs -0 -n1 sh -c 'head -n1 "$0" | grep -q "^//!" || echo "$0"')
if [ -n "$missing" ]; then
    echo "these files do not open with a //! line:" >&2
    echo "$missing" >&2
    exit 1
fi

cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The parsers of untrusted input under libFuzzer, briefly (a longer run: bash scripts/fuzz.sh 600).
bash scripts/fuzz.sh "${VIGIL_FUZZ_SECONDS:-10}"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
# The OpenAPI contract against the running service, by schemathesis.
bash scripts/schemathesis.sh
# What the Dockerfile's stages run: the release build, served by an unprivileged user.
bash scripts/check_package.sh
