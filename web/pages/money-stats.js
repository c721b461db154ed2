// Accounting stats (admins and accountants, R-ACC-6): for each business day from `from` to `to` (the last
// 14 days up to today unless the URL says otherwise: /money/stats?from=2026-11-01&to=2026-11-14), the day's
// status, management earnings (−(fees + rewards as the popugs' ledgers see them) = fees − rewards), fees,
// rewards, payouts, popugs paid and popugs in the red (known once the day is closed), then the totals; and a
// small bar chart of the management earnings per day (inline SVG; the table says the same in words).
// GET /api/accounting/stats?from=YYYY-MM-DD&to=YYYY-MM-DD (at most 366 days: 422 otherwise).

import { api, describeError, isAbort } from "../api.js";
import { barChart, extremes } from "../charts.js";
import { csvDownload } from "../csv-download.js";
import { dateRangeForm } from "../forms.js";
import {
  addDays,
  dayStatusChip,
  formatDay,
  formatMoney,
  isIsoDate,
  money,
  todayIso,
} from "../money.js";
import { csvName } from "../result-view.js";
import { h, pageHeader, renderLoadError, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "Accounting stats";
const DEFAULT_DAYS = 14;

function readRange(query) {
  const today = todayIso();
  const to = isIsoDate(query.get("to")) ? query.get("to") : today;
  const from = isIsoDate(query.get("from")) ? query.get("from") : addDays(to, -(DEFAULT_DAYS - 1));
  return { from, to };
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// ---- the chart -------------------------------------------------------------------------------------------

/**
 * Management earnings per day as bars above (earned) or below (lost) a zero line (charts.js): role="img" with
 * a summary for screen readers; each bar has a <title> (a tooltip) with its day and amount.
 */
function earningsChart(items, { from, to }) {
  const earned = (item) => Number(item.management_earnings) || 0;
  const { best, worst } = extremes(items, earned);
  const total = items.reduce((sum, item) => sum + earned(item), 0);
  const summary = items.length
    ? `Management earnings per day from ${formatDay(from)} to ${formatDay(to)}: ${formatMoney(total)} in all; ` +
      `best ${formatMoney(best.management_earnings)} on ${formatDay(best.date)}, ` +
      `worst ${formatMoney(worst.management_earnings)} on ${formatDay(worst.date)}.`
    : "No days to chart.";
  return barChart({
    items,
    series: [{ id: "management_earnings", label: "Management earnings", value: earned }],
    signed: true,
    format: formatMoney,
    valueAttr: "data-cents",
    describe: (item, _series, value) => `${formatDay(item.date)}: ${formatMoney(value)}`,
    summary,
    axis: [formatDay(from, { weekday: false }), formatDay(to, { weekday: false })],
    caption:
      "Management earnings per day: fees charged minus rewards paid. Bars below the line are days the management paid out more than it charged.",
    testid: "stats-chart",
    barTestid: "stats-bar",
  });
}

// ---- the page -------------------------------------------------------------------------------------------

export async function render(main, ctx) {
  const range = readRange(ctx.query);
  main.append(
    pageHeader(
      title,
      "What the management earned each business day (fees charged minus rewards paid), and what was paid out when the day closed.",
    ),
  );

  const { form, show, read, value } = dateRangeForm({ prefix: "stats", ...range, label: "Days to show" });
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "stats-error", hidden: true });
  const live = statusRegion("stats-status");
  const results = h("div", { class: "stats-results", "data-testid": "stats-results" });
  main.append(h("section", { class: "card", "aria-label": "Choose the days" }, form, alert, live), results);

  let controller = null;
  let shown = range; // the days on screen: what "Download CSV" downloads
  // The day-by-day table as CSV: one answer (at most 366 days), no pages to follow.
  const download = csvDownload({
    testid: "stats-csv",
    signal: ctx.signal,
    paged: false,
    request: () => ({ path: "/accounting/stats", query: shown, filename: csvName(`accounting stats ${shown.from} ${shown.to}`) }),
  });

  async function load({ first = false } = {}) {
    showMessage(alert, "");
    const asked = read();
    if (!asked) return;
    const { from, to } = asked;
    window.history.replaceState(null, "", `/money/stats?from=${from}&to=${to}`);
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    live.textContent = "Loading the statistics…";
    results.setAttribute("aria-busy", "true");
    setBusy(show, true, "Loading…");
    try {
      const stats = await api.get("/accounting/stats", { query: { from, to }, signal: mine.signal });
      if (mine.signal.aborted) return;
      paint(stats);
    } catch (failure) {
      if (isAbort(failure) || mine.signal.aborted || failure?.handled) return;
      live.textContent = "";
      if (first && failure?.status === 403) {
        renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
        return;
      }
      results.replaceChildren();
      showMessage(alert, describeError(failure));
    } finally {
      if (controller === mine) {
        setBusy(show, false);
        results.setAttribute("aria-busy", "false");
      }
    }
  }

  function paint(stats) {
    const items = Array.isArray(stats?.items) ? stats.items : [];
    const totals = stats?.totals ?? {};
    const from = stats?.from ?? value().from;
    const to = stats?.to ?? value().to;
    shown = { from, to };
    const closed = items.filter((item) => item.status === "closed").length;
    live.textContent =
      `${plural(items.length, "day")} from ${formatDay(from)} to ${formatDay(to)}; ` +
      `${closed === items.length ? "all closed" : `${plural(closed, "day")} closed`}. ` +
      `Management earnings: ${formatMoney(totals.management_earnings)}.`;

    const tile = (label, value, testid) =>
      h("div", { class: "stat-tile" }, h("span", { class: "stat-label" }, label), h("span", { class: "stat-value" }, value(testid)));
    const summary = h(
      "div",
      { class: "stat-tiles", "data-testid": "stats-summary" },
      tile("Management earnings", (t) => money(totals.management_earnings, { signed: true, testid: t }), "stats-sum-earnings"),
      tile("Fees charged", (t) => money(totals.fees, { testid: t }), "stats-sum-fees"),
      tile("Rewards paid", (t) => money(totals.rewards, { testid: t }), "stats-sum-rewards"),
      tile("Paid out", (t) => money(totals.payouts, { testid: t }), "stats-sum-payouts"),
    );

    const rows = items.map((item) =>
      h(
        "tr",
        { "data-testid": "stats-row", "data-date": item.date, "data-status": item.status },
        h("th", { scope: "row", class: "nowrap", "data-testid": "stats-date" }, formatDay(item.date)),
        h("td", {}, dayStatusChip(item.status, "stats-day-status")),
        h("td", { class: "num" }, money(item.management_earnings, { signed: true, testid: "stats-earnings" })),
        h("td", { class: "num" }, money(item.fees, { testid: "stats-fees" })),
        h("td", { class: "num" }, money(item.rewards, { testid: "stats-rewards" })),
        h("td", { class: "num" }, money(item.payouts, { testid: "stats-payouts" })),
        h("td", { class: "num", "data-testid": "stats-paid" }, String(item.popugs_paid ?? 0)),
        h(
          "td",
          { class: "num", "data-testid": "stats-in-red" },
          item.popugs_in_red === null || item.popugs_in_red === undefined
            ? h("span", { class: "muted", title: "Known once the day is closed" }, "—")
            : String(item.popugs_in_red),
        ),
      ),
    );
    const num = (text) => h("th", { scope: "col", class: "num" }, text);
    const table = h(
      "div",
      { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "stats-caption" },
      h(
        "table",
        { class: "table stats-table", "data-testid": "stats-table" },
        h("caption", { id: "stats-caption", class: "visually-hidden" }, "Accounting per business day"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Day"),
            h("th", { scope: "col" }, "Status"),
            num("Management earnings"),
            num("Fees"),
            num("Rewards"),
            num("Payouts"),
            num("Popugs paid"),
            num("In the red at close"),
          ),
        ),
        h("tbody", {}, rows),
        h(
          "tfoot",
          {},
          h(
            "tr",
            { "data-testid": "stats-totals" },
            h("th", { scope: "row", colspan: "2" }, "Total"),
            h("td", { class: "num" }, money(totals.management_earnings, { signed: true, testid: "stats-total-earnings" })),
            h("td", { class: "num" }, money(totals.fees, { testid: "stats-total-fees" })),
            h("td", { class: "num" }, money(totals.rewards, { testid: "stats-total-rewards" })),
            h("td", { class: "num" }, money(totals.payouts, { testid: "stats-total-payouts" })),
            h("td", { class: "num", "data-testid": "stats-total-paid" }, String(totals.popugs_paid ?? 0)),
            h("td", { class: "num muted" }, "—"),
          ),
        ),
      ),
    );

    results.replaceChildren(
      h("section", { class: "card", "aria-labelledby": "stats-summary-title" }, h("h2", { id: "stats-summary-title" }, "In these days"), summary),
      h("section", { class: "card", "aria-labelledby": "stats-chart-title" }, h("h2", { id: "stats-chart-title" }, "Management earnings per day"), earningsChart(items, { from, to })),
      h("section", { class: "card", "aria-labelledby": "stats-days-title" }, h("h2", { id: "stats-days-title" }, "Day by day"), download.alert, table, h("div", { class: "actions" }, download.button)),
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });

  await load({ first: true });
}
