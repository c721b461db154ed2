"""The SQL console's guard (R-AN-3): a read-only console over the analytics tables. Anything but a single
SELECT (DDL, DML, several statements, table functions that read files or URLs, tables that are not
ours) is refused with 422 `query_refused` and a reason; what passes comes back normalised (no comments)
with a LIMIT of at most max_rows + 1 (the extra row tells the query layer the answer was truncated)."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from analytics import console
from shared.errors import Unprocessable

REFUSED = {
    # DDL
    "create": "CREATE TABLE x AS SELECT * FROM transactions",
    "create_view": "CREATE VIEW v AS SELECT 1",
    "drop": "DROP TABLE transactions",
    "alter": "ALTER TABLE transactions ADD COLUMN x INT",
    # DML
    "insert": "INSERT INTO transactions SELECT * FROM transactions",
    "update": "UPDATE transactions SET amount = 0",
    "delete": "DELETE FROM transactions",
    "merge": "MERGE INTO tasks USING tasks AS s ON 1 = 1 WHEN MATCHED THEN DELETE",
    "delete_in_cte": "WITH gone AS (DELETE FROM transactions RETURNING *) SELECT * FROM gone",
    "select_into": "SELECT * INTO stolen FROM transactions",
    # several statements, and comment tricks around them
    "two_statements": "SELECT 1; SELECT 2",
    "select_then_drop": "SELECT 1; DROP TABLE transactions",
    "line_comment_then_drop": "SELECT 1; -- \nDROP TABLE transactions",
    "block_comment_then_drop": "SELECT 1 /* */ ; DROP TABLE transactions",
    "comment_hides_nothing": "/* just a note */ DROP TABLE transactions",
    "comment_before_delete": "-- SELECT 1\nDELETE FROM transactions",
    # table functions that read files or URLs, and friends
    "read_csv": "SELECT * FROM read_csv('http://evil.example/x.csv')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('/etc/passwd')",
    "read_json": "SELECT * FROM read_json('http://evil.example/x.json')",
    "read_parquet": "SELECT * FROM read_parquet('s3://someone-elses-bucket/x.parquet')",
    "read_parquet_in_subquery": "SELECT (SELECT count(*) FROM read_parquet('http://x/y.parquet')) AS n",
    "read_text_scalar": "SELECT read_text('/etc/passwd')",
    "parquet_scan": "SELECT * FROM parquet_scan('x.parquet')",
    "glob": "SELECT * FROM glob('/*')",
    "query_function": "SELECT * FROM query('DROP TABLE transactions')",
    "table_function": "SELECT * FROM TABLE(sequence(1, 3))",
    "duckdb_tables": "SELECT * FROM duckdb_tables()",
    "duckdb_settings": "SELECT * FROM duckdb_settings()",
    "getenv": "SELECT getenv('AWS_SECRET_ACCESS_KEY')",
    "current_setting": "SELECT current_setting('s3_secret_access_key')",
    "file_path_table": "SELECT * FROM 'secrets.csv'",
    "quoted_file_path_table": 'SELECT * FROM "http://evil.example/x.parquet"',
    # engine and session statements
    "copy": "COPY transactions TO 'out.csv'",
    "attach": "ATTACH 'other.duckdb' AS other",
    "pragma": "PRAGMA database_list",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set": "SET s3_region = 'us-east-1'",
    "call": "CALL pragma_version()",
    "use": "USE other",
    "explain": "EXPLAIN SELECT 1",
    "show": "SHOW TABLES",
    "describe": "DESCRIBE transactions",
    "export": "EXPORT DATABASE 'out'",
    # tables that are not ours
    "information_schema": "SELECT * FROM information_schema.tables",
    "qualified_ours": "SELECT * FROM ates.transactions",
    "catalog_qualified": "SELECT * FROM awsdatacatalog.ates.transactions",
    "unknown_table": "SELECT * FROM accounts",
    "cte_out_of_scope": "SELECT * FROM (WITH x AS (SELECT 1 AS a) SELECT * FROM x) AS q, x",
    "odd_cte_name": 'WITH "x.csv" AS (SELECT 1) SELECT * FROM "x.csv"',
    # not a SELECT at all, or not one we can bound
    "values": "VALUES (1)",
    "empty": "   ",
    "only_comment": "-- nothing here",
    "not_sql": "this is not sql",
    "limit_expression": "SELECT * FROM transactions LIMIT 1 + 1",
    "lock": "SELECT * FROM transactions FOR UPDATE",
    "nested_too_deeply": "SELECT " + "(" * 4000 + "1" + ")" * 4000,
}


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_r_an_3_anything_but_a_single_select_over_our_tables_is_refused(sql):
    with pytest.raises(Unprocessable) as raised:
        console.guard(sql, 100)
    assert (raised.value.status, raised.value.code) == (422, "query_refused")
    assert raised.value.message.startswith("query refused: ")


def test_refusals_say_why():
    def why(sql: str) -> str:
        with pytest.raises(Unprocessable) as raised:
            console.guard(sql, 100)
        return raised.value.message

    assert "exactly one statement" in why("SELECT 1; -- \nDROP TABLE transactions")
    assert "DROP" in why("DROP TABLE transactions")
    assert "table functions" in why("SELECT * FROM read_csv('http://x/y.csv')")
    assert "getenv" in why("SELECT getenv('HOME')")
    assert "information_schema.tables is not an analytics table" in why("SELECT * FROM information_schema.tables")
    assert "transactions, tasks, closed_days" in why("SELECT * FROM accounts")
    assert "INTO" in why("SELECT * INTO t FROM transactions")
    assert "10000 characters" in why("SELECT 1" + " " * 10_000)


ALLOWED = {
    "plain": "SELECT * FROM transactions",
    "trailing_semicolon": "SELECT * FROM transactions;",
    "trailing_comment": "SELECT * FROM transactions; -- the lot",
    "comments_inside": "SELECT /* what */ kind, -- the kind\n count(*) FROM transactions GROUP BY kind",
    "cte": "WITH rewards AS (SELECT * FROM transactions WHERE kind = 'reward') SELECT task_id FROM rewards",
    "chained_ctes": "WITH a AS (SELECT * FROM transactions), b AS (SELECT * FROM a) SELECT count(*) FROM b",
    "join": "SELECT t.title, x.amount FROM transactions AS x LEFT JOIN tasks AS t ON t.task_id = x.task_id",
    "union": "SELECT business_day FROM transactions UNION SELECT business_day FROM closed_days",
    "union_all_ordered": "SELECT 1 AS n UNION ALL SELECT 2 ORDER BY n DESC",
    "subquery": "SELECT * FROM (SELECT kind, amount FROM transactions) AS s WHERE amount > 0",
    "scalar_subquery": "SELECT (SELECT max(amount) FROM transactions) AS top",
    "in_subquery": "SELECT * FROM tasks WHERE task_id IN (SELECT task_id FROM transactions)",
    "parenthesised": "(SELECT 1)",
    "unnest": "SELECT d FROM UNNEST(sequence(DATE '2026-11-01', DATE '2026-11-03', INTERVAL '1' DAY)) AS s(d)",
    "values_in_from": "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s)",
    "functions": "SELECT date_trunc('week', business_day) AS w, approx_percentile(amount, 0.5) FROM transactions "
    "GROUP BY 1",
    "window": "SELECT account_id, row_number() OVER (PARTITION BY account_id ORDER BY recorded_at) FROM transactions",
    "upper_case_table": "SELECT * FROM TRANSACTIONS",
    "upper_case_cte": "WITH Top AS (SELECT 1 AS n) SELECT * FROM top",
    "recursive": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
}


@pytest.mark.parametrize("sql", ALLOWED.values(), ids=ALLOWED.keys())
def test_single_selects_over_our_tables_pass_normalised(sql):
    guarded = console.guard(sql, 100)
    assert guarded.limit == 101
    assert guarded.sql.endswith("LIMIT 101")
    assert "--" not in guarded.sql and "/*" not in guarded.sql
    assert len(sqlglot.parse(guarded.sql, read="athena")) == 1


def test_what_passes_runs_on_duckdb_over_the_logical_tables():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE transactions (transaction_id VARCHAR, account_id VARCHAR, kind VARCHAR, amount BIGINT, "
        "balance_after BIGINT, task_id VARCHAR, reason VARCHAR, business_day DATE, recorded_at TIMESTAMP)"
    )
    con.execute("CREATE TABLE tasks (task_id VARCHAR, title VARCHAR, jira_id VARCHAR, created_by VARCHAR, "
                "created_at TIMESTAMP)")  # fmt: skip
    con.execute("CREATE TABLE closed_days (business_day DATE, popugs_paid BIGINT, total_paid BIGINT, "
                "popugs_in_red BIGINT)")  # fmt: skip
    for sql in ALLOWED.values():
        translated = sqlglot.transpile(console.guard(sql, 100).sql, read="athena", write="duckdb")
        assert len(translated) == 1
        con.execute(translated[0]).fetchall()


def test_a_comment_cannot_smuggle_sql_into_what_runs():
    guarded = console.guard("SELECT 1 AS n -- */ DROP TABLE transactions\n", 10)
    assert guarded.sql == "SELECT 1 AS n LIMIT 11"


def test_limit_is_added_or_capped_never_raised():
    assert console.guard("SELECT * FROM transactions", 1000).sql == "SELECT * FROM transactions LIMIT 1001"
    assert console.guard("SELECT * FROM transactions LIMIT 5000", 1000).limit == 1001
    assert console.guard("SELECT * FROM transactions LIMIT 7", 1000).sql == "SELECT * FROM transactions LIMIT 7"
    assert console.guard("SELECT * FROM transactions LIMIT ALL", 10).limit == 11
    assert console.guard("SELECT * FROM transactions OFFSET 5 LIMIT 50", 10).sql.endswith("LIMIT 11")
    assert console.guard("SELECT 1 FETCH FIRST 3 ROWS ONLY", 10).limit == 3
    union = console.guard("SELECT 1 UNION ALL SELECT 2 LIMIT 500", 10)
    assert union.sql == "SELECT 1 UNION ALL SELECT 2 LIMIT 11"
    inner = console.guard("SELECT * FROM (SELECT * FROM transactions LIMIT 5000) AS s", 10)
    assert inner.sql == "SELECT * FROM (SELECT * FROM transactions LIMIT 5000) AS s LIMIT 11"


def test_table_names_are_normalised_to_the_logical_names():
    assert console.guard('SELECT * FROM "Transactions" AS t', 1).sql == "SELECT * FROM transactions AS t LIMIT 2"
