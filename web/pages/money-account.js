// One popug's account (admins and accountants; reached from Balances, R-ACC-6): name, balance and the
// ledger, newest first, "Load more". A popug opening their own account is sent to My balance (/money).
// GET /api/accounting/accounts/{id}/transactions?limit=&cursor= (a worker may read only their own: 403
// otherwise). The API has no single-account read, so the name comes from the Balances list already on
// screen, else from GET /api/accounting/accounts (paged until found); the balance is the newest
// transaction's balance_after, else the list's.

import { api, isAbort } from "../api.js";
import { balanceCard, ledgerSection, rememberAccounts, rememberedAccount } from "../money.js";
import { csvName } from "../result-view.js";
import { isUuid } from "../task-parts.js";
import { h, notice, pageHeader, renderLoadError } from "../ui.js";

export const title = "Account";
const READERS = ["admin", "accountant"];
const LOOKUP_PAGE = 100;
const LOOKUP_MAX_PAGES = 50;

/** The account from the accounts list (remembered, else paged through), or null. */
async function findAccount(id, signal) {
  const known = rememberedAccount(id);
  if (known) return known;
  let cursor = null;
  for (let pages = 0; pages < LOOKUP_MAX_PAGES; pages += 1) {
    const page = await api.get("/accounting/accounts", { query: { limit: LOOKUP_PAGE, cursor }, signal });
    const items = Array.isArray(page?.items) ? page.items : [];
    rememberAccounts(items);
    const found = items.find((account) => account.employee_id === id);
    if (found) return found;
    cursor = page?.next_cursor || null;
    if (!cursor) break;
  }
  return null;
}

export async function render(main, ctx) {
  const id = String(ctx.params.id ?? "").toLowerCase();
  if (id && id === String(ctx.user?.employee_id ?? "").toLowerCase()) {
    ctx.navigate("/money", { replace: true });
    return;
  }
  const back = h("a", { href: "/money/accounts", class: "btn btn-secondary", "data-testid": "money-account-back" }, "All balances");
  if (!isUuid(id)) {
    main.append(
      notice({ title: "Account not found", message: `There is no account “${ctx.params.id}”.`, testid: "not-found", action: back }),
    );
    return;
  }

  const heading = h("h1", { tabindex: "-1", "data-testid": "page-title" }, "Account");
  const lead = h("p", { class: "lead", "data-testid": "money-account-email" });
  main.append(
    h("div", { class: "page-header-row" }, h("header", { class: "page-header" }, heading, lead), back),
  );
  const slot = h("div", { class: "balance-slot" }, h("p", { class: "loading" }, "Loading the balance…"));
  const ledger = ledgerSection({
    ctx,
    path: `/accounting/accounts/${encodeURIComponent(id)}/transactions`,
    testid: "ledger",
    heading: "Transactions",
    emptyText: "No transactions on this account.",
    payee: () => (heading.textContent === "Account" ? "this popug" : heading.textContent),
    csvFilename: () => csvName(`transactions ${heading.textContent === "Account" ? "" : heading.textContent} ${id.slice(0, 8)}`),
  });
  main.append(slot, ledger.element);

  const [account, transactions] = await Promise.allSettled([findAccount(id, ctx.signal), ledger.load()]);
  if (ctx.signal.aborted) return;
  const refused = [account, transactions].find(
    (result) => result.status === "rejected" && !isAbort(result.reason) && result.reason?.status === 403,
  );
  if (refused || transactions.status === "rejected") {
    const failure = refused?.reason ?? transactions.reason;
    if (isAbort(failure)) return;
    renderLoadError(main, failure, { signal: ctx.signal, roles: READERS, retry: () => ctx.reload() });
    return;
  }

  const found = account.status === "fulfilled" ? account.value : null;
  const name = found?.name || found?.email || "Unknown popug";
  heading.textContent = found?.dismissed ? `${name} (dismissed)` : name;
  document.title = `${name} · aTES`;
  lead.textContent = found?.email || (account.status === "rejected" ? "Could not read this popug's details." : "");
  const newest = ledger.newest();
  const balance = newest ? newest.balance_after : found?.balance;
  slot.replaceChildren(balanceCard({ balance, heading: "Balance", testid: "balance" }));
}
