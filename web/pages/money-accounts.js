// Balances (admins and accountants, R-ACC-6): every popug's account by name, with the balance (in the
// "debt" style when negative) and a "Dismissed" marker; a name opens that account's ledger
// (/money/accounts/:id). GET /api/accounting/accounts?limit=&cursor= -> {items: [{employee_id, name, email,
// balance, dismissed}], next_cursor}, sorted by name, "Load more" by cursor.

import { api, isAbort } from "../api.js";
import { money, rememberAccounts, todayIso } from "../money.js";
import { csvDownload } from "../csv-download.js";
import { listTable, pagedList } from "../paged-list.js";
import { csvName } from "../result-view.js";
import { h, pageHeader, renderLoadError, statusRegion } from "../ui.js";

export const title = "Balances";

export async function render(main, ctx) {
  main.append(
    pageHeader(title, "Every popug's account: what each one has now. Open a name to see its transactions."),
  );
  const live = statusRegion("money-accounts-status");
  const tbody = h("tbody", {});
  let inDebt = 0;
  const paged = pagedList({
    testid: "money-accounts",
    signal: ctx.signal,
    fetchPage: (page, signal) => api.get("/accounting/accounts", { query: page, signal }),
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
  // Every account, not only the pages on screen (R-UI-5).
  const download = csvDownload({
    testid: "money-accounts-csv",
    signal: ctx.signal,
    request: () => ({ path: "/accounting/accounts", filename: csvName(`balances ${todayIso()}`) }),
  });
  main.append(
    h(
      "section",
      { class: "card", "aria-label": "Accounts", "data-testid": "money-accounts" },
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
    if (!shown) return "No accounts yet: an account appears once a popug is hired.";
    const what = shown === 1 ? "1 account" : `${shown} accounts`;
    const debt = inDebt ? `, ${inDebt} in debt` : "";
    return `Showing ${what}${debt}${paged.hasMore ? "; more are available" : ""}.`;
  }

  live.textContent = "Loading accounts…";
  try {
    await paged.loadPage({ reset: true });
  } catch (failure) {
    if (isAbort(failure)) return;
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
