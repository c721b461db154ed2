// SQL console (admins only, R-AN-3/4): ad-hoc read-only queries over the analytics tables. The same SQL (Athena's
// dialect) runs on Athena in AWS and on DuckDB locally. POST /api/analytics/query {sql, max_rows?} ->
// {columns, rows, truncated, elapsed_ms}; the API refuses anything but one SELECT (422 query_refused) and stops
// slow queries (422 query_timeout); a query the engine cannot run is 422 query_failed. Each refusal is shown as
// the API words it. The last query is kept for this tab (sessionStorage), so leaving the page loses nothing.

import { api, describeError, isAbort } from "../api.js";
import { field } from "../forms.js";
import { h, pageHeader, renderLoadError, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "SQL console";

const STORAGE_KEY = "ates.sql";
const MAX_ROWS = 1000;

export const TABLES = [
  {
    name: "transactions",
    about: "every ledger transaction (amounts in signed cents)",
    columns: ["transaction_id", "account_id", "kind", "amount", "balance_after", "task_id", "reason", "business_day", "recorded_at"],
  },
  { name: "tasks", about: "every task created", columns: ["task_id", "title", "jira_id", "created_by", "created_at"] },
  {
    name: "closed_days",
    about: "one row per closed business day",
    columns: ["business_day", "popugs_paid", "total_paid", "popugs_in_red"],
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

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function elapsed(ms) {
  const value = Number(ms);
  if (!Number.isFinite(value)) return "";
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

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

/** A cell's text: NULL (muted) for null, JSON for objects and lists, the value as text otherwise. */
function cell(value) {
  if (value === null || value === undefined) return h("td", { class: "muted", "data-testid": "sql-cell", "data-null": "" }, "NULL");
  const numeric = typeof value === "number" || typeof value === "bigint";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return h("td", { class: numeric ? "num" : "sql-text", "data-testid": "sql-cell" }, text);
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
        h("dd", {}, h("code", { class: "sql-columns" }, table.columns.join(", "))),
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
  main.append(
    h(
      "div",
      { class: "sql-layout" },
      h(
        "div",
        { class: "sql-main" },
        h("section", { class: "card", "aria-label": "Write a query" }, form),
        h(
          "section",
          { class: "card", "aria-labelledby": "sql-results-heading" },
          h("h2", { id: "sql-results-heading" }, "Results"),
          alert,
          live,
          results,
        ),
      ),
      aside,
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
      paint(answer);
    } catch (failure) {
      if (isAbort(failure) || mine.signal.aborted || failure?.handled) return;
      if (failure?.status === 403) {
        renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: ctx.reload });
        return;
      }
      live.textContent = "";
      results.replaceChildren();
      showFailure(failure);
    } finally {
      if (controller === mine) {
        setBusy(run, false);
        results.setAttribute("aria-busy", "false");
      }
    }
  }

  function paint(answer) {
    const columns = Array.isArray(answer?.columns) ? answer.columns : [];
    const rows = Array.isArray(answer?.rows) ? answer.rows : [];
    const took = elapsed(answer?.elapsed_ms);
    live.textContent = `${rows.length ? plural(rows.length, "row") : "No rows"}${took ? ` in ${took}` : ""}.`;
    live.dataset.rows = String(rows.length);
    const truncated = answer?.truncated
      ? h(
          "p",
          { class: "notice", role: "status", "data-testid": "sql-truncated" },
          `Only the first ${plural(rows.length, "row")} are shown: the result has more. Add a LIMIT or narrow the query.`,
        )
      : null;
    const table = h(
      "div",
      { class: "table-wrap sql-table-wrap", role: "region", tabindex: "0", "aria-labelledby": "sql-caption" },
      h(
        "table",
        { class: "table sql-table", "data-testid": "sql-table" },
        h("caption", { id: "sql-caption", class: "visually-hidden" }, "Query results"),
        h("thead", {}, h("tr", {}, columns.map((name) => h("th", { scope: "col", "data-testid": "sql-column" }, String(name))))),
        h(
          "tbody",
          {},
          rows.map((row) => h("tr", { "data-testid": "sql-row" }, (Array.isArray(row) ? row : [row]).map(cell))),
        ),
      ),
    );
    results.replaceChildren(
      truncated ?? "",
      columns.length ? table : h("p", { class: "muted" }, "The query returned no columns."),
    );
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
