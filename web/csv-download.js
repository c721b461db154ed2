// "Download CSV" for the accounting lists (R-UI-5, SPEC §11: ?format=csv): the WHOLE list, not the page on
// screen. The API answers one page of CSV at a time with the next page's cursor in `X-Next-Cursor`; every
// page starts with the same header row, so the file keeps the first and drops the others.

import { api, describeError, isAbort } from "./api.js";
import { saveFile } from "./result-view.js";
import { h, setBusy, showMessage } from "./ui.js";

const PAGE_SIZE = 100; // the API's largest page: fewest requests for a long list
const MAX_PAGES = 1000; // a cursor that never ends must not loop forever

/** Split a CSV page after its header row: [header, the records after it] (a page of no items is "\r\n"). */
function splitHeader(text) {
  const end = text.indexOf("\r\n");
  return end < 0 ? [text, ""] : [text.slice(0, end), text.slice(end + 2)];
}

/** Every page of `path` as CSV, concatenated under one header row. */
export async function allCsvPages(path, { query = {}, signal } = {}) {
  let header = "";
  const records = [];
  let cursor = null;
  for (let pages = 0; pages < MAX_PAGES; pages += 1) {
    const { text, nextCursor } = await api.csvPage(path, { query: { ...query, limit: PAGE_SIZE, cursor }, signal });
    const [head, rest] = splitHeader(text);
    if (head) {
      header ||= head;
      records.push(rest);
    }
    if (!nextCursor || nextCursor === cursor) break;
    cursor = nextCursor;
  }
  return header ? `${header}\r\n${records.join("")}` : "";
}

/**
 * A "Download CSV" button and the alert it reports a failure in. `request()` gives {path, query, filename} at
 * the time of the click (a page's current date range, say); `paged: false` for an answer that is one page.
 */
export function csvDownload({ testid, signal, request, paged = true }) {
  const button = h("button", { type: "button", class: "btn btn-secondary", "data-testid": testid }, "Download CSV");
  const alert = h("div", { class: "alert", role: "alert", "data-testid": `${testid}-error`, hidden: true });
  button.addEventListener("click", async () => {
    const { path, query, filename } = request();
    setBusy(button, true, "Preparing…");
    showMessage(alert, "");
    try {
      const text = paged
        ? await allCsvPages(path, { query, signal })
        : await api.csv("GET", path, undefined, { query, signal });
      saveFile(text, filename);
    } catch (failure) {
      if (!isAbort(failure) && !signal?.aborted && !failure?.handled) showMessage(alert, describeError(failure));
    } finally {
      setBusy(button, false);
    }
  });
  return { button, alert };
}
