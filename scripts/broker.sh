#!/usr/bin/env bash
# The project's Kafka-protocol broker for tests and local use: tansu, built once from
# crates.io and cached, run with SQLite storage on a free loopback port.
#
#   scripts/broker.sh install          build and cache the broker binary (first time ~12 min)
#   scripts/broker.sh start DIR        start a broker storing into DIR; prints 127.0.0.1:PORT
#   scripts/broker.sh stop DIR         stop the broker started in DIR
set -euo pipefail

TANSU_VERSION=0.6.0
CACHE_DIR=${FAILSCOPE_CACHE_DIR:-$HOME/.cache/failscope}
TANSU_ROOT=$CACHE_DIR/tansu-$TANSU_VERSION
TANSU=$TANSU_ROOT/bin/tansu

install_broker() {
    if [[ -x $TANSU ]]; then
        return
    fi
    echo "building tansu $TANSU_VERSION into $TANSU_ROOT (first time only, about 12 minutes)" >&2
    mkdir -p "$TANSU_ROOT"
    cargo install tansu --version "$TANSU_VERSION" --features libsql --locked --root "$TANSU_ROOT" >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_broker() {
    local dir=$1
    install_broker
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local port
    port=$(free_port)
    # tansu listens on IPv4 only: advertise 127.0.0.1, never localhost. It resolves the
    # SQLite path against its working directory, so it runs inside DIR.
    (cd "$dir" && RUST_LOG=${TANSU_LOG:-warn} exec "$TANSU" broker \
        --storage-engine "sqlite://tansu.db" \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        >"$dir/broker.log" 2>&1) &
    echo $! >"$dir/broker.pid"
    echo "127.0.0.1:$port" >"$dir/broker.addr"
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "127.0.0.1:$port"
            return
        fi
        if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
            echo "the broker exited at start; its log:" >&2
            cat "$dir/broker.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "the broker did not listen on 127.0.0.1:$port within 30 s" >&2
    return 1
}

stop_broker() {
    local dir=$1
    if [[ -f $dir/broker.pid ]]; then
        local pid
        pid=$(cat "$dir/broker.pid")
        kill "$pid" 2>/dev/null || true
        # tansu may take a while over SIGTERM (or ignore it while busy): give it 5 s.
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$dir/broker.pid"
    fi
}

case ${1:-} in
    install) install_broker ;;
    start) start_broker "${2:?usage: broker.sh start DIR}" ;;
    stop) stop_broker "${2:?usage: broker.sh stop DIR}" ;;
    path) echo "$TANSU" ;;
    *)
        echo "usage: $0 install | start DIR | stop DIR | path" >&2
        exit 2
        ;;
esac
