#!/usr/bin/env bash
# Installs DuckDB (the interop test and the analysis benchmark compare against it), psycopg
# (the Postgres endpoint's tests connect with it) and moto's S3 server (the object-store lake
# tests run it on loopback, as `python -m moto.server`) in a venv of the project's cache, once,
# and prints that venv's python.
set -euo pipefail
VENV=${FAILSCOPE_CACHE_DIR:-$HOME/.cache/failscope}/venv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import duckdb, psycopg, moto.server' 2>/dev/null; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet 'duckdb==1.5.*' 'psycopg[binary]==3.2.*' 'moto[server]==5.2.*' >&2
fi
echo "$VENV/bin/python"
