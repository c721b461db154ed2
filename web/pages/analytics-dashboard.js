// Analytics dashboard (admins only, R-AN-3), three parts that load on their own (one failing leaves the
// others usable; a 403 on the first load is the "you need the admin role" page):
//   Today and now       GET /api/analytics/dashboard -> {date, management_earnings, popugs_in_red, closed}; when
//                       today is closed already, also ?date=<the next day>: the open business day ("now")
//   Most expensive task GET /api/analytics/most-expensive-task?period=day|week|month&date=
//                       -> {period, from, to, task: {task_id, title, jira_id, reward} | null, series: [{date, task}]}
//   Daily trends        GET /api/analytics/daily?from=&to= (at most 366 days)
//                       -> {from, to, items: [{date, management_earnings, fees, rewards, payouts, tasks_completed,
//                          popugs_paid, popugs_in_red (null until the day is closed)}]}
// The choices live in the URL (/analytics?period=week&date=2026-11-27&from=2026-10-29&to=2026-11-27), so a
// reload or a shared link shows the same. Charts are charts.js bars; the table under them says the same in words.

import { api, describeError, isAbort } from "../api.js";
import { barChart, extremes } from "../charts.js";
import { dateRangeForm, field } from "../forms.js";
import { addDays, formatDay, formatMoney, isIsoDate, money, todayIso } from "../money.js";
import { jiraChip } from "../task-parts.js";
import { h, pageHeader, renderLoadError, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "Analytics dashboard";

const PERIODS = [
  { id: "day", label: "Day" },
  { id: "week", label: "Week" },
  { id: "month", label: "Month" },
];
const DEFAULT_PERIOD = "day";
const DEFAULT_DAYS = 30;

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const isKnown = (value) => value !== null && value !== undefined && Number.isFinite(Number(value));
const short = (iso) => formatDay(iso, { weekday: false });

function readState(query) {
  const today = todayIso();
  const period = PERIODS.some((p) => p.id === query.get("period")) ? query.get("period") : DEFAULT_PERIOD;
  const date = isIsoDate(query.get("date")) ? query.get("date") : today;
  const to = isIsoDate(query.get("to")) ? query.get("to") : today;
  const from = isIsoDate(query.get("from")) ? query.get("from") : addDays(to, -(DEFAULT_DAYS - 1));
  return { period, date, from, to };
}

/**
 * One part of the page that loads by itself: the previous request is aborted when a new one starts (and when
 * the page is left); failures go to the part's alert, except a 403 on the first load, which is rethrown so the
 * page can say who may open it.
 */
function loader(ctx, { alert, live, busy, run }) {
  let controller = null;
  return async function load({ first = false } = {}) {
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    showMessage(alert, "");
    busy(true);
    try {
      await run(mine.signal);
    } catch (failure) {
      if (isAbort(failure) || mine.signal.aborted || failure?.handled) return;
      if (first && failure?.status === 403) throw failure;
      live.textContent = "";
      showMessage(alert, describeError(failure));
    } finally {
      if (controller === mine) busy(false);
    }
  };
}

function card(id, heading, ...children) {
  return h(
    "section",
    { class: "card dash-card", "aria-labelledby": `${id}-heading`, "data-testid": id },
    h("h2", { id: `${id}-heading` }, heading),
    children,
  );
}

function tile(label, value, note, testid = null) {
  return h(
    "div",
    { class: "stat-tile" },
    h("span", { class: "stat-label", "data-testid": testid }, label),
    h("span", { class: "stat-value" }, value),
    note ? h("span", { class: "muted small" }, note) : null,
  );
}

// ---- today ---------------------------------------------------------------------------------------------

/**
 * One business day's two figures, each label saying which day and which moment it is for: after a day is closed
 * early, "today" (the calendar day) and "now" (the open business day new money counts towards) differ, and a
 * closed day's popugs in the red are those counted at its close, not the balances now (issue 18).
 */
function dayFigures(day, { prefix = "dash", now = false } = {}) {
  const inRed = isKnown(day?.popugs_in_red) ? Number(day.popugs_in_red) : null;
  const closed = Boolean(day?.closed);
  const named = short(day?.date);
  const what = closed ? "closed" : now ? "open: where new money counts now" : "open";
  return h(
    "div",
    { class: "dash-day", "data-testid": `${prefix}-day`, "data-date": day?.date ?? null, "data-closed": String(closed) },
    h(
      "p",
      { class: "muted", "data-testid": `${prefix}-date`, "data-date": day?.date ?? null },
      `Business day ${formatDay(day?.date)} (${what})`,
    ),
    h(
      "div",
      { class: "stat-tiles" },
      tile(
        closed ? `Management earnings of ${named}` : `Management earnings of ${named} so far`,
        money(day?.management_earnings, { signed: true, big: true, testid: `${prefix}-earnings` }),
        closed
          ? "Final: fees charged minus rewards paid on that business day. Money recorded after its close counts towards the next day."
          : "Fees charged minus rewards paid on this business day up to now, as far as the analytics data has caught up.",
        `${prefix}-earnings-label`,
      ),
      tile(
        closed ? `Popugs in the red at the close of ${named}` : "Popugs in the red now",
        h(
          "span",
          { class: `money-big${inRed ? " money-debt" : ""}`, "data-testid": `${prefix}-in-red`, "data-value": inRed ?? null },
          inRed === null ? "—" : String(inRed),
        ),
        closed
          ? "Counted when the day was closed; balances have moved since (Balances shows them now)."
          : "Popugs whose balance is below zero after every transaction so far.",
        `${prefix}-in-red-label`,
      ),
    ),
  );
}

function todayPart(ctx) {
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "dash-error", hidden: true });
  const live = statusRegion("dash-status");
  const body = h("div", { class: "dash-today", "data-testid": "dash-today" });
  const element = card("dash-today-card", "Today and now", live, alert, body);

  const load = loader(ctx, {
    alert,
    live,
    busy: (on) => body.setAttribute("aria-busy", String(on)),
    run: async (signal) => {
      live.textContent = "Loading today's figures…";
      const today = await api.get("/analytics/dashboard", { signal });
      if (signal.aborted) return;
      // Today closed early: new fees and rewards belong to the next business day, which is what "now" means.
      let current = null;
      if (today?.closed && isIsoDate(today?.date)) {
        current = await api
          .get("/analytics/dashboard", { query: { date: addDays(today.date, 1) }, signal })
          .catch((failure) => (isAbort(failure) ? Promise.reject(failure) : null));
        if (signal.aborted) return;
      }
      live.textContent = "";
      body.replaceChildren(
        ...[dayFigures(today), current && dayFigures(current, { prefix: "dash-now", now: true })].filter(Boolean),
      );
    },
  });
  return { element, load };
}

