// Close day (admins, R-ACC-5, R-UI-6): the page offers only a day that can be closed now, and says before the
// confirmation what closing it will do. It asks GET /api/accounting/days/{day}/preview, which answers whether
// the day can be closed (`closable`, or `refusal` {code, message}: future_day, previous_day_open,
// before_first_day, already_closed, closing), the business `today` and `next_open_day`, and the close's own
// figures computed now (popugs_to_pay, total_to_pay, popugs_in_red, accounts). The date field starts at the next
// open day only when that day can be closed (never a day that has not ended); the "Close day" button is enabled
// only while the chosen day's preview says it can be closed; the confirmation repeats the preview, read again.
// Then POST /api/accounting/days/{date}/close -> 202 with the day; then poll GET /api/accounting/days/{date}
// every second with a progress bar (accounts visited of accounts to visit), popugs paid, total paid, popugs in
// the red and the payout emails, until the day is closed (and, for a little longer, until its emails are
// sent), after which the page names the next day to close. A 409 that still happens (someone else closed
// meanwhile) is said readably; previous_day_open offers the earliest open day. The day being followed stays in
// the URL (/money/close?day=2026-11-27), so a reload keeps watching it.
//
// A day: {business_day, status: open|closing|closed, total (null until counted), done, popugs_paid,
// total_paid, popugs_in_red, emails_queued, emails_sent, started_at, finished_at, next_open_day}.

