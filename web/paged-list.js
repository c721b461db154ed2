// A list read page by page with "Load more" (GET …?limit=&cursor= -> {items, next_cursor}): the error alert,
// the button, and the table most such lists sit in. Used by staff, accounts, all tasks and my tasks.

import { describeError, isAbort } from "./api.js";
import { h, setBusy, showMessage } from "./ui.js";

const PAGE_SIZE = 50;

/**
 * pagedList({testid, signal, fetchPage, show}) -> {error, more, shown, hasMore, loadPage({reset})}
 * `fetchPage({limit, cursor}, signal)` asks the API for a page; `show(items, {reset})` puts it on screen
 * (emptying the list first on reset). `signal` is the page's: leaving the page aborts the list.
 * The alert is `<testid>-error`, the button `<testid>-more`.
 */
export function pagedList({ testid, signal: pageSignal, fetchPage, show }) {
  const error = h("div", { class: "alert", role: "alert", "data-testid": `${testid}-error`, hidden: true });
  const more = h(
    "button",
    { type: "button", class: "btn btn-secondary", "data-testid": `${testid}-more`, hidden: true },
    "Load more",
  );
  let cursor = null;
  let controller = null;

  const list = {
    error,
    more,
    shown: 0,
    get hasMore() {
      return Boolean(cursor);
    },
    async loadPage({ reset = false } = {}) {
      if (reset || !controller) {
        // A new list replaces any request still on its way for the previous one (other filters, say).
        controller?.abort();
        controller = new AbortController();
        const leave = controller;
        pageSignal.addEventListener("abort", () => leave.abort(), { once: true });
        cursor = null;
      }
      const { signal } = controller;
      const answer = await fetchPage({ limit: PAGE_SIZE, cursor }, signal);
      if (signal.aborted) return;
      const items = Array.isArray(answer?.items) ? answer.items : [];
      list.shown = (reset ? 0 : list.shown) + items.length;
      cursor = answer?.next_cursor || null;
      more.hidden = !cursor;
      show(items, { reset });
    },
  };

  more.addEventListener("click", async () => {
    setBusy(more, true, "Loading…");
    showMessage(error, "");
    try {
      await list.loadPage();
    } catch (failure) {
      if (!isAbort(failure) && !pageSignal.aborted && !failure?.handled) showMessage(error, describeError(failure));
    } finally {
      setBusy(more, false);
    }
  });

  return list;
}

/**
 * The scrollable table of a list: `<testid>-table`, a hidden caption, one column heading per entry of
 * `headings` (text, or a ready <th>; null leaves the column out), then `tbody`.
 */
export function listTable({ testid, caption, headings, tbody }) {
  return h(
    "div",
    { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": `${testid}-caption` },
    h(
      "table",
      { class: "table", "data-testid": `${testid}-table` },
      h("caption", { id: `${testid}-caption`, class: "visually-hidden" }, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headings.map((heading) => (typeof heading === "string" ? h("th", { scope: "col" }, heading) : heading)),
        ),
      ),
      tbody,
    ),
  );
}
