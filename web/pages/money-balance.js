// My balance (anyone signed in; in the navigation for workers, R-ACC-6): my balance, big (in the "debt"
// style when negative), then my ledger, newest first, "Load more" by cursor: each transaction's business
// day, kind, signed amount, task, reason and the balance after it.
// GET /api/accounting/me -> {employee_id, name, email, balance, opening_amount, dismissed};
// GET /api/accounting/me/transactions?limit=&cursor= (and ?format=csv: "Download CSV", R-UI-5).

import { api, isAbort } from "../api.js";
import { balanceCard, ledgerSection, money } from "../money.js";
import { csvName } from "../result-view.js";
import { h, pageHeader, renderLoadError } from "../ui.js";

export const title = "My balance";

export async function render(main, ctx) {
  main.append(
    pageHeader(
      title,
      "What you have earned and been charged. Each task costs its fee when it is assigned to you and pays its " +
        "reward when you complete it; a positive balance is paid out when the business day closes.",
    ),
  );
  const slot = h("div", { class: "balance-slot", "data-testid": "my-balance" }, h("p", { class: "loading" }, "Loading your balance…"));
  const ledger = ledgerSection({
    ctx,
    path: "/accounting/me/transactions",
    testid: "ledger",
    heading: "My transactions",
    emptyText: "No transactions yet: fees and rewards appear here as tasks are assigned to you and completed.",
    csvFilename: () => csvName("my transactions"),
  });
  main.append(slot, ledger.element);

  const [me, transactions] = await Promise.allSettled([
    api.get("/accounting/me", { signal: ctx.signal }),
    ledger.load(),
  ]);
  if (ctx.signal.aborted) return;
  if (me.status === "rejected") {
    if (isAbort(me.reason)) return;
    renderLoadError(main, me.reason, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
    return;
  }
  if (transactions.status === "rejected") ledger.fail(transactions.reason);

  const account = me.value ?? {};
  const opening = Number(account.opening_amount) || 0;
  slot.replaceChildren(
    balanceCard({
      balance: account.balance,
      heading: "My balance",
      testid: "balance",
      extra: [
        opening
          ? h(
              "p",
              { class: "muted small", "data-testid": "balance-opening" },
              "Includes ",
              money(opening),
              " carried over from transactions older than a year.",
            )
          : null,
        account.dismissed ? h("p", { class: "notice", "data-testid": "balance-dismissed" }, "You no longer work here; this balance is kept.") : null,
      ],
    }),
  );
}
