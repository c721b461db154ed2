// Balances (admins and accountants, R-ACC-6): every popug's account by name, with the balance (in the
// "debt" style when negative) and a "Dismissed" marker; a name opens that account's ledger
// (/money/accounts/:id). GET /api/accounting/accounts?q=&sort=name|balance&order=asc|desc&limit=&cursor= ->
// {items: [{employee_id, name, email, balance, dismissed}], next_cursor}, "Load more" by cursor. Searched by
// the start of a name and sorted by name or balance (R-UI-5, by the API: the list is paged); the choice is in
// the address (/money/accounts?q=ke&sort=balance:asc), and "Download CSV" downloads the list as chosen.

import { api, describeError, isAbort } from "../api.js";
import { money, rememberAccounts, todayIso } from "../money.js";
import { csvDownload } from "../csv-download.js";
import { addressWith, searchSortControls } from "../list-controls.js";
import { listTable, pagedList } from "../paged-list.js";
import { csvName } from "../result-view.js";
import { h, pageHeader, renderLoadError, showMessage, statusRegion } from "../ui.js";

export const title = "Balances";
const SORTS = [
  { value: "name:asc", label: "Name, A to Z" },
  { value: "name:desc", label: "Name, Z to A" },
  { value: "balance:desc", label: "Balance, highest first" },
  { value: "balance:asc", label: "Balance, lowest first" },
];

export async function render(main, ctx) {
  main.append(
    pageHeader(title, "Every popug's account: what each one has now. Open a name to see its transactions."),
  );
  const fromAddress = { q: (ctx.query.get("q") ?? "").trim().slice(0, 100), sort: ctx.query.get("sort") ?? "" };
  // R-UI-5: a search reads the name index, so its results come by name: typing a search while sorted by
  // balance moves the list to name order (the API would refuse the mix).
  const controls = searchSortControls({
    testid: "money-accounts",
    label: "Search and sort balances",
    searchLabel: "Search names",
    placeholder: "Start of a name",
    choices: SORTS,
    initial: fromAddress,
    whileSearching: { columns: ["name"], choice: "name:asc" },
    signal: ctx.signal,
    onChange() {
      const { q, choice } = controls.values();
      window.history.replaceState(null, "", addressWith("/money/accounts", { q, sort: choice === SORTS[0].value ? "" : choice }));
      reload();
    },
  });
  const listQuery = () => {
    const { q, sort, order } = controls.values();
    return { q: q || null, sort: sort ?? null, order: order ?? null };
  };
  const live = statusRegion("money-accounts-status");
  const tbody = h("tbody", {});
  let inDebt = 0;
  const paged = pagedList({
    testid: "money-accounts",
    signal: ctx.signal,
    fetchPage: (page, signal) => api.get("/accounting/accounts", { query: { ...listQuery(), ...page }, signal }),
    show(items, { reset }) {
      if (reset) {
        tbody.replaceChildren();
        inDebt = 0;
      }
      rememberAccounts(items);
      inDebt += items.filter((account) => Number(account.balance) < 0).length;
      tbody.append(...items.map(row));
      table.hidden = !paged.shown;
      live.textContent = describe();
    },
  });
  const table = listTable({
    testid: "money-accounts",
    caption: "Accounts and balances",
    headings: ["Popug", "Email", h("th", { scope: "col", class: "num" }, "Balance")],
    tbody,
  });
  // Every account the search finds, in the order chosen, not only the pages on screen (R-UI-5).
  const download = csvDownload({
    testid: "money-accounts-csv",
    signal: ctx.signal,
    request: () => ({ path: "/accounting/accounts", query: listQuery(), filename: csvName(`balances ${todayIso()}`) }),
  });
  main.append(
    h(
      "section",
      { class: "card", "aria-label": "Accounts", "data-testid": "money-accounts" },
      controls.element,
      live,
      paged.error,
      download.alert,
      table,
      h("div", { class: "actions" }, paged.more, download.button),
    ),
  );

  function row(account) {
    const id = account.employee_id;
    const isMe = id === ctx.user?.employee_id;
    return h(
      "tr",
      {
        "data-testid": "money-account-row",
        "data-employee-id": id,
        "data-dismissed": account.dismissed ? "true" : "false",
      },
      h(
        "th",
        { scope: "row" },
        h(
          "a",
          { href: `/money/accounts/${encodeURIComponent(id)}`, "data-testid": "money-account-link" },
          account.name || account.email || "Unnamed popug",
        ),
        isMe ? h("span", { class: "muted" }, " (you)") : null,
        account.dismissed
          ? [" ", h("span", { class: "chip chip-muted", "data-testid": "money-account-dismissed" }, "Dismissed")]
          : null,
      ),
      h("td", { class: "email-cell" }, account.email || "—"),
      h("td", { class: "num" }, money(account.balance, { testid: "money-account-balance" })),
    );
  }

  function describe() {
    const { shown } = paged;
    const searched = controls.values().q;
    if (!shown && searched) return `No popug's name starts with “${searched}”.`;
    if (!shown) return "No accounts yet: an account appears once a popug is hired.";
    const what = shown === 1 ? "1 account" : `${shown} accounts`;
    const debt = inDebt ? `, ${inDebt} in debt` : "";
    return `Showing ${what}${debt}${paged.hasMore ? "; more are available" : ""}.`;
  }

  /** The first page again, for a new search or order; a failure is shown above the list. */
  async function reload() {
    live.textContent = "Loading…";
    showMessage(paged.error, "");
    try {
      await paged.loadPage({ reset: true });
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      live.textContent = "";
      showMessage(paged.error, describeError(failure));
    }
  }

  live.textContent = "Loading accounts…";
  try {
    await paged.loadPage({ reset: true });
  } catch (failure) {
    if (isAbort(failure)) return;
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
