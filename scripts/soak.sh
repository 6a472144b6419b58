#!/usr/bin/env bash
# The ingest's soak tests at full size, outside CI: the SIGKILL crash test and the dead-letter
# test of tests/ingest_e2e.rs (module `ingest_e2e` of the `e2e` test binary) with
# FAILSCOPE_SOAK_EVENTS events (default 200,000, the issue's size), one at a time, against a
# broker of their own, with an optimized build.
#
#   scripts/soak.sh                      both tests, 200,000 events each
#   FAILSCOPE_SOAK_EVENTS=60000 scripts/soak.sh sigkill
#
# The broker's SQLite files go to /dev/shm when it exists: the soak exercises the ingest, and on
# a small machine the broker's own disk writes would otherwise compete with the lake's fsyncs.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${FAILSCOPE_CACHE_DIR:-$HOME/.cache/failscope}
export FAILSCOPE_CACHE_DIR=$CACHE_DIR
export FAILSCOPE_SOAK_EVENTS=${FAILSCOPE_SOAK_EVENTS:-200000}
FAILSCOPE_TANSU=$(scripts/broker.sh install && scripts/broker.sh path)
export FAILSCOPE_TANSU
FAILSCOPE_TEST_PYTHON=$(scripts/duckdb-venv.sh)
export FAILSCOPE_TEST_PYTHON

cargo test --release --locked -p failscope --test e2e --no-run

BROKER_PARENT=/dev/shm
[[ -d $BROKER_PARENT && -w $BROKER_PARENT ]] || BROKER_PARENT=${TMPDIR:-/tmp}
for test in ${1:-sigkill malformed}; do
    case $test in
        sigkill) name=sigkill_at_random_instants_loses_and_duplicates_nothing ;;
        malformed) name=malformed_messages_go_to_the_dead_letter_topic_with_their_reason ;;
        *) echo "unknown soak test: $test (sigkill or malformed)" >&2; exit 2 ;;
    esac
    RUN_DIR=$(mktemp -d "$BROKER_PARENT/failscope-soak.XXXXXX")
    trap 'scripts/broker.sh stop "$RUN_DIR/broker"; rm -rf "$RUN_DIR"' EXIT
    FAILSCOPE_TEST_BROKERS=$(scripts/broker.sh start "$RUN_DIR/broker")
    export FAILSCOPE_TEST_BROKERS
    echo "soak: $test with $FAILSCOPE_SOAK_EVENTS events, broker at $FAILSCOPE_TEST_BROKERS" >&2
    started=$(date +%s)
    cargo test --release --locked -p failscope --test e2e -- --exact --nocapture "ingest_e2e::$name"
    echo "soak: $test passed in $(($(date +%s) - started)) s" >&2
    scripts/broker.sh stop "$RUN_DIR/broker"
    rm -rf "$RUN_DIR"
    trap - EXIT
done
