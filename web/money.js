// Money as the accounting pages show it (SPEC §6): integer cents from the API, shown as dollars with two
// decimals ("−$12.50", a real minus sign, negative amounts in the "debt" style), transaction kinds, business
// days as dates, and the ledger (a popug's transactions, newest first, "Load more") that My balance and an
// account's page share. Also the small inline-SVG helper the stats chart uses (h() makes HTML elements only).
//
// A transaction from the API: {transaction_id, kind: fee|reward|payout, amount (signed cents), balance_after,
// task_id, task: {task_id, jira_id, title} | null, reason, business_day: "YYYY-MM-DD", recorded_at}.

import { api, describeError, isAbort } from "./api.js";
import { csvDownload } from "./csv-download.js";
import { listTable, pagedList } from "./paged-list.js";
import { jiraChip } from "./task-parts.js";
import { formatDateTime, h, statusRegion, showMessage } from "./ui.js";

const MINUS = "\u2212";
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** 1234567 -> "$12,345.67"; -1250 -> "−$12.50"; `signed`: "+$12.50" for a positive amount. "—" when not a number. */
export function formatMoney(cents, { signed = false } = {}) {
  const value = Number(cents);
  if (cents === null || cents === undefined || cents === "" || !Number.isFinite(value)) return "—";
  const whole = Math.round(value);
  const abs = Math.abs(whole);
  const dollars = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const rest = String(abs % 100).padStart(2, "0");
  const sign = whole < 0 ? MINUS : signed && whole > 0 ? "+" : "";
  return `${sign}$${dollars}.${rest}`;
}

/**
 * An amount as a <span>: `money`, plus `money-debt` when negative (and `money-credit` when positive and
 * `signed`). `data-cents` keeps the exact value for tests and tools.
 */
export function money(cents, { signed = false, testid = null, big = false } = {}) {
  const value = Number(cents);
  const known = cents !== null && cents !== undefined && Number.isFinite(value);
  const classes = ["money"];
  if (big) classes.push("money-big");
  if (known && value < 0) classes.push("money-debt");
  else if (known && signed && value > 0) classes.push("money-credit");
  return h(
    "span",
    { class: classes.join(" "), "data-testid": testid, "data-cents": known ? String(Math.round(value)) : null },
    formatMoney(cents, { signed }),
  );
}

/**
 * A task's price (R-UI-4): the fee charged for each assignment and the reward for completing it, once
 * accounting has priced the task (`assign_fee`, `reward` in cents; null until then). Test ids: `task-price`,
 * `task-fee`, `task-reward`, or `task-unpriced`.
 */
export function taskPrice(task, { unpriced = "Not priced yet" } = {}) {
  if (task?.assign_fee === null || task?.assign_fee === undefined) {
    return h("span", { class: "muted", "data-testid": "task-unpriced" }, unpriced);
  }
  return h(
    "span",
    { class: "task-price", "data-testid": "task-price" },
    h("span", { class: "nowrap" }, "Fee ", money(task.assign_fee, { testid: "task-fee" })),
    " ",
    h("span", { class: "nowrap" }, "Reward ", money(task.reward, { testid: "task-reward" })),
  );
}

const KINDS = {
  fee: { label: "Fee", chip: "chip-fee", help: "Charged when a task was assigned" },
  reward: { label: "Reward", chip: "chip-reward", help: "Paid for completing a task" },
  payout: { label: "Payout", chip: "chip-payout", help: "The positive balance paid out at the end of a day" },
};

export function kindChip(kind) {
  const known = KINDS[kind];
  return h(
    "span",
    { class: `chip ${known?.chip ?? ""}`.trim(), title: known?.help ?? null, "data-testid": "ledger-kind" },
    known?.label ?? String(kind ?? "—"),
  );
}

const DAY_STATUSES = {
  open: { label: "Open", chip: "chip-open" },
  closing: { label: "Closing", chip: "chip-warn chip-closing" },
  closed: { label: "Closed", chip: "chip-ok" },
};

/** A business day's status: Open / Closing / Closed. */
export function dayStatusChip(status, testid = "day-status") {
  const known = DAY_STATUSES[status];
  return h(
    "span",
    { class: `chip ${known?.chip ?? ""}`.trim(), "data-testid": testid, "data-status": status ?? null },
    known?.label ?? String(status ?? "—"),
  );
}

