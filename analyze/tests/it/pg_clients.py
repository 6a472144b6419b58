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
        # The named queries pick the day partitions of a window with a cast of its bounds,
        # where each bound stands alone.
        days = conn.execute(
            "SELECT count(*) FROM job_outcomes WHERE date BETWEEN CAST(%s AS DATE) AND CAST(%s AS DATE)",
            (since, until),
            prepare=True,
        ).fetchone()[0]
    return {"rows": [list(r) for r in rows], "jobs_of_the_days": days}


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


def dbeaver(port, password):
    """What DBeaver's PostgreSQL driver sends to connect and to browse a schema, each statement
    prepared and bound (extended protocol) as pgjdbc sends it: the settings it sets, the
    namespaces, the relations of the schema holding the lake, and one relation's columns.
    Reports which statements failed, the relations of that schema with their kind, and the
    columns of job_classifications."""
    out = {"errors": {}}

    def run(conn, sql, params=None):
        try:
            cursor = conn.execute(sql, params, prepare=True)
            return cursor.fetchall() if cursor.description else []
        except psycopg.Error as e:
            out["errors"][sql] = f"{e.sqlstate}: {e}"
            return None

    with connect(port, password) as conn:
        for sql in ("SET extra_float_digits = 3",
                    "SET application_name = 'PostgreSQL JDBC Driver'",
                    "SET application_name = 'DBeaver 25.1.5 - Main <failscope>'",
                    "SELECT current_schema(),session_user",
                    "SHOW search_path",
                    "SELECT version()",
                    "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='failscope'"):
            run(conn, sql)
        namespaces = run(conn, "SELECT n.oid,n.nspname,d.description FROM pg_catalog.pg_namespace n"
                               " LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0"
                               " AND d.classoid='pg_namespace'::regclass ORDER BY nspname") or []
        schema = current = None
        current_row = run(conn, "SELECT current_schema()")
        if current_row:
            current = current_row[0][0]
        for oid, name, _ in namespaces:
            if name == current:
                schema = oid
        out["schema"] = current
        relations = run(conn, "SELECT c.oid,c.relname,c.relkind,d.description,"
                              "pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,"
                              "  pg_catalog.pg_get_partkeydef(c.oid) as partition_key"
                              " FROM pg_catalog.pg_class c LEFT OUTER JOIN pg_catalog.pg_description d"
                              " ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass"
                              " WHERE c.relnamespace=%s AND c.relkind not in ('i','I','c')", (schema,)) or []
        out["relations"] = {name: kind for _, name, kind, *_ in relations}
        oid = next((o for o, name, *_ in relations if name == "job_classifications"), None)
        columns = run(conn, "SELECT c.relname,a.attname,a.attnum,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true)"
                            " as def_value,dsc.description FROM pg_catalog.pg_attribute a"
                            " INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)"
                            " LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)"
                            " LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)"
                            " WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=%s"
                            " ORDER BY a.attnum", (oid,)) or []
        out["columns"] = [name for _, name, *_ in columns]
        # A data editor's first page of a view.
        rows = run(conn, "SELECT * FROM job_classifications LIMIT 200")
        out["rows"] = None if rows is None else len(rows)
    return out


CHECKS = {"window": window, "refusals": refusals, "login": login, "timeout": timeout, "mixed": mixed,
          "dbeaver": dbeaver}

if __name__ == "__main__":
    check, port, password, *args = sys.argv[1:]
    print(json.dumps(CHECKS[check](int(port), password, *args)))