import { api, describeError, isAbort, sentence } from "../api.js";
import { field } from "../forms.js";
import { dayStatusChip, formatDay, formatMoney, isIsoDate, money, todayIso } from "../money.js";
import { clear, confirmDialog, formatDateTime, h, pageHeader, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "Close day";
const POLL_MS = 1000;
const RETRY_MS = 2000; // after a failed poll
const MAX_FAILED_POLLS = 10;
const EMAIL_POLLS = 30; // after the day is closed, how long to keep watching its emails go out
const DATE_IN_TEXT = /\b(\d{4}-\d{2}-\d{2})\b/;

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What closing the previewed day will do, in words (the preview card and the confirmation say it alike). */
export function previewText(preview) {
  const paid = count(preview.popugs_to_pay);
  const red = count(preview.popugs_in_red);
  const pay = paid
    ? `${plural(paid, "popug")} will be paid ${formatMoney(preview.total_to_pay)} in total`
    : "nobody has a positive balance to pay";
  const debt = red ? `${plural(red, "popug")} ${red === 1 ? "stays" : "stay"} in the red (carried over)` : "nobody stays in the red";
  return sentence(`${pay}; ${debt}`);
}
const count = (value) => Number(value) || 0;

/** The earliest open day a 409 previous_day_open is about: a field if the API sends one, else from its words. */
export function earliestOpenDay(error) {
  const details = error?.details ?? {};
  for (const name of ["earliest_open_day", "next_open_day", "open_day", "business_day"]) {
    if (isIsoDate(details[name])) return details[name];
  }
  const found = DATE_IN_TEXT.exec(String(error?.message ?? ""));
  return found && isIsoDate(found[1]) ? found[1] : null;
}

function progressText(day) {
  const total = day.total;
  const done = count(day.done);
  if (day.status === "closed") {
    return total === null || total === undefined ? "Every account visited." : `${plural(count(total), "account")} visited.`;
  }
  if (day.status === "open") return "Waiting for the close to start…";
  if (total === null || total === undefined) return "Counting the accounts to visit…";
  return `${done} of ${plural(count(total), "account")} visited.`;
}

function emailsText(day) {
  const queued = count(day.emails_queued);
  const sent = count(day.emails_sent);
  if (!queued) return day.status === "closed" ? "None: nobody was paid." : "None yet.";
  return `${sent} of ${queued} sent`;
}

function resultText(day, { alreadyClosed }) {
  const paid = count(day.popugs_paid);
  const red = count(day.popugs_in_red);
  const who = paid ? `${plural(paid, "popug")} paid, ` : "nobody had a positive balance to pay, ";
  const debt = red ? `${plural(red, "popug")} in the red (carried over).` : "nobody in the red.";
  const already = alreadyClosed ? " It was already closed, so nothing more was paid." : "";
  return `${formatDay(day.business_day)} is closed: ${who}${debt}${already}`;
}

export function render(main, ctx) {
  main.append(
    pageHeader(
      title,
      "Closing a business day pays every popug with a positive balance (their balance goes to zero) and emails " +
        "them what they earned; a zero or negative balance carries over. Days close in order; a schedule closes " +
        "yesterday shortly after midnight.",
    ),
  );

  const dateField = field({
    label: "Business day",
    control: h("input", { type: "date", name: "day", required: true }),
    hint: "Any day up to today, once every earlier day is closed: what closing it will do shows below.",
    testid: "close-date",
  });
  const start = h("button", { type: "submit", class: "btn", "data-testid": "close-start" }, "Close day");
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "close-error", hidden: true });
  const pickSlot = h("div", { class: "actions", hidden: true, "data-testid": "close-suggestion" });
  const next = h("p", { class: "muted small", "data-testid": "close-next", hidden: true });
  // What closing the chosen day would do (or why it cannot be closed now), before any confirmation (R-UI-6).
  const previewSlot = h("section", {
    class: "close-preview",
    "aria-labelledby": "close-preview-title",
    "aria-live": "polite",
    "data-testid": "close-preview",
    hidden: true,
  });
  const live = statusRegion("close-status");
  live.classList.add("visually-hidden");
  const form = h(
    "form",
    { class: "form", "aria-labelledby": "close-form-title", "data-testid": "close-form", novalidate: true },
    dateField.element,
    next,
    previewSlot,
    h("div", { class: "actions" }, start),
  );
  const daySlot = h("div", { class: "job-slot", "data-testid": "close-day-slot" });
  main.append(
    h(
      "section",
      { class: "card" },
      h("h2", { id: "close-form-title" }, "Choose the day"),
      alert,
      pickSlot,
      live,
      form,
    ),
    daySlot,
  );

  let timer = null;
  let watching = null; // the current follow (a new one, even of the same day, ends the previous)
  ctx.signal.addEventListener("abort", () => window.clearTimeout(timer));

  let previewed = null; // the preview shown, for the day in the field
  let previewing = null; // the AbortController of the preview being read

  /** "Close day" is offered only for a day whose preview says it can be closed (and not while one closes). */
  function updateStart() {
    if (start.classList.contains("is-busy")) return;
    start.disabled = !(previewed?.closable && previewed.business_day === dateField.control.value);
  }

  function idle() {
    setBusy(start, false);
    updateStart();
  }

  function sayNext(preview) {
    const { today, next_open_day: nextOpen } = preview ?? {};
    next.hidden = !isIsoDate(nextOpen);
    if (next.hidden) return;
    next.textContent =
      isIsoDate(today) && nextOpen > today
        ? `Every day up to ${formatDay(today)} is closed; the next one, ${formatDay(nextOpen)}, can be closed from when it begins.`
        : `The next day to close is ${formatDay(nextOpen)}.`;
  }

  function previewCard(preview) {
    const day = preview.business_day;
    if (!preview.closable) {
      const nextOpen = preview.next_open_day;
      const offer = isIsoDate(nextOpen) && nextOpen !== day && !(nextOpen > preview.today);
      return [
        h("h3", { id: "close-preview-title" }, `${formatDay(day)} cannot be closed now`),
        h("p", { class: "notice", "data-testid": "close-preview-refusal", "data-code": preview.refusal?.code ?? null },
          sentence(preview.refusal?.message ?? "This day cannot be closed now.")),
        offer ? suggestButton(nextOpen) : null,
      ];
    }
    const row2 = (label, value, testid) => [h("dt", {}, label), h("dd", { "data-testid": testid }, value)];
    return [
      h("h3", { id: "close-preview-title" }, `If you close ${formatDay(day)} now`),
      h("p", { "data-testid": "close-preview-text" }, previewText(preview)),
      h(
        "dl",
        { class: "details close-details" },
        row2("Popugs to pay", String(count(preview.popugs_to_pay)), "close-preview-paid"),
        row2("Total to pay", money(preview.total_to_pay ?? 0, { testid: "close-preview-total" }), "close-preview-total-cell"),
        row2("Stay in the red", String(count(preview.popugs_in_red)), "close-preview-in-red"),
        row2("Accounts to visit", String(count(preview.accounts)), "close-preview-accounts"),
      ),
      h(
        "p",
        { class: "muted small", "data-testid": "close-preview-as-of" },
        `Worked out ${formatDateTime(preview.as_of)}; money that moves before the close starts changes it.`,
      ),
    ];
  }

  /** Read (again) what closing `date` would do, show it, and offer "Close day" only if it can be closed. */
  async function loadPreview(date) {
    previewing?.abort();
    const mine = new AbortController();
    previewing = mine;
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    previewed = null;
    updateStart();
    if (!isIsoDate(date)) {
      previewSlot.hidden = true;
      return null;
    }
    previewSlot.hidden = false;
    previewSlot.setAttribute("aria-busy", "true");
    clear(previewSlot).append(h("p", { class: "loading" }, `Working out what closing ${formatDay(date)} would do…`));
    try {
      const preview = await api.get(`/accounting/days/${encodeURIComponent(date)}/preview`, { signal: mine.signal });
      if (mine.signal.aborted || previewing !== mine) return null;
      previewed = preview;
      sayNext(preview);
      previewSlot.dataset.day = preview.business_day;
      previewSlot.dataset.closable = String(Boolean(preview.closable));
      clear(previewSlot).append(...previewCard(preview).filter(Boolean));
      return preview;
    } catch (failure) {
      if (isAbort(failure) || mine.signal.aborted || failure?.handled) return null;
      previewSlot.dataset.closable = "false";
      clear(previewSlot).append(
        h("p", { class: "alert", "data-testid": "close-preview-error" },
          `Could not work out what closing ${formatDay(date)} would do: ${describeError(failure)}`),
      );
      return null;
    } finally {
      if (previewing === mine) {
        previewSlot.setAttribute("aria-busy", "false");
        updateStart();
      }
    }
  }

  function row(label, value, testid) {
    return [h("dt", {}, label), h("dd", { "data-testid": testid }, value)];
  }

  function dayCard(day, { note, alreadyClosed = false } = {}) {
    const closed = day.status === "closed";
    const total = day.total === null || day.total === undefined ? null : count(day.total);
    const bar = h("progress", {
      id: "close-progress",
      max: String(Math.max(total ?? 0, 1)),
      value: String(closed ? Math.max(total ?? 0, 1) : Math.min(count(day.done), total ?? 0)),
      "aria-labelledby": "close-day-title",
      "aria-valuetext": progressText(day),
      "data-testid": "close-progress",
      "data-status": day.status,
    });
    if (!closed && total === null) bar.removeAttribute("value"); // indeterminate until the accounts are counted
    const headings = {
      open: `${formatDay(day.business_day)} is open`,
      closing: `Closing ${formatDay(day.business_day)}`,
      closed: `${formatDay(day.business_day)} closed`,
    };
    return h(
      "section",
      {
        class: `card job job-${closed ? "done" : "running"}`,
        "aria-labelledby": "close-day-title",
        "aria-busy": closed ? "false" : "true",
        "data-testid": "close-day",
        "data-day": day.business_day,
        "data-status": day.status,
      },
      h(
        "h2",
        { id: "close-day-title", tabindex: "-1", "data-testid": "close-day-title" },
        headings[day.status] ?? formatDay(day.business_day),
        " ",
        dayStatusChip(day.status, "close-day-status"),
      ),
      note ? h("p", { class: "notice", "data-testid": "close-note" }, note) : null,
      h("div", { class: "progress-wrap" }, bar),
      h("p", { class: "progress-text", "data-testid": "close-progress-text" }, progressText(day)),
      h(
        "dl",
        { class: "details close-details" },
        row("Popugs paid", String(count(day.popugs_paid)), "close-paid"),
        row("Total paid", money(day.total_paid ?? 0, { testid: "close-total-paid" }), "close-total-paid-cell"),
        row(
          "In the red",
          day.popugs_in_red === null || day.popugs_in_red === undefined ? "—" : String(day.popugs_in_red),
          "close-in-red",
        ),
        row("Payout emails", emailsText(day), "close-emails"),
      ),
      closed ? h("p", { class: "notice result", "data-testid": "close-result" }, resultText(day, { alreadyClosed })) : null,
      day.started_at
        ? h(
            "p",
            { class: "muted small", "data-testid": "close-times" },
            `Started ${formatDateTime(day.started_at)}`,
            day.finished_at ? `, finished ${formatDateTime(day.finished_at)}` : "",
            ".",
          )
        : null,
    );
  }

  function show(day, options) {
    clear(daySlot).append(dayCard(day, options));
  }

  /** Follow a day until it is closed (then a little longer while its emails go out). */
  function watch(first, options = {}) {
    const date = first.business_day;
    const me = {};
    watching = me;
    window.clearTimeout(timer);
    window.history.replaceState(null, "", `/money/close?day=${encodeURIComponent(date)}`);
    let failures = 0;
    let emailPolls = 0;
    let announced = false;

    const settle = (day) => {
      show(day, options);
      if (day.status === "open" && options.known === false) {
        // Followed from the URL, and nobody is closing it: nothing to watch.
        idle();
        return true;
      }
      if (day.status !== "closed") return false;
      if (!announced) {
        announced = true;
        live.textContent = resultText(day, options);
        idle();
        pickDefault({ replace: true }); // name (and offer, if it can be closed) the next day, not this one
      }
      // Closed: keep watching only while payout emails are still on their way, and not for ever.
      emailPolls += 1;
      return count(day.emails_sent) >= count(day.emails_queued) || emailPolls > EMAIL_POLLS;
    };

    const poll = async () => {
      if (ctx.signal.aborted || watching !== me) return;
      try {
        const day = await api.get(`/accounting/days/${encodeURIComponent(date)}`, { signal: ctx.signal });
        if (ctx.signal.aborted || watching !== me) return;
        failures = 0;
        showMessage(alert, "");
        if (settle(day)) return;
        timer = window.setTimeout(poll, POLL_MS);
      } catch (failure) {
        if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
        failures += 1;
        if (failure?.status === 404 || failure?.status === 403 || failure?.status === 422 || failures >= MAX_FAILED_POLLS) {
          showMessage(alert, `Could not follow ${date}: ${describeError(failure)}`);
          watching = null;
          idle();
          return;
        }
        showMessage(alert, `Lost touch with the close of ${date} (${describeError(failure)}) Trying again…`);
        timer = window.setTimeout(poll, RETRY_MS);
      }
    };

    if (first.status !== "closed") setBusy(start, true, "Closing…");
    if (options.known === false) {
      clear(daySlot).append(
        h(
          "section",
          { class: "card job", "aria-busy": "true", "data-testid": "close-day", "data-day": date },
          h("h2", { id: "close-day-title", tabindex: "-1" }, formatDay(date)),
          h("p", { class: "loading" }, "Loading its progress…"),
        ),
      );
      poll();
    } else if (!settle(first)) {
      timer = window.setTimeout(poll, POLL_MS);
    }
  }

  function suggestButton(day) {
    const pick = h(
      "button",
      { type: "button", class: "btn btn-secondary btn-small", "data-testid": "close-pick-earliest" },
      `Choose ${formatDay(day)} instead`,
    );
    pick.addEventListener("click", () => {
      dateField.control.value = day;
      suggest(null);
      showMessage(alert, "");
      dateField.control.focus();
      loadPreview(day);
    });
    return pick;
  }

  function suggest(day) {
    clear(pickSlot);
    pickSlot.hidden = !day;
    if (day) pickSlot.append(suggestButton(day));
  }

  dateField.control.addEventListener("input", () => {
    dateField.setError("");
    showMessage(alert, "");
    suggest(null);
    loadPreview(dateField.control.value);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const date = dateField.control.value;
    dateField.setError("");
    showMessage(alert, "");
    suggest(null);
    if (!isIsoDate(date)) {
      dateField.setError("Pick the day to close, like 2026-11-27.");
      dateField.control.focus();
      return;
    }
    // Read again just before asking: what the confirmation says is what the close will do.
    setBusy(start, true, "Checking…");
    const fresh = await loadPreview(date);
    setBusy(start, false);
    updateStart();
    if (ctx.signal.aborted) return;
    if (!fresh?.closable) {
      dateField.control.focus();
      return;
    }
    const sure = await confirmDialog({
      title: `Close ${formatDay(date)}?`,
      message:
        `${previewText(fresh)} Every popug with a positive balance is paid out and emailed; this cannot be undone. ` +
        "Transactions recorded after the close count towards the next day.",
      confirmLabel: "Close day",
      testid: "close-dialog",
      signal: ctx.signal,
    });
    if (!sure || ctx.signal.aborted) return;
    setBusy(start, true, "Starting…");
    try {
      const day = await api.post(`/accounting/days/${encodeURIComponent(date)}/close`, undefined, { signal: ctx.signal });
      if (ctx.signal.aborted) return;
      const shown = { ...day, business_day: day?.business_day || date };
      const alreadyClosed = shown.status === "closed";
      live.textContent = alreadyClosed ? `${formatDay(date)} was already closed.` : `Closing ${formatDay(date)} started.`;
      watch(shown, { alreadyClosed });
      daySlot.querySelector("h2")?.focus();
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      idle();
      showMessage(alert, describeError(failure));
      if (failure?.code === "previous_day_open") {
        const earliest = earliestOpenDay(failure);
        if (earliest && earliest !== date) suggest(earliest);
      }
      if (failure?.status === 422) dateField.control.focus();
    }
  });

  /**
   * The day to offer: the next one still open, if it can be closed now (never a day that has not ended); the
   * business `today` and `next_open_day` come with any preview. `replace`: after a close, move on to the next.
   */
  async function pickDefault({ replace = false } = {}) {
    try {
      const probe = await api.get(`/accounting/days/${todayIso()}/preview`, { signal: ctx.signal });
      if (ctx.signal.aborted) return;
      sayNext(probe);
      const nextOpen = probe?.next_open_day;
      const closable = isIsoDate(nextOpen) && !(nextOpen > probe.today);
      if (dateField.control.value && !replace) {
        loadPreview(dateField.control.value); // a day from the URL, or typed while this was read
        return;
      }
      dateField.control.value = closable ? nextOpen : "";
      loadPreview(closable ? nextOpen : "");
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      showMessage(alert, `Could not find the next day to close: ${describeError(failure)}`);
    }
  }

  // Opened with ?day=…: follow that day (after a reload, or a link); otherwise offer the next day to close.
  const fromUrl = ctx.query.get("day");
  if (isIsoDate(fromUrl)) {
    dateField.control.value = fromUrl;
    watch({ business_day: fromUrl, status: "closing" }, { known: false });
  }
  updateStart();
  pickDefault();
}
