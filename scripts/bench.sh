#!/usr/bin/env bash
# The benchmarks the README reports, on this machine: ingest (a) encode throughput and (c)
# Parquet/JSON size, ingest (b) drain ratio and (d) peak memory against a real broker started
# here, the analysis against DuckDB, the region-health replay and live tick, fifty HTTP and
# Postgres clients at once against `failscope serve`, and what connect capture costs a job.
# Sizes come from the environment (see each bench's header); `scripts/bench.sh ingest`,
# `analyze`, `health`, `clients` or `capture` runs one group; arguments after it go to the
# benchmark (`scripts/bench.sh clients --full`).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${FAILSCOPE_CACHE_DIR:-$HOME/.cache/failscope}
export FAILSCOPE_CACHE_DIR=$CACHE_DIR
which=${1:-all}
shift || true

if [[ $which == all || $which == ingest ]]; then
    cargo bench --locked -p failscope-ingest --bench encode
    scripts/broker.sh install
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/failscope-bench.XXXXXX")
    trap 'scripts/broker.sh stop "$RUN_DIR/broker"; rm -rf "$RUN_DIR"' EXIT
    FAILSCOPE_BENCH_BROKERS=$(scripts/broker.sh start "$RUN_DIR/broker")
    export FAILSCOPE_BENCH_BROKERS
    cargo bench --locked -p failscope --bench ingest_drain
fi
if [[ $which == all || $which == analyze ]]; then
    PYTHON=$(scripts/duckdb-venv.sh)
    PATH=$(dirname "$PYTHON"):$PATH cargo bench --locked -p failscope-analyze --bench analyze -- "$@"
fi
if [[ $which == all || $which == health ]]; then
    cargo bench --locked -p failscope-analyze --bench health -- "$@"
fi
if [[ $which == all || $which == clients ]]; then
    cargo bench --locked -p failscope --bench clients -- "$@"
fi
if [[ $which == all || $which == capture ]]; then
    # The bench runs the preload library as shipped (target/capture/); cargo bench alone does
    # not build it.
    cargo build --locked --profile capture -p failscope-capture
    cargo bench --locked -p failscope-capture --bench capture_overhead
fi
