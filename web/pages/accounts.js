// Accounts (admins): everyone who can sign in, their effective and own roles, and whether they are active
// or locked out (R-AUTH-1: admins see `locked_until`). Admins set an account's own roles and the roles a
// whole department grants (R-AUTH-6; effective = own + the department's grant).
// Searched by the start of an email and sorted by email either way (R-UI-5, by the API: the list is paged).
// GET /api/auth/accounts?q=&order=asc|desc&limit=&cursor=, PUT /api/auth/accounts/{id}/roles {roles},
// PUT /api/auth/departments/{id}/roles {roles} -> {department_id, roles, accounts_changed}.

import { api, describeError, isAbort } from "../api.js";
import { searchSortControls } from "../list-controls.js";
import { listTable, pagedList } from "../paged-list.js";
import { departmentNames, departmentOptions, loadDepartments } from "../staff-data.js";
import {
  confirmDialog,
  formatDateTime,
  h,
  pageHeader,
  renderLoadError,
  roleBadges,
  roleDescription,
  ROLES,
  setBusy,
  showMessage,
  statusRegion,
} from "../ui.js";

export const title = "Accounts";
const COLUMNS = 6;

function statusCell(account) {
  const parts = [];
  parts.push(
    account.active === false
      ? h("span", { class: "chip chip-muted", "data-testid": "account-inactive" }, "Inactive")
      : h("span", { class: "chip chip-ok", "data-testid": "account-active" }, "Active"),
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

function list(value) {
  return Array.isArray(value) ? value : [];
}

/** Roles the account has only through its department (effective minus own). */
function grantedRoles(account) {
  const own = new Set(list(account.own_roles));
  return list(account.roles).filter((role) => !own.has(role));
}

function roleCheckboxes(prefix, ticked, testid) {
  const boxes = new Map();
  const items = ROLES.map((role) => {
    const id = `${prefix}-${role}`;
    const box = h("input", {
      type: "checkbox",
      id,
      name: "roles",
      value: role,
      checked: ticked.includes(role),
      "data-testid": `${testid}-${role}`,
    });
    boxes.set(role, box);
    return h(
      "div",
      { class: "check" },
      box,
      h("label", { for: id }, h("strong", {}, role), h("span", { class: "muted" }, ` — ${roleDescription(role)}`)),
    );
  });
  return { element: h("div", { class: "checks" }, items), chosen: () => ROLES.filter((r) => boxes.get(r).checked), boxes };
}

export async function render(main, ctx) {
  const tbody = h("tbody", {});
  const status = statusRegion("accounts-status");
  const table = listTable({
    testid: "accounts",
    caption: "Accounts and their roles",
    headings: [
      "Name",
      "Email",
      h("th", { scope: "col", title: "Own roles plus the roles granted to their department" }, "Roles"),
      "Own roles",
      "Status",
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
    ],
    tbody,
  });

  const accounts = new Map(); // account id -> the account as last read
  let names = new Map(); // department id -> name, once departments are loaded
  let grants = null; // the department grants editor, told when accounts change

  // ---- one account: a row, and its own-roles editor under it ---------------------------------

  function row(initial) {
    let account = initial;
    const tr = h("tr", {
      "data-testid": "account-row",
      "data-account-id": account.account_id,
      "data-email": account.email,
    });
    let editorRow = null;

    function paint() {
      const granted = grantedRoles(account);
      const department = account.department_id ? names.get(account.department_id) : null;
      const edit = h(
        "button",
        {
          type: "button",
          class: "btn btn-secondary btn-small",
          "data-testid": "account-edit-roles",
          "aria-expanded": editorRow ? "true" : "false",
          "aria-controls": `roles-editor-${account.account_id}`,
          "aria-label": `Edit roles of ${account.name || account.email}`,
        },
        "Edit roles",
      );
      edit.addEventListener("click", () => (editorRow ? closeEditor(edit) : openEditor()));
      // A new set-password link for an active popug whose invitation expired or got lost.
      const invite = account.active && account.email
        ? h(
            "button",
            {
              type: "button",
              class: "btn btn-secondary btn-small",
              "data-testid": "account-invite",
              "aria-label": `Send invitation to ${account.email}`,
            },
            "Send invitation",
          )
        : null;
      invite?.addEventListener("click", async () => {
        invite.disabled = true;
        try {
          await api.post(`/auth/accounts/${encodeURIComponent(account.account_id)}/invitation`, {});
          invite.textContent = "Invitation sent";
        } catch (failure) {
          if (isAbort(failure)) return;
          invite.disabled = false;
          error.textContent = describeError(failure);
          error.hidden = false;
        }
      });
      tr.replaceChildren(
        h(
          "th",
          { scope: "row" },
          account.name || "—",
          department ? h("span", { class: "cell-note", "data-testid": "account-department" }, department) : null,
        ),
        h("td", { "data-testid": "account-email" }, account.email || "—"),
        h(
          "td",
          { "data-testid": "account-roles" },
          roleBadges(account.roles),
          granted.length
            ? h("span", { class: "cell-note", "data-testid": "account-granted" }, `${granted.join(", ")} from department`)
            : null,
        ),
        h("td", { "data-testid": "account-own-roles" }, roleBadges(account.own_roles)),
        h("td", {}, statusCell(account)),
        h("td", { class: "row-actions" }, edit, invite),
      );
      return edit;
    }

    function closeEditor(focusTarget) {
      editorRow?.remove();
      editorRow = null;
      const edit = paint();
      (focusTarget?.isConnected ? focusTarget : edit).focus();
    }

    function openEditor() {
      const who = account.name || account.email;
      const checks = roleCheckboxes(`own-${account.account_id}`, list(account.own_roles), "own-role");
      const alert = h("div", { class: "alert", role: "alert", "data-testid": "roles-error", hidden: true });
      const save = h("button", { type: "submit", class: "btn btn-small", "data-testid": "roles-save" }, "Save roles");
      const cancel = h("button", { type: "button", class: "btn btn-secondary btn-small", "data-testid": "roles-cancel" }, "Cancel");
      const granted = grantedRoles(account);
      const form = h(
        "form",
        { class: "roles-editor", "data-testid": "roles-editor", novalidate: true },
        h(
          "fieldset",
          { class: "plain" },
          h("legend", {}, `Own roles of ${who}`),
          alert,
          checks.element,
          h(
            "p",
            { class: "hint" },
            granted.length
              ? `Their department also grants ${granted.join(", ")}; change that under "Department grants".`
              : "Their effective roles are these plus whatever their department grants.",
          ),
          h("div", { class: "actions" }, save, cancel),
        ),
      );
      cancel.addEventListener("click", () => closeEditor());
      form.addEventListener("keydown", (event) => {
        if (event.key === "Escape") closeEditor();
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (save.disabled) return;
        const roles = checks.chosen();
        const isMe = account.account_id === ctx.user?.account_id || account.employee_id === ctx.user?.employee_id;
        if (isMe && list(account.own_roles).includes("admin") && !roles.includes("admin")) {
          const sure = await confirmDialog({
            title: "Remove your own admin role?",
            message: "Unless your department grants it, you will no longer be able to manage staff, accounts and roles.",
            confirmLabel: "Remove it",
            danger: true,
            testid: "self-admin-dialog",
            signal: ctx.signal,
          });
          if (!sure) return;
        }
        if (!roles.length && !grantedRoles(account).length) {
          // No role at all is allowed (the popug can still sign in, read the directory and create tasks) but is
          // rarely meant: say what it does before saving it (issue 18).
          const sure = await confirmDialog({
            title: `Leave ${who} with no role?`,
            message:
              `With no role, ${who} can still sign in, read the staff directory and create tasks, but is given no ` +
              "tasks and sees no money or admin pages. To end their access, dismiss them in Staff instead.",
            confirmLabel: "Save with no role",
            testid: "no-role-dialog",
            signal: ctx.signal,
          });
          if (!sure || ctx.signal.aborted) return;
        }
        showMessage(alert, "");
        setBusy(save, true, "Saving…");
        try {
          const after = await api.put(`/auth/accounts/${encodeURIComponent(account.account_id)}/roles`, { roles }, {
            signal: ctx.signal,
          });
          if (ctx.signal.aborted) return;
          account = { ...account, ...after, locked_until: account.locked_until };
          accounts.set(account.account_id, account);
          grants?.accountsChanged();
          closeEditor();
          status.textContent = `Saved: ${who} now has ${list(account.roles).join(", ") || "no roles"}.`;
          if (isMe) ctx.refreshUser({ signal: ctx.signal }).catch(() => {});
        } catch (failure) {
          if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
          setBusy(save, false);
          showMessage(alert, describeError(failure));
        }
      });
      editorRow = h(
        "tr",
        { class: "editor-row", id: `roles-editor-${account.account_id}` },
        h("td", { colspan: String(COLUMNS) }, form),
      );
      tr.after(editorRow);
      paint();
      checks.boxes.get(ROLES[0]).focus();
    }

    paint();
    return { tr, repaint: paint };
  }

  const rows = new Map(); // account id -> {tr, repaint}

  const paged = pagedList({
    testid: "accounts",
    signal: ctx.signal,
    fetchPage: (page, signal) => {
      const { q, sort, order } = controls.values();
      return api.get("/auth/accounts", { query: { q: q || null, sort: sort ?? null, order: order ?? null, ...page }, signal });
    },
    show(items, { reset }) {
      if (reset) {
        tbody.replaceChildren();
        rows.clear();
        accounts.clear();
      }
      for (const account of items) {
        accounts.set(account.account_id, account);
        const made = row(account);
        rows.set(account.account_id, made);
        tbody.append(made.tr);
      }
      const { shown } = paged;
      const searched = controls.values().q;
      status.textContent = shown
        ? `Showing ${shown} account${shown === 1 ? "" : "s"}${paged.hasMore ? "; more are available" : ""}.`
        : searched
          ? `No account's email starts with “${searched}”.`
          : "There are no accounts yet.";
      grants?.accountsChanged();
    },
  });
  const { error, more, loadPage } = paged;
  const controls = searchSortControls({
    testid: "accounts",
    label: "Search and sort accounts",
    searchLabel: "Search emails",
    placeholder: "Start of an email",
    choices: [
      { value: "email:asc", label: "Email, A to Z" },
      { value: "email:desc", label: "Email, Z to A" },
    ],
    signal: ctx.signal,
    async onChange() {
      status.textContent = "Loading…";
      showMessage(error, "");
      try {
        await loadPage({ reset: true });
      } catch (failure) {
        if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
        status.textContent = "";
        showMessage(error, describeError(failure));
      }
    },
  });

  // ---- department grants ------------------------------------------------------------------------

  function grantsEditor(departments) {
    const select = h(
      "select",
      { id: "grant-department", "data-testid": "grant-department" },
      departmentOptions(departments, { empty: "Choose a department" }),
    );
    const checks = roleCheckboxes("grant", [], "grant-role");
    const seen = h("p", { class: "hint", "data-testid": "grant-seen" });
    const alert = h("div", { class: "alert", role: "alert", "data-testid": "grant-error", hidden: true });
    const result = h("p", { class: "notice", role: "status", "aria-live": "polite", "data-testid": "grant-result", hidden: true });
    const save = h("button", { type: "submit", class: "btn", "data-testid": "grant-save", disabled: true }, "Save grant");
    const fieldset = h(
      "fieldset",
      { class: "plain", disabled: true },
      h("legend", {}, "Roles everyone in it gets"),
      checks.element,
      seen,
    );
    const form = h(
      "form",
      { novalidate: true, "data-testid": "grant-form" },
      alert,
      result,
      h("div", { class: "field narrow" }, h("label", { for: "grant-department" }, "Department"), select),
      fieldset,
      h("div", { class: "actions" }, save),
    );

    // There is no way to read a department's grant back from the API: tick what its members' accounts show.
    function inferred() {
      const id = select.value;
      const members = [...accounts.values()].filter((a) => a.department_id === id);
      const roles = new Set(members.flatMap(grantedRoles));
      return { members: members.length, roles: ROLES.filter((r) => roles.has(r)) };
    }

    function prefill() {
      const chosen = Boolean(select.value);
      fieldset.disabled = !chosen;
      save.disabled = !chosen;
      showMessage(alert, "");
      const { members, roles } = inferred();
      for (const [role, box] of checks.boxes) box.checked = roles.includes(role);
      seen.textContent = !chosen
        ? "Pick a department to grant roles to all its members, now and when others join later."
        : members
          ? `Ticked: what its ${members} listed member account${members === 1 ? "" : "s"} currently get${members === 1 ? "s" : ""} from it. Saving replaces the department's whole grant.`
          : "None of the listed accounts is in this department, so its current grant is not known here. Saving replaces it.";
    }

    select.addEventListener("change", () => {
      result.hidden = true;
      prefill();
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (save.disabled || !select.value) return;
      const id = select.value;
      const roles = checks.chosen();
      const name = names.get(id) ?? "the department";
      showMessage(alert, "");
      result.hidden = true;
      setBusy(save, true, "Saving…");
      try {
        const answer = await api.put(`/auth/departments/${encodeURIComponent(id)}/roles`, { roles }, {
          signal: ctx.signal,
        });
        if (ctx.signal.aborted) return;
        const changed = Number(answer?.accounts_changed ?? 0);
        result.textContent =
          `${name} now grants ${roles.length ? roles.join(", ") : "no roles"}. ` +
          `${changed === 1 ? "1 account" : `${changed} accounts`} changed.`;
        result.hidden = false;
        if (ctx.user?.department_id === id) ctx.refreshUser({ signal: ctx.signal }).catch(() => {});
        await loadPage({ reset: true });
      } catch (failure) {
        if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
        showMessage(alert, describeError(failure));
      } finally {
        setBusy(save, false);
        save.disabled = !select.value;
      }
    });

    prefill();
    return {
      element: form,
      accountsChanged() {
        if (!save.classList.contains("is-busy") && select.value && result.hidden) prefill();
      },
    };
  }

  const grantsBox = h("div", { "data-testid": "grants" }, h("p", { class: "loading" }, "Loading departments…"));
  status.textContent = "Loading accounts…";
  main.append(
    pageHeader(title, "Everyone who can sign in to aTES, with their roles."),
    h(
      "section",
      { class: "card", "aria-label": "Accounts" },
      controls.element,
      status,
      error,
      table,
      h("div", { class: "actions" }, more),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "grants-title" },
      h("h2", { id: "grants-title" }, "Department grants"),
      h(
        "p",
        { class: "lead" },
        "Roles given to everyone in a department, on top of their own roles (not passed down to sub-departments).",
      ),
      grantsBox,
    ),
  );

  // The department list is the staff context's; if it cannot be read, the accounts still show.
  const departmentsLoaded = loadDepartments({ signal: ctx.signal }).then(
    (departments) => {
      if (ctx.signal.aborted) return;
      names = departmentNames(departments);
      for (const made of rows.values()) made.repaint();
      if (!departments.length) {
        grantsBox.replaceChildren(h("p", { class: "muted" }, "There are no departments yet (see the Org chart)."));
        return;
      }
      grants = grantsEditor(departments);
      grantsBox.replaceChildren(grants.element);
    },
    (failure) => {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      grantsBox.replaceChildren(
        h("p", { class: "alert", role: "alert", "data-testid": "grants-error" }, `Departments: ${describeError(failure)}`),
      );
    },
  );

  try {
    await loadPage({ reset: true });
    await departmentsLoaded;
  } catch (failure) {
    renderLoadError(main, failure, {
      signal: ctx.signal,
      roles: ctx.entry.roles,
      retry: () => ctx.reload(),
    });
  }
}
