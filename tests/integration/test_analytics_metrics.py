"""Saved metrics (R-AN-6), department and position slices (R-AN-7) and CSV downloads, through the real
analytics API handler with its template environment, over a lake bucket on the emulator (DuckDB over its
mirror, as in devstack) and a metrics table of the template's shape.

The lake holds a small staff history with transfers: Kesha is hired into Beaks as a worker, moves to Seeds
as a senior (the update delivered before the hire and twice), and is dismissed; Seeds is renamed later.
Her money moves while she is in each department; Gosha's fee has no staff events at all. A reward's
reason holds what a CSV must quote (a comma, quotes, a line break) and one starts like a formula.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from shared import clock
from shared.aws import client
from shared.contracts import REGISTRY, Envelope
from shared.contracts.accounting import TransactionRecordedV1
from shared.contracts.staff import DepartmentChangedV1, EmployeeDismissedV1, EmployeeHiredV1, EmployeeUpdatedV1
from tests.conftest import make_table
from tests.events import deliver
from tests.integration.conftest import LambdaContext, api_event, call

ADMIN = {"sub": "00000000-0000-4000-8000-0000000000a1", "roles": "admin", "department_id": "", "active": "true"}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KESHA, GOSHA = str(uuid.UUID(int=0xE1)), str(uuid.UUID(int=0xE2))
BEAKS, SEEDS = str(uuid.UUID(int=0xD1)), str(uuid.UUID(int=0xD2))
TRICKY = 'fed "Kesha", then\nleft'
FORMULA = '=HYPERLINK("http://evil")'


def at(day: str, clock_time: str = "12:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock_time}+00:00")


def stamped(data: BaseModel, when: datetime) -> Envelope:
    return REGISTRY.envelope(data).model_copy(update={"event_time": when})


def tx(tid: int, account: str, kind: str, amount: int, when: datetime, reason: str = "why") -> Envelope:
    data = TransactionRecordedV1(
        transaction_id=uuid.UUID(int=tid), account_id=account, kind=kind, amount=amount, balance_after=0,
        task_id=None, reason=reason, business_day=when.date(),
    )  # fmt: skip
    return stamped(data, when)


def kesha(version: int, department: str, position: str) -> dict[str, Any]:
    return {"employee_id": KESHA, "version": version, "name": "Kesha", "email": "kesha@example.com",
            "position": position, "department_id": department}  # fmt: skip


STAFF = [
    stamped(DepartmentChangedV1(department_id=BEAKS, version=1, name="Beaks", parent_id=None, head_id=None,
                                deleted=False), at("2026-11-01", "08:00:00")),
    stamped(DepartmentChangedV1(department_id=SEEDS, version=1, name="Seeds", parent_id=None, head_id=None,
                                deleted=False), at("2026-11-01", "08:00:00")),
    # the transfer is delivered before the hire, and twice
    stamped(EmployeeUpdatedV1(**kesha(2, SEEDS, "senior")), at("2026-11-10", "09:00:00")),
    stamped(EmployeeUpdatedV1(**kesha(2, SEEDS, "senior")), at("2026-11-10", "09:00:00")),
    stamped(EmployeeHiredV1(**kesha(1, BEAKS, "worker")), at("2026-11-02", "09:00:00")),
    stamped(EmployeeDismissedV1(employee_id=KESHA, version=3, dismissed_at=at("2026-11-20")), at("2026-11-20")),
    stamped(DepartmentChangedV1(department_id=SEEDS, version=2, name="Seeds & Grain", parent_id=None,
                                head_id=None, deleted=False), at("2026-11-15", "08:00:00")),
]  # fmt: skip
MONEY = [
    tx(1, KESHA, "fee", -1000, at("2026-11-03")),  # in Beaks, a worker
    tx(2, KESHA, "reward", 3000, at("2026-11-04"), reason=TRICKY),  # in Beaks
    tx(3, KESHA, "fee", -1500, at("2026-11-11")),  # in Seeds, a senior
    tx(4, KESHA, "reward", 4000, at("2026-11-16"), reason=FORMULA),  # in Seeds & Grain
    tx(5, GOSHA, "fee", -700, at("2026-11-16")),  # no staff events: no department
]


@pytest.fixture(scope="module")
def lake_bucket(provisioned) -> str:
    """One lake for the module, landed through the real landing function."""
    from analytics import on_event, settings

    bucket = f"analytics-metrics-{uuid.uuid4().hex[:12]}"
    client("s3").create_bucket(Bucket=bucket)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKE_BUCKET", bucket)
        settings.get.cache_clear()
        assert deliver(on_event.lambda_handler, *STAFF, *MONEY) == {"batchItemFailures": []}
    settings.get.cache_clear()
    return bucket


@pytest.fixture()
def api(as_function, monkeypatch, lake_bucket, tmp_path):
    """The analytics API handler with its environment, this module's lake and a fresh metrics table."""
    from analytics import lake, settings

    as_function("AnalyticsApiFunction")
    monkeypatch.setenv("LAKE_BUCKET", lake_bucket)
    monkeypatch.setenv("ANALYTICS_QUERY_ENGINE", "duckdb")
    monkeypatch.setenv("BUSINESS_TIMEZONE", "UTC")
    monkeypatch.setenv("METRICS_TABLE", make_table(f"metrics-{uuid.uuid4().hex[:10]}", stream=False))
    monkeypatch.setattr(lake, "MIRROR_ROOT", tmp_path / "mirror")
    monkeypatch.setattr(clock, "now", lambda: NOW)
    settings.get.cache_clear()
    yield
    settings.get.cache_clear()