// ---- dates (business days are plain dates, "YYYY-MM-DD", no time zone) ----------------------------------

function pad(n) {
  return String(n).padStart(2, "0");
}

/** A Date's local calendar date as "YYYY-MM-DD". */
export function isoDate(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Today in this browser, "YYYY-MM-DD". */
export function todayIso(now = new Date()) {
  return isoDate(now);
}

/** Is `text` a real calendar date written "YYYY-MM-DD"? */
export function isIsoDate(text) {
  const found = ISO_DATE.exec(String(text ?? ""));
  if (!found) return false;
  const [year, month, day] = found.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** "2026-11-27" plus `days` (may be negative), as "YYYY-MM-DD" (calendar arithmetic in UTC: no DST jumps). */
export function addDays(iso, days) {
  const [year, month, day] = String(iso).split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, day + days));
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** Whole days from `from` to `to` (both "YYYY-MM-DD"). */
export function daysBetween(from, to) {
  const at = (iso) => {
    const [year, month, day] = String(iso).split("-").map(Number);
    return Date.UTC(year, month - 1, day);
  };
  return Math.round((at(to) - at(from)) / 86_400_000);
}

/** "Fri, 27 Nov 2026" in the reader's locale; the text as is when it is not a date. */
export function formatDay(iso, { weekday = true } = {}) {
  if (!isIsoDate(iso)) return String(iso ?? "—");
  const [year, month, day] = String(iso).split("-").map(Number);
  const date = new Date(year, month - 1, day);
  return date.toLocaleDateString(undefined, {
    weekday: weekday ? "short" : undefined,
    day: "numeric",
    month: "short",
    year: "numeric",
  });
}

// ---- inline SVG ------------------------------------------------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";

/** svg("rect", {x: 0, class: "bar"}, child…): h() for SVG (attributes only; text children as text). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// ---- the balance card and the ledger ----------------------------------------------------------------------

/** The balance, big, with a sentence on what happens to it at the end of the day. */
export function balanceCard({ balance, heading = "Balance", testid = "balance", extra = null }) {
  const value = Number(balance);
  let note;
  if (!Number.isFinite(value)) note = "Not known yet.";
  else if (value > 0) note = "Paid out when the business day closes.";
  else if (value < 0) note = "In debt: carried over until rewards cover it.";
  else note = "Nothing to pay out.";
  return h(
    "section",
    { class: "card balance-card", "aria-labelledby": `${testid}-heading`, "data-testid": `${testid}-card` },
    h("h2", { id: `${testid}-heading`, class: "balance-heading" }, heading),
    h("p", { class: "balance-line" }, money(balance, { big: true, testid })),
    h("p", { class: "muted small", "data-testid": `${testid}-note` }, note),
    extra,
  );
}

function taskCell(item) {
  const task = item.task;
  if (!task && !item.task_id) return h("span", { class: "muted" }, "—");
  return h(
    "span",
    { class: "ledger-task", "data-testid": "ledger-task", "data-task-id": task?.task_id ?? item.task_id },
    jiraChip(task?.jira_id),
    h("span", { "data-testid": "ledger-task-title" }, task?.title || "A task accounting has no title for"),
  );
}

/**
 * A transaction's amount. A payout is money that left the balance for the popug's pocket, not a debt (R-UI-6):
 * it reads "$12.50 paid out to you" (or to the popug whose ledger this is), in the payout style, never as a red
 * minus. Fees and rewards keep their sign.
 */
export function ledgerAmount(item, { payee = "you" } = {}) {
  if (item.kind !== "payout") return money(item.amount, { signed: true, testid: "ledger-amount" });
  const paid = Math.abs(Number(item.amount) || 0);
  return h(
    "span",
    { class: "money-payout", "data-testid": "ledger-payout" },
    h("span", { class: "money", "data-testid": "ledger-amount", "data-cents": String(item.amount) }, formatMoney(paid)),
    " ",
    h("span", { class: "cell-note", "data-testid": "ledger-payout-note" }, `paid out to ${payee}`),
  );
}

function ledgerRow(item, { payee } = {}) {
  // data-label: on a phone each row is a card whose cells name themselves (styles.css, .ledger-table).
  const cell = (label, props, ...children) => h("td", { ...props, "data-label": label }, h("div", { class: "cell-body" }, children));
  return h(
    "tr",
    {
      "data-testid": "ledger-row",
      "data-transaction-id": item.transaction_id,
      "data-kind": item.kind,
      "data-business-day": item.business_day,
    },
    cell(
      "Day",
      { class: "nowrap" },
      h("span", { "data-testid": "ledger-day" }, formatDay(item.business_day)),
      item.recorded_at ? h("span", { class: "cell-note", "data-testid": "ledger-recorded" }, formatDateTime(item.recorded_at)) : null,
    ),
    cell("Kind", {}, kindChip(item.kind)),
    cell("Amount", { class: "num" }, ledgerAmount(item, { payee })),
    cell("Task", { class: "task-cell" }, taskCell(item)),
    cell("Reason", { class: "ledger-reason", "data-testid": "ledger-reason" }, item.reason || "—"),
    cell("Balance after", { class: "num" }, money(item.balance_after, { testid: "ledger-balance" })),
  );
}

/**
 * A popug's transactions, newest first, with "Load more": `path` is the API list
 * ("/accounting/me/transactions"). Returns {element, load()}; load() reads the first page and resolves
 * to its items (so a page can take the newest balance from it), rejecting like api.get.
 * Test ids: `<testid>` (the section), `<testid>-status`, `<testid>-error`, `<testid>-more`, `ledger-row`.
 */
export function ledgerSection({ ctx, path, testid = "ledger", heading = "Transactions", emptyText, csvFilename, payee }) {
  const live = statusRegion(`${testid}-status`);
  const tbody = h("tbody", {});
  let newest = null;
  const paged = pagedList({
    testid,
    signal: ctx.signal,
    fetchPage: (page, signal) => api.get(path, { query: page, signal }),
    show(items, { reset }) {
      if (reset) {
        tbody.replaceChildren();
        newest = items[0] ?? null;
      }
      tbody.append(...items.map((item) => ledgerRow(item, { payee: typeof payee === "function" ? payee() : payee })));
      table.hidden = !paged.shown;
      live.textContent = describe();
    },
  });
  const table = listTable({
    testid,
    caption: `${heading}, newest first`,
    headings: [
      "Day",
      "Kind",
      h("th", { scope: "col", class: "num" }, "Amount"),
      "Task",
      "Reason",
      h("th", { scope: "col", class: "num" }, "Balance after"),
    ],
    tbody,
  });
  table.hidden = true;
  table.querySelector("table")?.classList.add("ledger-table");
  // The whole ledger as CSV (every page, not only those on screen), when the page names the file.
  const download = csvFilename
    ? csvDownload({ testid: `${testid}-csv`, signal: ctx.signal, request: () => ({ path, filename: csvFilename() }) })
    : null;

  function describe() {
    const { shown } = paged;
    if (!shown) return emptyText ?? "No transactions yet.";
    const what = shown === 1 ? "1 transaction" : `${shown} transactions`;
    return `Showing ${what}, newest first${paged.hasMore ? "; more are available" : ""}.`;
  }

  const element = h(
    "section",
    { class: "card", "aria-labelledby": `${testid}-heading`, "data-testid": testid },
    h("h2", { id: `${testid}-heading` }, heading),
    live,
    paged.error,
    table,
    download?.alert,
    h("div", { class: "actions" }, paged.more, download?.button),
  );

  return {
    element,
    /** Read the first page again (rejects like api.get; the caller shows the failure, see fail()). */
    async load() {
      live.textContent = "Loading transactions…";
      showMessage(paged.error, "");
      try {
        await paged.loadPage({ reset: true });
      } catch (failure) {
        live.textContent = "";
        throw failure;
      }
    },
    /** The newest transaction (the first of the first page), or null when the ledger is empty. */
    newest() {
      return newest;
    },
    /** Show a failure of the first page inside the section (the rest of the page stays usable). */
    fail(failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      live.textContent = "";
      showMessage(paged.error, `Could not load the transactions. ${describeError(failure)}`);
    },
  };
}

// ---- accounts seen on the accounts list (for the header of an account's own page) ---------------------------

const seen = new Map(); // employee_id -> {employee_id, name, email, balance, dismissed}

export function rememberAccounts(items) {
  for (const account of items ?? []) if (account?.employee_id) seen.set(account.employee_id, account);
}

export function rememberedAccount(id) {
  return seen.get(id) ?? null;
}