// ---- the most expensive task --------------------------------------------------------------------------

function periodWords(answer) {
  const { period, from, to } = answer ?? {};
  if (period === "day" || from === to) return `on ${formatDay(from)}`;
  if (period === "month" && isIsoDate(from)) {
    const [year, month] = from.split("-").map(Number);
    return `in ${new Date(year, month - 1, 1).toLocaleDateString(undefined, { month: "long", year: "numeric" })}`;
  }
  return `in the week from ${formatDay(from)} to ${formatDay(to)}`;
}

function topTaskPart(ctx, state, syncUrl) {
  const radios = PERIODS.map((period) =>
    h("input", {
      type: "radio",
      name: "period",
      value: period.id,
      id: `met-period-${period.id}`,
      checked: period.id === state.period,
      "data-testid": `met-period-${period.id}`,
    }),
  );
  const periods = h(
    "fieldset",
    { class: "segmented", "data-testid": "met-period" },
    h("legend", {}, "Period"),
    h(
      "div",
      { class: "segmented-options" },
      PERIODS.map((period, index) => h("span", { class: "segment" }, radios[index], h("label", { for: `met-period-${period.id}` }, period.label))),
    ),
  );
  const dateField = field({
    label: "Date",
    control: h("input", { type: "date", name: "date", value: state.date, required: true }),
    hint: "The day, ISO week or month that holds this date.",
    testid: "met-date",
  });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Period of the most expensive task", "data-testid": "met-form", novalidate: true },
    periods,
    dateField.element,
  );
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "met-error", hidden: true });
  const live = statusRegion("met-status");
  live.classList.add("visually-hidden"); // the answer is on screen right under it; this says it to screen readers
  const result = h("div", { class: "met-result", "data-testid": "met-result" });
  const element = card(
    "met-card",
    "Most expensive task",
    h("p", { class: "muted small" }, "The highest reward among the tasks completed in the period; a tie goes to the earliest completion."),
    form,
    alert,
    live,
    result,
  );

  const period = () => radios.find((radio) => radio.checked)?.value ?? DEFAULT_PERIOD;

  const load = loader(ctx, {
    alert,
    live,
    busy: (on) => result.setAttribute("aria-busy", String(on)),
    run: async (signal) => {
      dateField.setError("");
      const date = dateField.control.value;
      if (!isIsoDate(date)) {
        dateField.setError("Pick a day, like 2026-11-27.");
        return;
      }
      live.textContent = "Looking for the most expensive task…";
      const answer = await api.get("/analytics/most-expensive-task", { query: { period: period(), date }, signal });
      if (signal.aborted) return;
      paint(answer);
    },
  });

  function paint(answer) {
    const task = answer?.task ?? null;
    const series = Array.isArray(answer?.series) ? answer.series : [];
    const when = periodWords(answer);
    result.dataset.period = answer?.period ?? period();
    live.textContent = task
      ? `The most expensive task ${when}: ${task.title}, ${formatMoney(task.reward)}.`
      : `No task was completed ${when}.`;
    const found = task
      ? h(
          "div",
          { class: "met-task", "data-testid": "met-task", "data-task-id": task.task_id },
          money(task.reward, { big: true, testid: "met-reward" }),
          h(
            "p",
            { class: "met-task-name" },
            jiraChip(task.jira_id),
            " ",
            h("span", { "data-testid": "met-task-title" }, task.title || "A task without a title"),
          ),
          h("p", { class: "muted small", "data-testid": "met-range" }, `Completed ${when}.`),
        )
      : h("p", { class: "notice", "data-testid": "met-none" }, `No task was completed ${when}.`);

    const reward = (item) => (item?.task && isKnown(item.task.reward) ? Number(item.task.reward) : null);
    const { best } = extremes(series, reward);
    const empty = series.filter((item) => reward(item) === null).length;
    const summary = series.length
      ? `Highest reward completed each day from ${formatDay(answer.from)} to ${formatDay(answer.to)}: ` +
        (best ? `the most ${formatMoney(reward(best))} on ${formatDay(best.date)}` : "no task completed") +
        (best && empty ? `; ${plural(empty, "day")} without a completed task.` : ".")
      : "No days to chart.";
    const chart = barChart({
      items: series,
      series: [{ id: "reward", label: "Highest reward", value: reward, tone: "info" }],
      format: formatMoney,
      valueAttr: "data-cents",
      describe: (item, _series, value) =>
        `${formatDay(item.date)}: ${formatMoney(value)}, ${item.task.jira_id ? `[${item.task.jira_id}] ` : ""}${item.task.title ?? ""}`,
      barAttrs: (item) => ({ "data-task-id": item.task?.task_id ?? null }),
      summary,
      axis: series.length ? [short(series[0].date), short(series.at(-1).date)] : null,
      caption: "Each bar: the highest reward among the tasks completed that day. No bar: nothing was completed.",
      testid: "met-chart",
      barTestid: "met-bar",
    });
    result.replaceChildren(found, chart);
  }

  const reload = () => {
    syncUrl();
    load();
  };
  for (const radio of radios) radio.addEventListener("change", reload);
  dateField.control.addEventListener("change", reload);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    reload();
  });

  return {
    element,
    load,
    state: () => ({ period: period(), date: dateField.control.value }),
  };
}