def request(method: str, path: str, body: Any = None, who: dict[str, str] = ADMIN, **query: str) -> tuple[int, Any]:
    from analytics import api

    return call(api.lambda_handler, api_event(method, f"/api{path}", body=body, caller=who, query=query or None))


def raw(method: str, path: str, body: Any = None, **query: str) -> dict[str, Any]:
    from analytics import api

    event = api_event(method, f"/api{path}", body=body, caller=ADMIN, query=query or None)
    return api.lambda_handler(event, LambdaContext())


def someone(roles: str) -> dict[str, str]:
    return {"sub": "00000000-0000-4000-8000-0000000000b2", "roles": roles, "department_id": "", "active": "true"}


SLICE_SQL = """SELECT t.transaction_id, t.kind, t.amount, e.position, d.name AS department
FROM transactions t
LEFT JOIN employee_history e ON e.employee_id = t.account_id AND t.recorded_at >= e.valid_from
 AND (e.valid_to IS NULL OR t.recorded_at < e.valid_to)
LEFT JOIN department_history d ON d.department_id = e.department_id AND t.recorded_at >= d.valid_from
 AND (d.valid_to IS NULL OR t.recorded_at < d.valid_to)
WHERE t.business_day BETWEEN :from AND :to
ORDER BY t.recorded_at, t.transaction_id"""

METRIC = {
    "name": "Money by department",
    "sql": SLICE_SQL,
    "parameters": [{"name": "from", "type": "date", "default": "today-30"}, {"name": "to", "type": "date"}],
    "chart": {"type": "bar", "x": "department", "y": ["amount"]},
}


# --- saved metrics (R-AN-6) -------------------------------------------------------------------------------


def test_r_an_6_an_admin_saves_reads_lists_replaces_and_deletes_a_metric(api):
    status, saved = request("POST", "/analytics/metrics", METRIC)
    assert status == 201, saved
    metric_id = saved["metric_id"]
    assert {k: saved[k] for k in ("name", "sql", "chart")} == {k: METRIC[k] for k in ("name", "sql", "chart")}
    assert saved["parameters"] == [{"name": "from", "type": "date", "default": "today-30"},
                                   {"name": "to", "type": "date", "default": None}]  # fmt: skip
    assert saved["created_by"] == ADMIN["sub"]
    assert request("GET", f"/analytics/metrics/{metric_id}") == (200, saved)

    status, page = request("GET", "/analytics/metrics")
    assert status == 200 and page["next_cursor"] is None
    assert metric_id in [m["metric_id"] for m in page["items"]]

    changed = {**METRIC, "name": "Money by department, renamed", "chart": {"type": "table"}}
    status, replaced = request("PUT", f"/analytics/metrics/{metric_id}", changed)
    assert status == 200, replaced
    assert (replaced["name"], replaced["chart"]["type"], replaced["created_at"]) == (
        "Money by department, renamed", "table", saved["created_at"])  # fmt: skip

    assert request("DELETE", f"/analytics/metrics/{metric_id}") == (204, {})
    assert request("GET", f"/analytics/metrics/{metric_id}")[0] == 404
    assert request("DELETE", f"/analytics/metrics/{metric_id}")[0] == 404
    assert request("PUT", f"/analytics/metrics/{metric_id}", METRIC)[0] == 404


