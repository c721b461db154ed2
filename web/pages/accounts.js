// Accounts (admins): everyone who can sign in, their roles, and whether they are active or locked out
// (R-AUTH-1: admins see `locked_until`). GET /api/auth/accounts pages with ?limit=&cursor=.

import { api, describeError } from "../api.js";
import { formatDateTime, h, pageHeader, renderLoadError, roleBadges, showMessage, statusRegion } from "../ui.js";

export const title = "Accounts";
const PAGE_SIZE = 50;

function statusCell(account) {
  const parts = [];
  parts.push(
    account.active === false
      ? h("span", { class: "chip chip-muted" }, "Inactive")
      : h("span", { class: "chip chip-ok" }, "Active"),
  );
  const lockedUntil = account.locked_until ? new Date(account.locked_until) : null;
  if (lockedUntil && !Number.isNaN(lockedUntil.getTime()) && lockedUntil.getTime() > Date.now()) {
    parts.push(
      h(
        "span",
        { class: "chip chip-warn", "data-testid": "account-locked" },
        `Locked until ${formatDateTime(account.locked_until)}`,
      ),
    );
  }
  return parts;
}

function accountRow(account) {
  return h(
    "tr",
    { "data-testid": "account-row", "data-account-id": account.account_id, "data-email": account.email },
    h("th", { scope: "row" }, account.name || "—"),
    h("td", { "data-testid": "account-email" }, account.email || "—"),
    h("td", {}, roleBadges(account.roles)),
    h("td", {}, statusCell(account)),
  );
}

export async function render(main, ctx) {
  const tbody = h("tbody", {});
  const status = statusRegion("accounts-status");
  const error = h("div", { class: "alert", role: "alert", "data-testid": "accounts-error", hidden: true });
  const more = h(
    "button",
    { type: "button", class: "btn btn-secondary", "data-testid": "accounts-more", hidden: true },
    "Load more",
  );
  const table = h(
    "div",
    { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "accounts-caption" },
    h(
      "table",
      { class: "table", "data-testid": "accounts-table" },
      h("caption", { id: "accounts-caption", class: "visually-hidden" }, "Accounts"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Email"),
          h("th", { scope: "col" }, "Roles"),
          h("th", { scope: "col" }, "Status"),
        ),
      ),
      tbody,
    ),
  );

  let cursor = null;
  let shown = 0;

  async function loadPage() {
    const answer = await api.get("/auth/accounts", {
      query: { limit: PAGE_SIZE, cursor },
      signal: ctx.signal,
    });
    if (ctx.signal.aborted) return;
    const items = Array.isArray(answer?.items) ? answer.items : [];
    tbody.append(...items.map(accountRow));
    shown += items.length;
    cursor = answer?.next_cursor || null;
    more.hidden = !cursor;
    status.textContent = shown
      ? `Showing ${shown} account${shown === 1 ? "" : "s"}${cursor ? "; more are available" : ""}.`
      : "There are no accounts yet.";
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    more.classList.add("is-busy");
    more.textContent = "Loading…";
    showMessage(error, "");
    try {
      await loadPage();
    } catch (failure) {
      if (!ctx.signal.aborted && !failure?.handled) showMessage(error, describeError(failure));
    } finally {
      more.disabled = false;
      more.classList.remove("is-busy");
      more.textContent = "Load more";
    }
  });

  status.textContent = "Loading accounts…";
  main.append(
    pageHeader(title, "Everyone who can sign in to aTES, with their roles."),
    h("section", { class: "card" }, status, error, table, h("div", { class: "actions" }, more)),
  );

  try {
    await loadPage();
  } catch (failure) {
    renderLoadError(main, failure, {
      signal: ctx.signal,
      roles: ctx.entry.roles,
      retry: () => ctx.reload(),
    });
  }
}