// ---- daily trends -------------------------------------------------------------------------------------

function trendsPart(ctx, state, syncUrl) {
  const { form, show, read, value } = dateRangeForm({
    prefix: "trend",
    from: state.from,
    to: state.to,
    label: "Days of the trends",
  });
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "trend-error", hidden: true });
  const live = statusRegion("trend-status");
  const results = h("div", { class: "trend-results", "data-testid": "trend-results" });
  const element = card("trend-card", "Daily trends", form, alert, live, results);

  const load = loader(ctx, {
    alert,
    live,
    busy: (on) => {
      results.setAttribute("aria-busy", String(on));
      setBusy(show, on, "Loading…");
    },
    run: async (signal) => {
      const asked = read();
      if (!asked) return;
      const { from, to } = asked;
      live.textContent = "Loading the daily figures…";
      const daily = await api.get("/analytics/daily", { query: { from, to }, signal });
      if (signal.aborted) return;
      paint(daily, { from, to });
    },
  });

  function paint(daily, asked) {
    const items = Array.isArray(daily?.items) ? daily.items : [];
    const from = daily?.from ?? asked.from;
    const to = daily?.to ?? asked.to;
    const axis = [short(from), short(to)];
    const sum = (name) => items.reduce((total, item) => total + (Number(item[name]) || 0), 0);
    const totals = {
      management_earnings: sum("management_earnings"),
      fees: sum("fees"),
      rewards: sum("rewards"),
      payouts: sum("payouts"),
      tasks_completed: sum("tasks_completed"),
      popugs_paid: sum("popugs_paid"),
    };
    live.textContent =
      `${plural(items.length, "day")} from ${formatDay(from)} to ${formatDay(to)}. ` +
      `Management earnings: ${formatMoney(totals.management_earnings)}.`;

    const earned = (item) => Number(item.management_earnings) || 0;
    const { best, worst } = extremes(items, earned);
    const earningsChart = barChart({
      items,
      series: [{ id: "management_earnings", label: "Management earnings", value: earned }],
      signed: true,
      format: formatMoney,
      valueAttr: "data-cents",
      describe: (item, _series, value) => `${formatDay(item.date)}: ${formatMoney(value)}`,
      summary: items.length
        ? `Management earnings per day from ${formatDay(from)} to ${formatDay(to)}: ${formatMoney(totals.management_earnings)} in all; ` +
          `best ${formatMoney(earned(best))} on ${formatDay(best.date)}, worst ${formatMoney(earned(worst))} on ${formatDay(worst.date)}.`
        : "No days to chart.",
      axis,
      caption: "Fees charged minus rewards paid. Bars below the line: the management paid out more than it charged.",
      testid: "trend-earnings-chart",
      barTestid: "trend-earnings-bar",
    });

    // Fees and rewards as amounts (their size, whichever sign a ledger gives them), side by side.
    const size = (name) => (item) => (isKnown(item[name]) ? Math.abs(Number(item[name])) : null);
    const feesRewardsChart = barChart({
      items,
      series: [
        { id: "fees", label: "Fees charged", value: size("fees"), tone: "accent" },
        { id: "rewards", label: "Rewards paid", value: size("rewards"), tone: "warm" },
      ],
      format: formatMoney,
      valueAttr: "data-cents",
      describe: (item, one, value) => `${formatDay(item.date)}: ${one.label.toLowerCase()} ${formatMoney(value)}`,
      summary: items.length
        ? `Fees charged and rewards paid per day from ${formatDay(from)} to ${formatDay(to)}: ` +
          `${formatMoney(Math.abs(totals.fees))} in fees, ${formatMoney(Math.abs(totals.rewards))} in rewards.`
        : "No days to chart.",
      axis,
      caption: "Fees are charged when a task is assigned, rewards paid when it is completed.",
      testid: "trend-fees-rewards-chart",
      barTestid: "trend-fees-rewards-bar",
    });

    const inRed = (item) => (isKnown(item.popugs_in_red) ? Number(item.popugs_in_red) : null);
    const open = items.filter((item) => inRed(item) === null).length;
    const most = extremes(items, inRed).best;
    const inRedChart = barChart({
      items,
      series: [{ id: "popugs_in_red", label: "Popugs in the red", value: inRed, tone: "danger" }],
      format: (value) => String(Math.round(value)),
      describe: (item, _series, value) => `${formatDay(item.date)}: ${plural(value, "popug")} in the red`,
      summary: items.length
        ? `Popugs in the red when each day closed, from ${formatDay(from)} to ${formatDay(to)}: ` +
          (most ? `the most ${inRed(most)} on ${formatDay(most.date)}` : "no day closed yet") +
          (most && open ? `; ${plural(open, "day")} not closed yet.` : ".")
        : "No days to chart.",
      axis,
      caption: "Counted when the day closes: no bar for a day that is not closed yet.",
      testid: "trend-in-red-chart",
      barTestid: "trend-in-red-bar",
    });

    results.replaceChildren(
      h(
        "div",
        { class: "chart-grid" },
        h("div", { class: "chart-block" }, h("h3", {}, "Management earnings"), earningsChart),
        h("div", { class: "chart-block" }, h("h3", {}, "Fees and rewards"), feesRewardsChart),
        h("div", { class: "chart-block" }, h("h3", {}, "Popugs in the red at each close"), inRedChart),
      ),
      trendTable(items, totals),
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    syncUrl();
    load();
  });

  return { element, load, state: value };
}