def test_r_an_6_a_metric_runs_with_its_dates_and_answers_like_the_console(api):
    metric_id = request("POST", "/analytics/metrics", METRIC)[1]["metric_id"]
    status, ran = request("POST", f"/analytics/metrics/{metric_id}/run", {"params": {"from": "2026-11-11",
                                                                                    "to": "2026-11-16"}})  # fmt: skip
    assert status == 200, ran
    assert ran["columns"] == ["transaction_id", "kind", "amount", "position", "department"]
    assert [r[1:] for r in ran["rows"]] == [
        ["fee", -1500, "senior", "Seeds"], ["reward", 4000, "senior", "Seeds & Grain"], ["fee", -700, None, None],
    ]  # fmt: skip
    assert ran["truncated"] is False and isinstance(ran["elapsed_ms"], int)
    # `from` left out: its default (today-30) is taken; `to` has none and must be given
    status, body = request("POST", f"/analytics/metrics/{metric_id}/run", {"params": {"to": "2026-11-03"}})
    assert status == 200 and len(body["rows"]) == 1, body
    status, body = request("POST", f"/analytics/metrics/{metric_id}/run", {"params": {}})
    assert (status, body["error"]["code"]) == (422, "missing_parameter")
    status, body = request("POST", f"/analytics/metrics/{metric_id}/run", {"params": {"from": "2026-11-30", "to": "x"}})
    assert (status, body["error"]["code"]) == (422, "invalid_date")
    status, body = request("POST", f"/analytics/metrics/{metric_id}/run",
                           {"params": {"from": "2026-11-30", "to": "2026-11-01"}})  # fmt: skip
    assert (status, body["error"]["code"]) == (422, "invalid_range")
    assert request("POST", f"/analytics/metrics/{uuid.uuid4()}/run", {})[0] == 404


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT * FROM transactions WHERE business_day = :from AND", "query_refused"),  # bad SQL
        ("DROP TABLE transactions", "query_refused"),  # DDL
        ("SELECT * FROM information_schema.tables", "query_refused"),  # a foreign table
        ("SELECT * FROM read_parquet('/etc/passwd')", "query_refused"),
        ("SELECT * FROM transactions WHERE business_day = :since", "unknown_parameter"),
    ],
)
def test_r_an_6_what_the_console_refuses_cannot_be_saved(api, sql, code):
    status, body = request("POST", "/analytics/metrics", {**METRIC, "sql": sql})
    assert (status, body["error"]["code"]) == (422, code), body
    assert all(m["sql"] != sql for m in request("GET", "/analytics/metrics")[1]["items"])


@pytest.mark.parametrize(
    "broken",
    [
        {"chart": {"type": "line", "x": "department"}},  # a line chart without y
        {"chart": {"type": "pie"}},
        {"parameters": [{"name": "from", "type": "date", "default": "yesterday"}]},
        {"parameters": [{"name": "from"}, {"name": "from"}]},
        {"name": "  "},
    ],
)
def test_r_an_6_a_metric_without_a_usable_chart_or_parameters_is_422(api, broken):
    status, body = request("POST", "/analytics/metrics", {**METRIC, **broken})
    assert status == 422, body


@pytest.mark.parametrize("roles", ["worker", "manager", "accountant", "manager,accountant"])
def test_r_an_6_only_admins_see_save_or_run_metrics(api, roles):
    metric_id = request("POST", "/analytics/metrics", METRIC)[1]["metric_id"]
    who = someone(roles)
    for method, path, body in [
        ("GET", "/analytics/metrics", None), ("POST", "/analytics/metrics", METRIC),
        ("GET", f"/analytics/metrics/{metric_id}", None), ("PUT", f"/analytics/metrics/{metric_id}", METRIC),
        ("DELETE", f"/analytics/metrics/{metric_id}", None), ("POST", f"/analytics/metrics/{metric_id}/run", {}),
    ]:  # fmt: skip
        status, answer = request(method, path, body, who=who)
        assert (status, answer["error"]["code"]) == (403, "forbidden"), (method, path)
    assert request("GET", f"/analytics/metrics/{metric_id}")[1]["name"] == METRIC["name"]


def test_r_an_6_a_fresh_stack_has_three_example_metrics_once_and_each_runs(api):
    from analytics import metrics

    first = request("GET", "/analytics/metrics")[1]["items"]
    assert sorted(m["name"] for m in first) == sorted(e.name for e in metrics.EXAMPLES)
    assert request("GET", "/analytics/metrics")[1]["items"] == first  # listed again: not seeded again
    request("DELETE", f"/analytics/metrics/{first[0]['metric_id']}")
    assert len(request("GET", "/analytics/metrics")[1]["items"]) == 2  # a deleted example stays deleted
    for example in first[1:]:
        status, ran = request("POST", f"/analytics/metrics/{example['metric_id']}/run",
                              {"params": {"from": "2026-11-01", "to": "2026-11-30"}})  # fmt: skip
        assert status == 200, (example["name"], ran)
        chart = example["chart"]
        assert {chart["x"], *chart["y"]} <= set(ran["columns"]), example["name"]


