#!/usr/bin/env bash
# The main job on an embedded default, from a fresh machine with only the Rust toolchain:
# builds failscope and runs `failscope demo`, which hosts an in-memory Kafka-protocol broker,
# replays the April 2022 incident with the fleet simulator through the ingest into a Parquet
# lake, prints the health timeline and the diagnosis, and serves the API until Ctrl-C.
# No broker to install: the embedded one keeps nothing after exit.
#
#   scripts/demo.sh [FLAGS]     e.g. --once, --scenario dns-outage (see `failscope demo --help`)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p failscope
exec target/release/failscope demo --lake "${FAILSCOPE_DEMO_LAKE:-$PWD/.failscope/demo/lake}" "$@"
