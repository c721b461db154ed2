// SQL console (admins only, R-AN-3/4): ad-hoc read-only queries over the analytics tables. The same SQL (Athena's
// dialect) runs on Athena in AWS and on DuckDB locally. POST /api/analytics/query {sql, max_rows?} ->
// {columns, rows, truncated, elapsed_ms}; the API refuses anything but one SELECT (422 query_refused) and stops
// slow queries (422 query_timeout); a query the engine cannot run is 422 query_failed. Each refusal is shown as
// the API words it, in place of the previous result. The last query is kept for this tab (sessionStorage).
// A result (full width, sticky header, row count and time) can be drawn as a chart of any of its columns,
// downloaded as CSV (?format=csv), and saved as a metric for the Board (R-AN-6: POST /api/analytics/metrics;
// `:from` and `:to` in the SQL become its date parameters).

import { api, describeError, isAbort } from "../api.js";
import { field } from "../forms.js";
import { CHART_TYPES, csvName, numericColumns, resultChart, resultTable, saveFile, summary } from "../result-view.js";
import { h, pageHeader, renderLoadError, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "SQL console";

const STORAGE_KEY = "ates.sql";
const MAX_ROWS = 1000;

// The queryable tables with their columns and types (functions/analytics/tables.py); money in signed cents.
export const TABLES = [
  {
    name: "transactions",
    about: "every ledger transaction, each once (amounts in signed cents)",
    columns: [["transaction_id", "string"], ["account_id", "string"], ["kind", "string"], ["amount", "bigint"],
      ["balance_after", "bigint"], ["task_id", "string"], ["reason", "string"], ["business_day", "date"], ["recorded_at", "timestamp"]],
  },
  {
    name: "tasks",
    about: "every task created",
    columns: [["task_id", "string"], ["title", "string"], ["jira_id", "string"], ["created_by", "string"], ["created_at", "timestamp"]],
  },
  {
    name: "closed_days",
    about: "one row per closed business day",
    columns: [["business_day", "date"], ["popugs_paid", "bigint"], ["total_paid", "bigint"], ["popugs_in_red", "bigint"]],
  },
  {
    name: "daily_totals",
    about: "per business day and kind: how many transactions and their sum (fast over a year)",
    columns: [["business_day", "date"], ["kind", "string"], ["transactions", "bigint"], ["amount", "bigint"]],
  },
  {
    name: "account_days",
    about: "per account and business day: its last transaction and the balance after it",
    columns: [["account_id", "string"], ["business_day", "date"], ["last_recorded_at", "timestamp"],
      ["last_transaction_id", "string"], ["balance_after", "bigint"], ["transactions", "bigint"]],
  },
  {
    name: "account_balances",
    about: "per account, as of each rolled-up month's last day (as_of): its last transaction and balance",
    columns: [["account_id", "string"], ["as_of", "date"], ["last_recorded_at", "timestamp"],
      ["last_transaction_id", "string"], ["balance_after", "bigint"]],
  },
  {
    name: "employee_history",
    about: "each popug's position and department as of any moment: join ON t.recorded_at >= valid_from AND (valid_to IS NULL OR t.recorded_at < valid_to)",
    columns: [["employee_id", "string"], ["version", "bigint"], ["name", "string"], ["position", "string"],
      ["department_id", "string"], ["valid_from", "timestamp"], ["valid_to", "timestamp"]],
  },
  {
    name: "department_history",
    about: "each department's name, parent and head as of any moment (same join)",
    columns: [["department_id", "string"], ["version", "bigint"], ["name", "string"], ["parent_id", "string"],
      ["head_id", "string"], ["valid_from", "timestamp"], ["valid_to", "timestamp"]],
  },
];

export const EXAMPLES = [
  {
    id: "earnings",
    label: "Management earnings per day",
    sql: `SELECT business_day,
       -SUM(amount) AS management_earnings,
       COUNT(*) AS transactions
FROM transactions
WHERE kind IN ('fee', 'reward')
GROUP BY business_day
ORDER BY business_day DESC`,
  },
  {
    id: "top-rewards",
    label: "The ten highest rewards",
    sql: `SELECT t.business_day, k.jira_id, k.title, t.amount AS reward
FROM transactions t
LEFT JOIN tasks k ON k.task_id = t.task_id
WHERE t.kind = 'reward'
ORDER BY t.amount DESC
LIMIT 10`,
  },
  {
    id: "closed-days",
    label: "Closed days and payouts",
    sql: `SELECT business_day, popugs_paid, total_paid, popugs_in_red
FROM closed_days
ORDER BY business_day DESC`,
  },
];

const ERROR_TITLES = {
  query_refused: "The query was refused.",
  query_timeout: "The query took too long.",
  query_failed: "The query failed.",
};

function remembered() {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function remember(sql) {
  try {
    window.sessionStorage.setItem(STORAGE_KEY, sql);
  } catch {
    // private mode or full storage: the console works without it
  }
}

function schemaHint(onExample) {
  return h(
    "aside",
    { class: "card sql-aside", "aria-labelledby": "sql-tables-heading", "data-testid": "sql-tables" },
    h("h2", { id: "sql-tables-heading" }, "Tables"),
    h(
      "dl",
      { class: "sql-schema" },
      TABLES.map((table) => [
        h("dt", { "data-testid": "sql-table-name" }, h("code", {}, table.name), h("span", { class: "muted small" }, ` ${table.about}`)),
        h(
          "dd",
          {},
          h(
            "ul",
            { class: "sql-columns", "data-testid": "sql-table-columns" },
            table.columns.map(([name, type]) => h("li", {}, h("code", {}, name), " ", h("span", { class: "muted small" }, type))),
          ),
        ),
      ]),
    ),
    h("h2", { id: "sql-examples-heading" }, "Examples"),
    h(
      "ul",
      { class: "sql-examples", "aria-labelledby": "sql-examples-heading" },
      EXAMPLES.map((example) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "link-button",
              "data-testid": "sql-example",
              "data-example": example.id,
              onclick: () => onExample(example),
            },
            example.label,
          ),
        ),
      ),
    ),
    h("p", { class: "muted small" }, "A click puts the query in the editor; Run sends it."),
  );
}

