// The Board (admins only, R-AN-6): every saved metric side by side, each as its chart, re-run when the page
// opens. Each card loads by itself, with its own "Running…" line and its own error (one broken metric leaves
// the others readable), its date parameters to change and run again, and its rows as CSV.
//   GET  /api/analytics/metrics?limit=100          -> {items: [{metric_id, name, description, sql, parameters, chart}], next_cursor}
//   POST /api/analytics/metrics/{id}/run {params}  -> {columns, rows, truncated, elapsed_ms}   (?format=csv: the CSV)

import { api, describeError, isAbort } from "../api.js";
import { field } from "../forms.js";
import { addDays, todayIso } from "../money.js";
import { csvName, resultChart, resultTable, saveFile, summary } from "../result-view.js";
import { h, loading, pageHeader, renderLoadError, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "Board";

const PAGE = 100;

/** A parameter's default as a date: an ISO date, `today` or `today-N`. */
export function defaultDate(text) {
  const relative = /^today(?:-(\d{1,3}))?$/.exec(text ?? "");
  if (relative) return addDays(todayIso(), -Number(relative[1] ?? 0));
  return text ?? "";
}

async function allMetrics(signal) {
  const items = [];
  let cursor = null;
  do {
    const page = await api.get("/analytics/metrics", { query: { limit: PAGE, cursor }, signal });
    items.push(...(page?.items ?? []));
    cursor = page?.next_cursor ?? null;
  } while (cursor);
  return items;
}

function metricCard(metric, ctx) {
  const inputs = (metric.parameters ?? []).map((parameter) => {
    const control = h("input", { type: "date", name: parameter.name, value: defaultDate(parameter.default) });
    return { name: parameter.name, control, field: field({ label: parameter.name, control, testid: `metric-param-${parameter.name}` }) };
  });
  const run = h("button", { type: "submit", class: "btn btn-secondary", "data-testid": "metric-run" }, "Run");
  const download = h("button", { type: "button", class: "btn btn-secondary", "data-testid": "metric-csv", disabled: true }, "Download CSV");
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "metric-error", hidden: true });
  const live = statusRegion("metric-status");
  const body = h("div", { class: "metric-body", "data-testid": "metric-body" });
  const form = h("form", { class: "filters metric-params", novalidate: true }, inputs.map((i) => i.field.element),
    h("div", { class: "field field-button" }, run), h("div", { class: "field field-button" }, download));
  const card = h(
    "section",
    { class: "card metric-card", "data-testid": "metric-card", "data-metric-id": metric.metric_id, "aria-labelledby": `metric-${metric.metric_id}` },
    h("h2", { id: `metric-${metric.metric_id}`, "data-testid": "metric-name" }, metric.name),
    metric.description ? h("p", { class: "muted small" }, metric.description) : null,
    form,
    alert,
    live,
    body,
  );

  const params = () => Object.fromEntries(inputs.map((i) => [i.name, i.control.value || null]));
  let controller = null;

  async function load() {
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    showMessage(alert, "");
    card.dataset.state = "loading";
    live.textContent = "Running…";
    body.setAttribute("aria-busy", "true");
    setBusy(run, true, "Running…");
    try {
      const answer = await api.post(`/analytics/metrics/${metric.metric_id}/run`, { params: params() }, { signal: mine.signal });
      if (mine.signal.aborted) return;
      live.textContent = summary(answer);
      const chart = resultChart(answer, metric.chart, { testid: "metric-chart" });
      const table = resultTable(answer, metric.name);
      body.replaceChildren(
        chart ?? "",
        chart ? h("details", { class: "metric-rows" }, h("summary", {}, "Rows"), table) : table,
      );
      download.disabled = false;
      card.dataset.state = "done";
    } catch (failure) {
      if (isAbort(failure) || mine.signal.aborted || failure?.handled) return;
      live.textContent = "";
      body.replaceChildren();
      showMessage(alert, describeError(failure));
      card.dataset.state = "error";
    } finally {
      if (controller === mine) {
        setBusy(run, false);
        body.setAttribute("aria-busy", "false");
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  download.addEventListener("click", async () => {
    setBusy(download, true, "Preparing…");
    try {
      const text = await api.csv("POST", `/analytics/metrics/${metric.metric_id}/run`, { params: params() }, { signal: ctx.signal });
      saveFile(text, csvName(metric.name));
    } catch (failure) {
      if (!isAbort(failure) && !failure?.handled) showMessage(alert, describeError(failure));
    } finally {
      setBusy(download, false);
    }
  });
  return { card, load };
}

export async function render(main, ctx) {
  main.append(pageHeader(title, "Saved metrics, each re-run now. Save one from the SQL console; money is in integer cents."));
  const list = h("div", { class: "metric-grid", "data-testid": "metric-grid" }, loading("Loading the metrics…"));
  main.append(list);
  let metrics;
  try {
    metrics = await allMetrics(ctx.signal);
  } catch (failure) {
    if (isAbort(failure) || failure?.handled) return;
    list.remove();
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: ctx.reload });
    return;
  }
  if (!metrics.length) {
    list.replaceChildren(h("p", { class: "muted", "data-testid": "metric-none" }, "No saved metrics yet. Run a query in the SQL console and save it."));
    return;
  }
  const cards = metrics.map((metric) => metricCard(metric, ctx));
  list.replaceChildren(...cards.map((c) => c.card));
  for (const one of cards) one.load(); // side by side, each on its own
}
