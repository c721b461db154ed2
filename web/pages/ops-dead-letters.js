// Dead letters (admins, R-EV-4, R-UI-1): per consumer queue, what waits in its dead-letter queue and why, and a
// redrive. GET /api/ops/dead-letters -> {items: [{consumer, waiting, messages: [{message_id, event_id, event_name,
// event_version, producer, correlation_id, event_time, data, error, attempts, failed_at, body}]}], next_cursor}:
// one item per consumer, `messages` a peek of at most 20 (`body` is the raw message only when it was not a readable
// event). POST /api/ops/dead-letters/{consumer}/redrive -> {consumer, redriven, waiting} moves what waits back to the
// consumer's queue: an event applied meanwhile changes nothing (the consumer's inbox), and one that still fails comes
// back here after its retries. The page shows one card per consumer ("nothing waiting" when empty), a "Redrive N"
// button that asks first, then "N redriven" on the card and a fresh look; "Refresh" looks again.

import { api, describeError, isAbort } from "../api.js";
import {
  clear,
  confirmDialog,
  formatDateTime,
  h,
  pageHeader,
  renderLoadError,
  setBusy,
  showMessage,
  statusRegion,
} from "../ui.js";

export const title = "Dead letters";

/** What each consumer does, so an admin knows what is held up (the names are the template's). */
export const CONSUMERS = {
  AuthEmployeeEvents: "Auth hears of hires, changes and dismissals: accounts and invitations.",
  TasksAccountEvents: "Tasks hears of accounts and roles: who can take tasks.",
  TasksPriceEvents: "Tasks hears of prices: each task's fee and reward, shown on its page and in lists.",
  AccountingTaskEvents: "Accounting hears of tasks created, assigned and completed: prices, fees and rewards.",
  AccountingEmployeeEvents: "Accounting hears of hires, changes and dismissals: popugs' accounts.",
  AccountingDayClosed: "Accounting hears of closed days: the backup after each close.",
  AnalyticsEvents: "Analytics hears of every event: the lake behind the dashboard and the SQL console.",
  // Stream batches a function gave up on after its retries; a redrive reads them back from the table's stream.
  AuthOutboxRelay: "Auth's events on their way to the bus: accounts, roles, sign-ins.",
  AuthMailer: "Auth's emails: invitations.",
  StaffOutboxRelay: "Staff's events on their way to the bus: hires, changes, dismissals, departments.",
  TasksOutboxRelay: "Tasks' events on their way to the bus: tasks created, assigned, completed.",
  AccountingOutboxRelay: "Accounting's events on their way to the bus: transactions, payouts, closed days.",
  AccountingPayoutMailer: "Payout emails after a day's close.",
};

const PEEK_MAX = 20;
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const count = (value) => Math.max(0, Number(value) || 0);

/** Pretty JSON for the "data" view; anything that cannot be shown as JSON is shown as text. */
export function prettyJson(value) {
  if (value === undefined) return "";
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

function eventLabel(message) {
  const name = message.event_name || "Unreadable message";
  const version = message.event_version === null || message.event_version === undefined ? null : message.event_version;
  return [
    h("span", { class: "dl-event-name", "data-testid": "dl-event" }, name),
    version === null ? null : [" ", h("span", { class: "chip dl-version", "data-testid": "dl-version" }, `v${version}`)],
  ];
}

const COLUMNS = 6;
let rowSeq = 0;

function dataPanel(message, raw) {
  const text = raw ? String(message.body) : prettyJson(message.data ?? null);
  const facts = raw
    ? null
    : h(
        "dl",
        { class: "dl-facts small" },
        h("dt", {}, "Event id"),
        h("dd", {}, h("code", { "data-testid": "dl-event-id" }, message.event_id ?? "—")),
        h("dt", {}, "Event time"),
        h("dd", { title: message.event_time ?? null }, formatDateTime(message.event_time)),
        h("dt", {}, "Message id"),
        h("dd", {}, h("code", {}, message.message_id ?? "—")),
      );
  return [
    facts,
    raw ? h("p", { class: "muted small" }, "Not a readable event; the message as it was received:") : null,
    h("pre", { class: "dl-json", "data-testid": "dl-data-json", tabindex: "0" }, text),
  ];
}

/** One dead letter: its row, and below it the row its "Data" button opens (pretty JSON, or the raw message). */
function messageRows(message) {
  const raw = Boolean(!message.event_name && message.body);
  const panelId = `dl-data-${++rowSeq}`;
  const ids = {
    "data-message-id": message.message_id ?? "",
    "data-event-id": message.event_id ?? "",
    "data-correlation-id": message.correlation_id ?? "",
  };
  const toggle = h(
    "button",
    {
      type: "button",
      class: "link-button dl-data-toggle",
      "aria-expanded": "false",
      "aria-controls": panelId,
      "data-testid": "dl-data-toggle",
    },
    raw ? "Raw message" : "Data",
  );
  const panel = h(
    "tr",
    { id: panelId, class: "dl-data-row", hidden: true, "data-testid": "dl-data", ...ids },
    h("td", { colspan: String(COLUMNS) }, dataPanel(message, raw)),
  );
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
  });
  const row = h(
    "tr",
    { class: "dl-row", "data-testid": "dl-row", "data-event-name": message.event_name ?? "", ...ids },
    h("td", { class: "dl-event-cell" }, eventLabel(message), h("div", { class: "dl-toggle-line" }, toggle)),
    h("td", { "data-testid": "dl-producer" }, message.producer ?? "—"),
    h(
      "td",
      { class: "dl-failed", "data-testid": "dl-failed-at", title: message.failed_at ?? null },
      formatDateTime(message.failed_at),
    ),
    h(
      "td",
      { class: "num", "data-testid": "dl-attempts" },
      message.attempts === null || message.attempts === undefined ? "—" : String(message.attempts),
    ),
    h("td", { class: "dl-error-cell" }, h("code", { class: "dl-error", "data-testid": "dl-error" }, message.error ?? "—")),
    h("td", {}, h("code", { class: "dl-correlation", "data-testid": "dl-correlation" }, message.correlation_id ?? "—")),
  );
  return [row, panel];
}

