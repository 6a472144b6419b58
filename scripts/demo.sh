#!/usr/bin/env bash
# The main job on an embedded default, from a fresh machine with only the Rust toolchain:
# builds failscope and runs `failscope demo`, which hosts an in-memory Kafka-protocol broker,
# replays the April 2022 incident with the fleet simulator through the ingest into a Parquet
# lake, prints the health timeline and the diagnosis, and serves the API until Ctrl-C.
# No broker to install: the embedded one keeps nothing after exit.
#
# The demo is built unoptimized (cargo's dev profile, as the tests are): on a 2-core machine it
# compiles in about a third of the time of a release build and still runs the scenario in about
# a minute (README, "Time to a first diagnosis"). `FAILSCOPE_DEMO_RELEASE=1` builds and runs
# the release binary instead, which is what to deploy and to benchmark.
#
#   scripts/demo.sh [FLAGS]     e.g. --once, --scenario dns-outage (see `failscope demo --help`)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${FAILSCOPE_DEMO_RELEASE:-0} == 1 ]]; then
    cargo build --release --locked -p failscope
    binary=target/release/failscope
else
    cargo build --locked -p failscope
    binary=target/debug/failscope
fi
exec "$binary" demo --lake "${FAILSCOPE_DEMO_LAKE:-$PWD/.failscope/demo/lake}" "$@"
