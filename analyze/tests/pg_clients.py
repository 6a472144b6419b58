"""What a Python program sees of failscope's Postgres endpoint, through psycopg (libpq).

Called by analyze/tests/pg.rs as `python pg_clients.py CHECK PORT PASSWORD [ARGS]`; prints one
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


CHECKS = {"window": window, "refusals": refusals, "login": login, "timeout": timeout}

if __name__ == "__main__":
    check, port, password, *args = sys.argv[1:]
    print(json.dumps(CHECKS[check](int(port), password, *args)))
