"""The SQL console guard's checks on the parsed tree, in sqlglot (the rules: `analytics.console`, which
imports this module with the first query it guards)."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from analytics import tables
from analytics.console import MAX_SQL_CHARS, Guarded, refuse

TABLES = tables.QUERYABLE  # the logical tables are the only names a console query may read
SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Statements (and clauses) that are not a read-only query, wherever they appear in the tree.
STATEMENTS: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DDL", "DML", "Command", "Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Copy",
        "Pragma", "Set", "Use", "Attach", "Detach", "Describe", "Show", "Transaction", "Commit", "Rollback",
        "Analyze", "Grant", "Revoke", "Into", "Lock", "Install", "Export", "LoadData", "Kill", "Refresh",
        "Cache", "Uncache", "Summarize", "Declare", "Execute", "TruncateTable",
    )
    if hasattr(exp, name)
)  # fmt: skip

# Functions that reach outside the tables (files, URLs, the catalog, settings, the environment) or run
# SQL of their own. Matched on the lowercase name, in either dialect.
DENIED_FUNCTIONS = re.compile(
    r"""^(
        read_.* | .*_scan | .*_metadata | .*_schema | glob | .*http.* | s3.* | .*file.* | .*parquet.* | .*csv.*
      | .*json_execute.* | query | query_table | sql_.* | getenv | current_setting | getvariable | set_variable | setvar
      | .*secret.* | .*credential.* | duckdb_.* | pragma.* | sqlite_.* | postgres_.* | mysql_.* | iceberg_.*
      | delta_.* | load.* | install.* | copy.* | attach.* | detach.* | export.* | import.* | call | set
      | checkpoint | force_checkpoint | enable_.* | disable_.* | truncate_.* | system | shell | exec.*
      | pg_.* | current_database | current_schema.* | current_catalog
      | table | information_schema.* | system_.* | icu_.* | which_.* | ml_.* | sagemaker_.* | invoke_.*
    )$""",
    re.VERBOSE,
)


def guard(sql: str, max_rows: int) -> Guarded:
    """`console.guard` without its RecursionError catch."""

    if not sql or not sql.strip():
        raise refuse("the query is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise refuse(f"a query has at most {MAX_SQL_CHARS} characters, this one {len(sql)}")
    try:
        statements = [
            s for s in sqlglot.parse(sql, read="athena") if s is not None and not isinstance(s, exp.Semicolon)
        ]
    except SqlglotError as error:
        raise refuse(f"it is not SQL this console can read ({_first_line(error)})") from None
    if not statements:
        raise refuse("the query is empty")
    if len(statements) > 1:
        raise refuse(f"exactly one statement is allowed, this has {len(statements)}")
    tree = statements[0]
    while isinstance(tree, exp.Subquery) and not tree.alias:
        tree = tree.this
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise refuse(f"only SELECT queries are allowed, not {_kind(tree)}")
    _check_nodes(tree)
    _check_tables(tree)
    limit = _bound(tree, max_rows)
    normalised = tree.sql(dialect="athena", comments=False)
    _check_round_trip(normalised, tree)
    _check_translation(normalised)
    return Guarded(sql=normalised, limit=limit)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def _kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, (*STATEMENTS, exp.Values)):
        return type(node).__name__.upper()
    return "this statement"


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def _check_nodes(tree: exp.Expression) -> None:
    for node in tree.walk():
        if isinstance(node, STATEMENTS):
            raise refuse(f"only SELECT queries are allowed; this one contains {_kind(node)}")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise refuse("SELECT ... INTO writes a table; only reading is allowed")
        if isinstance(node, exp.Func):
            _check_function(_function_name(node))
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            raise refuse(f"table functions are not allowed ({node.this.sql(dialect='athena')[:80]})")
        if isinstance(node, exp.Placeholder | exp.Parameter):
            raise refuse("parameters are not supported: write the values into the query")


def _check_function(name: str) -> None:
    if DENIED_FUNCTIONS.match(name):
        raise refuse(f"the function {name} is not allowed here (it reads outside the analytics tables)")


def _check_tables(tree: exp.Expression) -> None:
    """Every table is one of ours, unqualified, or a CTE visible where it is read."""
    checked: set[int] = set()
    try:
        scopes = list(traverse_scope(tree))
    except (SqlglotError, KeyError, ValueError, AttributeError) as error:
        raise refuse(f"the query's structure could not be checked ({_first_line(error)})") from None
    for scope in scopes:
        ctes = {name.lower() for name in scope.cte_sources}
        for table in scope.tables:
            checked.add(id(table))
            _check_table(table, ctes)
    for cte in tree.find_all(exp.CTE):
        if not SAFE_NAME.match(cte.alias_or_name):
            raise refuse(f"name a CTE with letters, digits and underscores only, not {cte.alias_or_name!r}")
    for table in tree.find_all(exp.Table):
        if id(table) not in checked:
            raise refuse(f"the table {table.sql(dialect='athena')[:80]} could not be checked")


def _check_table(table: exp.Table, ctes: set[str]) -> None:
    shown = table.sql(dialect="athena")[:80]
    if table.args.get("db") or table.args.get("catalog"):
        raise refuse(f"{shown} is not an analytics table; the tables are {', '.join(TABLES)}")
    name = table.name.lower()
    if name in ctes:
        return
    if name not in TABLES:
        raise refuse(f"{shown} is not an analytics table; the tables are {', '.join(TABLES)}")
    table.set("this", exp.to_identifier(name))  # the query layer knows them by their lowercase names


def _bound(tree: exp.Select | exp.SetOperation, max_rows: int) -> int:
    """Add a LIMIT, or lower the one there, to `max_rows + 1`: the extra row tells the layer there
    was more."""
    cap = max_rows + 1
    limit = tree.args.get("limit")
    if isinstance(limit, exp.Fetch):
        count = limit.args.get("count")
        value = _whole(count) if count is not None else cap
    elif isinstance(limit, exp.Limit):
        expression = limit.expression
        value = cap if isinstance(expression, exp.Var) and expression.name.upper() == "ALL" else _whole(expression)
    elif limit is None:
        value = cap
    else:
        raise refuse("write the LIMIT as a whole number")
    value = min(value, cap)
    tree.set("limit", exp.Limit(expression=exp.Literal.number(value)))
    return value


def _whole(expression: exp.Expression | None) -> int:
    if isinstance(expression, exp.Literal) and not expression.is_string and expression.name.isdigit():
        return int(expression.name)
    raise refuse("write the LIMIT as a whole number")


def _check_round_trip(sql: str, tree: exp.Expression) -> None:
    """What runs must read back as exactly the tree that was checked."""
    try:
        again = sqlglot.parse(sql, read="athena")
    except SqlglotError:
        again = []
    if len(again) != 1 or again[0] != tree:
        raise refuse("it could not be normalised faithfully; simplify it")


def _check_translation(sql: str) -> None:
    """What DuckDB runs locally is the translation: it must name no denied function either."""
    try:
        translated = sqlglot.transpile(sql, read="athena", write="duckdb")
        trees = [sqlglot.parse_one(t, read="duckdb") for t in translated]
    except SqlglotError as error:
        raise refuse(f"it cannot be translated for the local engine ({_first_line(error)})") from None
    if len(trees) != 1:
        raise refuse("exactly one statement is allowed")
    for node in trees[0].walk():
        if isinstance(node, STATEMENTS):
            raise refuse(f"only SELECT queries are allowed; this one contains {_kind(node)}")
        if isinstance(node, exp.Func):
            _check_function(_function_name(node))