def test_r_an_6_the_list_pages_with_a_cursor(api):
    for n in range(3):
        request("POST", "/analytics/metrics", {**METRIC, "name": f"metric {n}"})
    seen, cursor = [], None
    while True:
        status, page = request("GET", "/analytics/metrics", limit="2", **({"cursor": cursor} if cursor else {}))
        assert status == 200 and len(page["items"]) <= 2, page
        seen += [m["metric_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6  # three examples and three of ours, each once


# --- slices (R-AN-7) -----------------------------------------------------------------------------------------


def test_r_an_7_money_is_sliced_by_the_department_and_position_held_when_it_moved(api):
    status, ran = request("POST", "/analytics/query", {"sql": SLICE_SQL.replace(":from", "DATE '2026-11-01'")
                                                       .replace(":to", "DATE '2026-11-30'")})  # fmt: skip
    assert status == 200, ran
    assert [r[1:] for r in ran["rows"]] == [
        ["fee", -1000, "worker", "Beaks"],
        ["reward", 3000, "worker", "Beaks"],
        ["fee", -1500, "senior", "Seeds"],  # after the transfer
        ["reward", 4000, "senior", "Seeds & Grain"],  # after the department's rename
        ["fee", -700, None, None],  # a popug the lake has no staff events for
    ]


def test_r_an_7_each_version_once_ending_at_the_next_and_a_dismissal_ends_the_last(api):
    status, ran = request(
        "POST",
        "/analytics/query",
        {"sql": "SELECT version, department_id, position, valid_from, valid_to FROM employee_history ORDER BY version"},
    )
    assert status == 200, ran
    assert ran["rows"] == [
        [1, BEAKS, "worker", "2026-11-02T09:00:00.000Z", "2026-11-10T09:00:00.000Z"],
        [2, SEEDS, "senior", "2026-11-10T09:00:00.000Z", "2026-11-20T12:00:00.000Z"],
    ]


# --- CSV ---------------------------------------------------------------------------------------------------


def test_csv_of_a_query_is_rfc_4180_with_a_header_and_formulas_guarded(api):
    sql = ("SELECT transaction_id, amount, reason, NULL AS nothing, amount > 0 AS earned FROM transactions "
           "WHERE account_id = '" + KESHA + "' AND kind = 'reward' ORDER BY recorded_at")  # fmt: skip
    answer = raw("POST", "/analytics/query", {"sql": sql}, format="csv")
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["headers"]["Content-Disposition"].startswith("attachment; filename=")
    two, four = str(uuid.UUID(int=2)), str(uuid.UUID(int=4))
    assert answer["body"] == (
        "transaction_id,amount,reason,nothing,earned\r\n"
        f'{two},3000,"fed ""Kesha"", then\nleft",,true\r\n'
        f'{four},4000,"\'=HYPERLINK(""http://evil"")",,true\r\n'
    )
    parsed = list(csv.reader(io.StringIO(answer["body"], newline="")))
    assert parsed[1][2] == TRICKY and parsed[2][2] == "'" + FORMULA  # a spreadsheet shows the text, runs nothing


def test_csv_of_a_metric_run_and_errors_stay_json(api):
    metric_id = request("POST", "/analytics/metrics", METRIC)[1]["metric_id"]
    answer = raw("POST", f"/analytics/metrics/{metric_id}/run", {"params": {"from": "2026-11-16", "to": "2026-11-16"}},
                 format="csv")  # fmt: skip
    assert answer["statusCode"] == 200, answer
    assert answer["body"].split("\r\n")[0] == "transaction_id,kind,amount,position,department"
    assert answer["body"].count("\r\n") == 3  # the header and two rows
    refused = raw("POST", "/analytics/query", {"sql": "DROP TABLE transactions"}, format="csv")
    assert refused["statusCode"] == 422 and refused["body"].startswith('{"error"')
    assert raw("POST", "/analytics/query", {"sql": "SELECT 1"}, format="xml")["statusCode"] == 422


def test_metric_dates_bind_only_real_parameters():
    from analytics import metrics

    sql = "SELECT ':from' AS text, x FROM t WHERE d >= :from -- :to in a comment\n AND d <= :to"
    bound = metrics.bind(sql, {"from": date(2026, 1, 1), "to": date(2026, 1, 31)})
    assert bound == ("SELECT ':from' AS text, x FROM t WHERE d >= DATE '2026-01-01' -- :to in a comment\n"
                     " AND d <= DATE '2026-01-31'")  # fmt: skip
