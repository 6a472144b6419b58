"""What a Python program sees of failscope's Postgres endpoint, through psycopg (libpq).

Called by analyze/tests/it/pg.rs as `python pg_clients.py CHECK PORT PASSWORD [ARGS]`; prints one
JSON object for the Rust test to assert on. The checks only report, they never decide.
"""

import datetime
import json
import sys

import psycopg


def connect(port, password):
    return psycopg.connect(
        host="127.0.0.1", port=port, user="engineer", dbname="failscope", password=password,
        sslmode="disable", connect_timeout=10, autocommit=True,
    )


def window(port, password, since, until):
    """A query with two timestamp parameters, prepared and bound (extended protocol)."""
    since = datetime.datetime.fromisoformat(since)
    until = datetime.datetime.fromisoformat(until)
    with connect(port, password) as conn:
        rows = conn.execute(
            "SELECT job_id, cause FROM job_classifications"
            " WHERE finished_at >= %s AND finished_at < %s ORDER BY job_id",
            (since, until),
            prepare=True,
        ).fetchall()
    return {"rows": [list(r) for r in rows]}


def refusals(port, password, *statements):
    """Each statement's SQLSTATE, or null if it was not refused; then whether the connection
    still answers."""
    out = {}
    with connect(port, password) as conn:
        for sql in statements:
            try:
                conn.execute(sql)
                out[sql] = None
            except psycopg.Error as e:
                out[sql] = e.sqlstate
        alive = conn.execute("SELECT 1").fetchone()[0]
    return {"sqlstates": out, "alive": alive}


def login(port, password):
    try:
        with connect(port, password) as conn:
            conn.execute("SELECT 1")
        return {"connected": True}
    except psycopg.OperationalError as e:
        return {"connected": False, "error": str(e)}


def timeout(port, password, heavy):
    """A statement past the server's timeout, then another on the same connection."""
    with connect(port, password) as conn:
        try:
            conn.execute(heavy)
            state = None
        except psycopg.Error as e:
            state = e.sqlstate
        after = conn.execute("SELECT 41 + 1").fetchone()[0]
    return {"sqlstate": state, "after": after}


def mixed(port, password, http_port, n_clients, since, until):
    """`n_clients` at once, every other one over HTTP (`POST /v1/queries/classifications`) and
    the rest over Postgres (the same question in SQL): what failed, and the latencies."""
    import threading
    import time
    import urllib.request

    n_clients = int(n_clients)
    barrier = threading.Barrier(n_clients)
    results = [None] * n_clients

    def http(i):
        body = json.dumps({"since": since, "until": until}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_port}/v1/queries/classifications", data=body, method="POST",
            headers={"authorization": f"Bearer {password}", "accept": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["row_count"]

    def pg(i):
        with connect(port, password) as conn:
            rows = conn.execute(
                "SELECT job_id FROM job_classifications WHERE finished_at >= %s AND finished_at < %s",
                (datetime.datetime.fromisoformat(since), datetime.datetime.fromisoformat(until))).fetchall()
        return len(rows)

    def client(i):
        barrier.wait()
        started = time.monotonic()
        try:
            n = (http if i % 2 == 0 else pg)(i)
            results[i] = {"ok": True, "rows": n, "ms": (time.monotonic() - started) * 1000}
        except Exception as e:  # noqa: BLE001 - every failure is reported to the test
            results[i] = {"ok": False, "error": f"{type(e).__name__}: {e}"}

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"results": results}


CHECKS = {"window": window, "refusals": refusals, "login": login, "timeout": timeout, "mixed": mixed}

if __name__ == "__main__":
    check, port, password, *args = sys.argv[1:]
    print(json.dumps(CHECKS[check](int(port), password, *args)))