function trendTable(items, totals) {
  const num = (text) => h("th", { scope: "col", class: "num" }, text);
  const count = (value, testid) => h("td", { class: "num", "data-testid": testid }, isKnown(value) ? String(value) : "—");
  const rows = items.map((item) =>
    h(
      "tr",
      { "data-testid": "trend-row", "data-date": item.date },
      h("th", { scope: "row", class: "nowrap", "data-testid": "trend-date" }, formatDay(item.date)),
      h("td", { class: "num" }, money(item.management_earnings, { signed: true, testid: "trend-earnings" })),
      h("td", { class: "num" }, money(item.fees, { testid: "trend-fees" })),
      h("td", { class: "num" }, money(item.rewards, { testid: "trend-rewards" })),
      h("td", { class: "num" }, money(item.payouts, { testid: "trend-payouts" })),
      count(item.tasks_completed ?? 0, "trend-tasks"),
      count(item.popugs_paid ?? 0, "trend-paid"),
      h(
        "td",
        { class: "num", "data-testid": "trend-in-red" },
        isKnown(item.popugs_in_red)
          ? String(item.popugs_in_red)
          : h("span", { class: "muted", title: "Known once the day is closed" }, "—"),
      ),
    ),
  );
  return h(
    "div",
    { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "trend-caption" },
    h(
      "table",
      { class: "table stats-table", "data-testid": "trend-table" },
      h("caption", { id: "trend-caption", class: "visually-hidden" }, "Analytics per business day"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Day"),
          num("Management earnings"),
          num("Fees"),
          num("Rewards"),
          num("Payouts"),
          num("Tasks completed"),
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
          { "data-testid": "trend-totals" },
          h("th", { scope: "row" }, "Total"),
          h("td", { class: "num" }, money(totals.management_earnings, { signed: true, testid: "trend-total-earnings" })),
          h("td", { class: "num" }, money(totals.fees, { testid: "trend-total-fees" })),
          h("td", { class: "num" }, money(totals.rewards, { testid: "trend-total-rewards" })),
          h("td", { class: "num" }, money(totals.payouts, { testid: "trend-total-payouts" })),
          h("td", { class: "num", "data-testid": "trend-total-tasks" }, String(totals.tasks_completed)),
          h("td", { class: "num", "data-testid": "trend-total-paid" }, String(totals.popugs_paid)),
          h("td", { class: "num muted" }, "—"),
        ),
      ),
    ),
  );
}

// ---- the page -----------------------------------------------------------------------------------------

export async function render(main, ctx) {
  const state = readState(ctx.query);
  main.append(
    pageHeader(
      title,
      "What the management earns, who is in the red, the most expensive tasks and the day-by-day trends, from the analytics data.",
    ),
  );

  let topTask = null;
  let trends = null;
  const syncUrl = () => {
    if (ctx.signal.aborted) return;
    const query = new URLSearchParams({ ...topTask.state(), ...trends.state() });
    window.history.replaceState(null, "", `/analytics?${query}`);
  };
  const today = todayPart(ctx);
  topTask = topTaskPart(ctx, state, syncUrl);
  trends = trendsPart(ctx, state, syncUrl);
  main.append(h("div", { class: "dash" }, today.element, topTask.element, trends.element));

  const loads = await Promise.allSettled([today, topTask, trends].map((part) => part.load({ first: true })));
  const refused = loads.find((outcome) => outcome.status === "rejected");
  if (refused) renderLoadError(main, refused.reason, { signal: ctx.signal, roles: ctx.entry.roles, retry: ctx.reload });
}