function messagesTable(consumer, messages) {
  const id = `dl-caption-${consumer}`;
  return h(
    "div",
    { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": id },
    h(
      "table",
      { class: "table dl-table", "data-testid": "dl-table" },
      h("caption", { id, class: "visually-hidden" }, `Dead letters of ${consumer}`),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Event"),
          h("th", { scope: "col" }, "Producer"),
          h("th", { scope: "col" }, "Failed"),
          h("th", { scope: "col", class: "num" }, "Attempts"),
          h("th", { scope: "col" }, "Error"),
          h("th", { scope: "col" }, "Correlation id"),
        ),
      ),
      h("tbody", {}, messages.map(messageRows)),
    ),
  );
}

export function render(main, ctx) {
  main.append(
    pageHeader(
      title,
      "An event a consumer could not apply is tried 5 times with growing pauses, then waits here with the reason. " +
        "Redriving sends it back to its consumer's queue: it is applied once (the consumer's inbox drops repeats), " +
        "and one that still fails comes back here after its retries.",
    ),
  );

  const refresh = h("button", { type: "button", class: "btn btn-secondary", "data-testid": "dl-refresh" }, "Refresh");
  const updated = h("p", { class: "muted small dl-updated", "data-testid": "dl-updated" });
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "dl-refresh-error", hidden: true });
  const live = statusRegion("dl-status");
  live.classList.add("visually-hidden");
  const summary = h("p", { class: "dl-summary", "data-testid": "dl-summary" });
  const cards = h(
    "div",
    { class: "dl-cards", "data-testid": "dl-cards", "aria-busy": "true" },
    h("p", { class: "loading" }, "Loading…"),
  );
  main.append(h("div", { class: "dl-toolbar" }, refresh, updated), alert, live, summary, cards);

  const notes = new Map(); // consumer -> {text, tone}: what its last redrive did, kept across refreshes
  let loaded = false;
  let loader = null; // the load in flight; a newer one aborts it
  let redriving = null; // the consumer being redriven (one at a time)

  function card(item) {
    const consumer = String(item.consumer ?? "");
    const waiting = count(item.waiting);
    const messages = Array.isArray(item.messages) ? item.messages : [];
    const headingId = `dl-card-${consumer}`;
    const cardAlert = h("div", { class: "alert", role: "alert", "data-testid": "dl-card-error", hidden: true });
    const note = notes.get(consumer);
    const button =
      waiting > 0
        ? h(
            "button",
            { type: "button", class: "btn", "data-testid": "dl-redrive", "data-consumer": consumer },
            `Redrive ${waiting}`,
          )
        : null;
    if (button) {
      button.disabled = redriving !== null;
      button.addEventListener("click", () => redrive(consumer, waiting, button, cardAlert));
    }
    let body;
    if (waiting === 0) {
      body = h("p", { class: "dl-calm", "data-testid": "dl-empty" }, "Nothing waiting: every event reached this consumer.");
    } else if (!messages.length) {
      body = h(
        "p",
        { class: "muted", "data-testid": "dl-none-peeked" },
        `${plural(waiting, "dead letter")} waiting, but none could be read just now (they may be in flight). Refresh in a moment.`,
      );
    } else {
      body = [
        messagesTable(consumer, messages),
        waiting > messages.length
          ? h(
              "p",
              { class: "muted small", "data-testid": "dl-peek-note" },
              `Showing ${messages.length} of ${waiting}${messages.length >= PEEK_MAX ? ` (at most ${PEEK_MAX} are shown)` : ""}.`,
            )
          : null,
      ];
    }
    return h(
      "section",
      {
        class: `card dl-card${waiting ? " dl-card-waiting" : ""}`,
        "aria-labelledby": headingId,
        "data-testid": "dl-card",
        "data-consumer": consumer,
        "data-waiting": String(waiting),
      },
      h(
        "div",
        { class: "dl-card-head" },
        h(
          "div",
          {},
          h(
            "h2",
            { id: headingId, tabindex: "-1" },
            consumer,
            " ",
            h(
              "span",
              { class: `chip ${waiting ? "chip-danger" : "chip-ok"}`, "data-testid": "dl-count", "data-count": String(waiting) },
              waiting ? `${waiting} waiting` : "nothing waiting",
            ),
          ),
          CONSUMERS[consumer] ? h("p", { class: "muted small dl-about" }, CONSUMERS[consumer]) : null,
        ),
        button,
      ),
      note ? h("p", { class: `notice dl-note dl-note-${note.tone}`, "data-testid": "dl-redriven" }, note.text) : null,
      cardAlert,
      body,
    );
  }

  function show(answer) {
    const items = Array.isArray(answer?.items) ? answer.items : [];
    const total = items.reduce((sum, item) => sum + count(item.waiting), 0);
    const held = items.filter((item) => count(item.waiting) > 0).length;
    summary.textContent = total
      ? `${plural(total, "dead letter")} waiting in ${plural(held, "consumer")} of ${items.length}.`
      : `Nothing waiting: all ${plural(items.length, "consumer")} are clear.`;
    summary.dataset.total = String(total);
    clear(cards).append(
      ...(items.length ? items.map(card) : [h("p", { class: "muted" }, "No consumers are configured.")]),
    );
    cards.setAttribute("aria-busy", "false");
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
  }

  /** Look again; the first failure is the page's (403 -> forbidden), later ones an alert above the cards. */
  async function load() {
    loader?.abort();
    const mine = new AbortController();
    loader = mine;
    const leave = () => mine.abort();
    ctx.signal.addEventListener("abort", leave, { once: true });
    setBusy(refresh, true, "Refreshing…");
    cards.setAttribute("aria-busy", "true");
    try {
      const answer = await api.get("/ops/dead-letters", { signal: mine.signal });
      if (mine.signal.aborted) return;
      loaded = true;
      showMessage(alert, "");
      show(answer);
    } catch (failure) {
      if (isAbort(failure) || mine.signal.aborted || ctx.signal.aborted || failure?.handled) return;
      if (!loaded) {
        renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: ctx.reload });
        return;
      }
      cards.setAttribute("aria-busy", "false");
      showMessage(alert, `Could not refresh the dead letters: ${describeError(failure)}`);
    } finally {
      ctx.signal.removeEventListener("abort", leave);
      if (loader === mine) {
        loader = null;
        setBusy(refresh, false);
      }
    }
  }

  async function redrive(consumer, waiting, button, cardAlert) {
    const sure = await confirmDialog({
      title: `Redrive ${plural(waiting, "dead letter")} of ${consumer}?`,
      message:
        `${waiting === 1 ? "It goes" : "They go"} back to the ${consumer} queue and ${waiting === 1 ? "is" : "are"} ` +
        "applied once (an event applied meanwhile changes nothing). One that fails again comes back here after its retries.",
      confirmLabel: `Redrive ${waiting}`,
      testid: "dl-dialog",
      signal: ctx.signal,
    });
    if (!sure || ctx.signal.aborted || redriving !== null) return;
    redriving = consumer;
    for (const other of cards.querySelectorAll('[data-testid="dl-redrive"]')) other.disabled = true;
    setBusy(button, true, "Redriving…");
    showMessage(cardAlert, "");
    try {
      const answer = await api.post(`/ops/dead-letters/${encodeURIComponent(consumer)}/redrive`, undefined, {
        signal: ctx.signal,
      });
      if (ctx.signal.aborted) return;
      const moved = count(answer?.redriven);
      const left = count(answer?.waiting);
      let text;
      if (!moved) text = "0 redriven: nothing was waiting any more.";
      else text = `${moved} redriven: back in the ${consumer} queue.`;
      if (left) text += ` ${left} still waiting; press Redrive again.`;
      notes.set(consumer, { text, tone: left ? "partial" : "done" });
      live.textContent = `${consumer}: ${text}`;
      redriving = null;
      await load();
      if (ctx.signal.aborted) return;
      const again = [...cards.querySelectorAll('[data-testid="dl-card"]')].find((el) => el.dataset.consumer === consumer);
      again?.querySelector("h2")?.focus();
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      redriving = null;
      setBusy(button, false);
      for (const other of cards.querySelectorAll('[data-testid="dl-redrive"]')) other.disabled = false;
      showMessage(cardAlert, `Could not redrive ${consumer}: ${describeError(failure)}`);
    } finally {
      if (redriving === consumer) redriving = null;
    }
  }

  refresh.addEventListener("click", () => {
    notes.clear();
    load();
  });
  return load();
}