export async function render(main, ctx) {
  main.append(
    pageHeader(
      title,
      "Read-only SQL over the analytics tables (one SELECT; rows and time are bounded). Money is in integer cents.",
    ),
  );

  const sqlField = field({
    label: "SQL query",
    control: h("textarea", {
      name: "sql",
      rows: "9",
      spellcheck: "false",
      autocapitalize: "off",
      autocomplete: "off",
      class: "sql-input",
    }),
    hint: "SELECT only. Ctrl+Enter runs it.",
    testid: "sql-input",
  });
  sqlField.control.value = remembered() ?? EXAMPLES[0].sql;
  const rowsField = field({
    label: "Row limit",
    control: h("input", { type: "number", name: "max_rows", min: "1", max: String(MAX_ROWS), step: "1", inputmode: "numeric", placeholder: String(MAX_ROWS) }),
    testid: "sql-max-rows",
  });
  const run = h("button", { type: "submit", class: "btn", "data-testid": "sql-run" }, "Run");
  const form = h(
    "form",
    { class: "sql-form", "data-testid": "sql-form", novalidate: true },
    sqlField.element,
    h("div", { class: "filters" }, rowsField.element, h("div", { class: "field field-button" }, run)),
  );
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "sql-error", hidden: true });
  const live = statusRegion("sql-status");
  const results = h("div", { class: "sql-results", "data-testid": "sql-results" });

  const aside = schemaHint((example) => {
    sqlField.control.value = example.sql;
    sqlField.setError("");
    remember(example.sql);
    sqlField.control.focus();
  });
  const tools = h("div", { class: "sql-tools", "data-testid": "sql-tools", hidden: true });
  main.append(
    h(
      "div",
      { class: "sql-layout" },
      h("div", { class: "sql-main" }, h("section", { class: "card", "aria-label": "Write a query" }, form)),
      aside,
    ),
    // The result takes the page's full width: wide results are the point of a console.
    h(
      "section",
      { class: "card sql-result-card", "aria-labelledby": "sql-results-heading" },
      h("h2", { id: "sql-results-heading" }, "Results"),
      alert,
      live,
      tools,
      results,
    ),
  );

  let controller = null;

  function showFailure(failure) {
    const code = failure?.code ?? "error";
    alert.dataset.code = code;
    alert.replaceChildren(
      ERROR_TITLES[code] ? h("strong", { class: "sql-error-title" }, ERROR_TITLES[code], " ") : null,
      h("span", { "data-testid": "sql-error-message" }, describeError(failure)),
    );
    alert.hidden = false;
  }

  async function execute() {
    const sql = sqlField.control.value.trim();
    sqlField.setError("");
    rowsField.setError("");
    showMessage(alert, "");
    delete alert.dataset.code;
    remember(sqlField.control.value);
    if (!sql) {
      sqlField.setError("Write a query first, like SELECT * FROM closed_days.");
      sqlField.control.focus();
      return;
    }
    const limitText = rowsField.control.value.trim();
    const limit = Number(limitText);
    if (limitText && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_ROWS)) {
      rowsField.setError(`A whole number from 1 to ${MAX_ROWS}, or empty for the most allowed.`);
      rowsField.control.focus();
      return;
    }
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    live.textContent = "Running the query…";
    results.setAttribute("aria-busy", "true");
    setBusy(run, true, "Running…");
    try {
      const body = limitText ? { sql, max_rows: limit } : { sql };
      const answer = await api.post("/analytics/query", body, { signal: mine.signal });
      if (mine.signal.aborted) return;
      paint(answer, sql, body);
    } catch (failure) {
      if (isAbort(failure) || mine.signal.aborted || failure?.handled) return;
      if (failure?.status === 403) {
        renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: ctx.reload });
        return;
      }
      live.textContent = "";
      results.replaceChildren();
      tools.hidden = true;
      tools.replaceChildren();
      showFailure(failure);
    } finally {
      if (controller === mine) {
        setBusy(run, false);
        results.setAttribute("aria-busy", "false");
      }
    }
  }

  let last = null; // {sql, body, answer}: what the tools (chart, CSV, save) work on

  function paint(answer, sql, body) {
    last = { sql, body, answer };
    const rows = Array.isArray(answer?.rows) ? answer.rows : [];
    live.textContent = summary(answer);
    live.dataset.rows = String(rows.length);
    const truncated = answer?.truncated
      ? h(
          "p",
          { class: "notice", role: "status", "data-testid": "sql-truncated" },
          `Only the first ${rows.length} ${rows.length === 1 ? "row is" : "rows are"} shown: the result has more. Add a LIMIT or narrow the query.`,
        )
      : null;
    const chartBox = h("div", { class: "sql-chart", "data-testid": "sql-chart-box" });
    results.replaceChildren(truncated ?? "", chartBox, resultTable(answer));
    tools.replaceChildren(...resultTools(answer, chartBox));
    tools.hidden = !(answer?.columns ?? []).length;
  }

  /** Chart controls (type, x, y), the CSV download and "Save as metric", for the result on screen. */
  function resultTools(answer, chartBox) {
    const columns = answer?.columns ?? [];
    const numbers = numericColumns(answer);
    const type = h("select", { name: "chart_type", "data-testid": "chart-type" },
      CHART_TYPES.map((t) => h("option", { value: t.id }, t.label)));
    const x = h("select", { name: "chart_x", "data-testid": "chart-x" }, columns.map((c) => h("option", { value: c }, c)));
    const ys = numbers.map((c, index) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", value: c, checked: index === 0, "data-testid": "chart-y" }), ` ${c}`));
    const chart = () => ({
      type: type.value,
      x: type.value === "table" ? null : x.value,
      y: type.value === "table" ? [] : ys.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
    });
    const draw = () => chartBox.replaceChildren(resultChart(answer, chart(), { testid: "sql-chart" }) ?? "");
    for (const control of [type, x, ...ys.map((l) => l.querySelector("input"))]) control.addEventListener("change", draw);

    const download = h("button", { type: "button", class: "btn btn-secondary", "data-testid": "sql-csv" }, "Download CSV");
    download.addEventListener("click", async () => {
      setBusy(download, true, "Preparing…");
      try {
        saveFile(await api.csv("POST", "/analytics/query", last.body, { signal: ctx.signal }), csvName("query"));
      } catch (failure) {
        if (!isAbort(failure) && !failure?.handled) showFailure(failure);
      } finally {
        setBusy(download, false);
      }
    });

    const name = h("input", { type: "text", name: "metric_name", maxlength: "120", "data-testid": "metric-name-input" });
    const nameField = field({ label: "Metric name", control: name, testid: "metric-name-field" });
    const save = h("button", { type: "submit", class: "btn", "data-testid": "metric-save" }, "Save as metric");
    const saved = statusRegion("metric-saved");
    const saveForm = h("form", { class: "filters sql-save", novalidate: true }, nameField.element,
      h("div", { class: "field field-button" }, save), saved);
    saveForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      nameField.setError("");
      if (!name.value.trim()) {
        nameField.setError("Give the metric a name, like “Fees per week”.");
        name.focus();
        return;
      }
      const parameters = ["from", "to"].filter((p) => new RegExp(`:${p}\\b`).test(last.sql)).map((p) => ({
        name: p, type: "date", default: p === "from" ? "today-29" : "today" }));
      setBusy(save, true, "Saving…");
      try {
        const metric = await api.post("/analytics/metrics", { name: name.value.trim(), sql: last.sql, parameters, chart: chart() }, { signal: ctx.signal });
        saved.textContent = `Saved “${metric.name}”. It is on the Board.`;
        saved.dataset.metricId = metric.metric_id;
      } catch (failure) {
        if (!isAbort(failure) && !failure?.handled) nameField.setError(describeError(failure));
      } finally {
        setBusy(save, false);
      }
    });
    if (numbers.length) {
      type.value = "bar";
      draw();
    }
    return [
      h("div", { class: "filters sql-chart-controls" },
        field({ label: "Chart", control: type, testid: "chart-type" }).element,
        field({ label: "x", control: x, testid: "chart-x" }).element,
        numbers.length ? h("fieldset", { class: "field chart-y" }, h("legend", {}, "y"), ys) : null,
        h("div", { class: "field field-button" }, download)),
      saveForm,
    ];
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    execute();
  });
  sqlField.control.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      execute();
    }
  });
}
