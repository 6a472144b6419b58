#!/usr/bin/env bash
# The whole test suite, from a fresh machine with only the Rust toolchain: installs the test
# broker (cached after the first run) and the Python packages the interop tests use, checks
# formatting, lints and docs, starts one broker for the run, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${FAILSCOPE_CACHE_DIR:-$HOME/.cache/failscope}
export FAILSCOPE_CACHE_DIR=$CACHE_DIR

scripts/broker.sh install
# Tests that must stop and restart a broker of their own (spool, crash tests) start this binary.
FAILSCOPE_TANSU=$(scripts/broker.sh path)
export FAILSCOPE_TANSU

# The connect capture's tracer backend and its end-to-end test run strace, curl and python3;
# the Postgres endpoint's tests connect with Debian's psql.
if ! command -v strace >/dev/null || ! command -v curl >/dev/null || ! command -v psql >/dev/null; then
    apt-get update -qq && apt-get install -y -qq strace curl postgresql-client >/dev/null
fi
# The HTML report's browser test (tests/report_browser.rs) opens it in headless Chromium.
if ! command -v chromium >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

# DuckDB reads the lake in the interop test; it lives in a project venv, not the system.
FAILSCOPE_TEST_PYTHON=$(scripts/duckdb-venv.sh)
export FAILSCOPE_TEST_PYTHON

# One integration-test binary per crate, so that the suite links DataFusion a few times, not
# once per test file: a crate's test files are modules of its tests/it/main.rs (the end-to-end
# tests, of tests/main.rs). A file cargo would build as a binary of its own, or one no harness
# declares (it would never run), stops the run here.
check_test_layout() {
    local status=0 file harness
    for file in */tests/*.rs; do
        [[ -e $file ]] || continue
        echo "$file: a test binary of its own; make it a module of $(dirname "$file")/it/main.rs" >&2
        status=1
    done
    for file in tests/*.rs */tests/it/*.rs; do
        [[ -e $file && $(basename "$file") != main.rs ]] || continue
        harness=$(dirname "$file")/main.rs
        if ! grep -qx "mod $(basename "$file" .rs);" "$harness"; then
            echo "$file: not declared in $harness (add \`mod $(basename "$file" .rs);\`)" >&2
            status=1
        fi
    done
    return $status
}
check_test_layout

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/failscope-test.XXXXXX")
trap 'scripts/broker.sh stop "$RUN_DIR/broker"; rm -rf "$RUN_DIR"' EXIT
FAILSCOPE_TEST_BROKERS=$(scripts/broker.sh start "$RUN_DIR/broker")
export FAILSCOPE_TEST_BROKERS
echo "test broker at $FAILSCOPE_TEST_BROKERS" >&2

# The connect capture's preload library, built as shipped (target/capture/); tests run it.
cargo build --profile capture -p failscope-capture --locked
cargo test --workspace --locked "$@"
