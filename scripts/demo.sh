#!/usr/bin/env bash
# The main job on an embedded default, from a fresh machine with only the Rust toolchain:
# builds failscope, starts a local broker and the ingest, replays the April 2022 incident
# with the fleet simulator, lands it in a Parquet lake, and prints the diagnosis.
#
#   scripts/demo.sh [SCENARIO]      (default april-2022; see `failscope simulate --help`)
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIO=${1:-april-2022}
WORK=${FAILSCOPE_DEMO_DIR:-$PWD/.failscope/demo}
rm -rf "$WORK"
mkdir -p "$WORK"

scripts/broker.sh install
cargo build --release --locked -p failscope
FAILSCOPE=$PWD/target/release/failscope

BROKERS=$(scripts/broker.sh start "$WORK/broker")
INGEST_PID=
cleanup() {
    [[ -n $INGEST_PID ]] && kill "$INGEST_PID" 2>/dev/null || true
    scripts/broker.sh stop "$WORK/broker"
}
trap cleanup EXIT
echo "broker at $BROKERS; working in $WORK"

"$FAILSCOPE" topics create --brokers "$BROKERS"
HTTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$FAILSCOPE" ingest --brokers "$BROKERS" --lake "$WORK/lake" --max-age 2s \
    --http-addr "127.0.0.1:$HTTP_PORT" 2>"$WORK/ingest.log" &
INGEST_PID=$!

"$FAILSCOPE" simulate --scenario "$SCENARIO" --out "$WORK/events.jsonl"
N_EVENTS=$(grep -c . "$WORK/events.jsonl")
# Wait until the ingest is up, then produce the fleet's events.
until curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null; do sleep 0.2; done
"$FAILSCOPE" emit --brokers "$BROKERS" "$WORK/events.jsonl"

consumed() {
    curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
        awk '/^failscope_ingest_messages_consumed_total/ { n += $2 } END { print n + 0 }'
}
until [[ $(consumed) -ge $N_EVENTS ]]; do sleep 0.5; done
kill -TERM "$INGEST_PID"
wait "$INGEST_PID"
INGEST_PID=
echo "ingested $N_EVENTS events into $WORK/lake"

LAKE_ARGS=(--lake "$WORK/lake")
echo
echo "== region-hours where most failures were the platform's (infra_rate >= 0.5, >= 5 failed jobs) =="
"$FAILSCOPE" sql "${LAKE_ARGS[@]}" -c "
    SELECT region, hour_start, jobs, failed, infra, \"user\", unknown, round(infra_rate, 2) AS infra_rate
    FROM failures_by_region_hour WHERE failed >= 5 AND infra_rate >= 0.5 ORDER BY hour_start, region"
echo
echo "== the three top causes per region and day =="
"$FAILSCOPE" sql "${LAKE_ARGS[@]}" -c "
    SELECT region, date, rank_in_day, attribution, cause, jobs, round(share, 2) AS share
    FROM top_causes_by_region_day WHERE rank_in_day <= 3 ORDER BY region, date, rank_in_day"
echo
echo "Explore further: $FAILSCOPE sql --lake $WORK/lake   (\\d lists tables and views)"
