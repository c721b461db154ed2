// The site map: every signed-in page, who may open it, and whether it appears in the navigation.
//
// To add a page: write web/pages/<name>.js (export `title` and `render(main, ctx)`), import it here and
// add one entry. The router matches these paths, the layout's navigation lists the entries with a
// label that the user's roles allow, and the app shows "you need the X role" when someone types the
// URL of a page their roles do not allow (the API enforces the same roles with 403; this is only UX).
//
// Entry fields:
//   id       stable identifier; the nav link gets data-testid="nav-<id>"
//   path     "/accounts", or a pattern with parameters ("/tasks/:id" -> ctx.params.id)
//   label    text in the navigation; omit for pages reached by links only (details, forms)
//   roles    null = anyone signed in; otherwise the user needs ANY of these roles
//   navRoles optional: who sees the label in the navigation, when that is fewer people than `roles` allows
//   section  optional navigation group heading ("Work", "Money", "Insights", "People", "Administration")
//   page     the page module

import * as accounts from "./pages/accounts.js";
import * as allTasks from "./pages/all-tasks.js";
import * as analyticsBoard from "./pages/analytics-board.js";
import * as analyticsDashboard from "./pages/analytics-dashboard.js";
import * as analyticsSql from "./pages/analytics-sql.js";
import * as changePassword from "./pages/change-password.js";
import * as createTask from "./pages/create-task.js";
import * as employeeEdit from "./pages/employee-edit.js";
import * as hire from "./pages/hire.js";
import * as moneyAccount from "./pages/money-account.js";
import * as moneyAccounts from "./pages/money-accounts.js";
import * as moneyBalance from "./pages/money-balance.js";
import * as moneyClose from "./pages/money-close.js";
import * as moneyStats from "./pages/money-stats.js";
import * as myTasks from "./pages/my-tasks.js";
import * as opsDeadLetters from "./pages/ops-dead-letters.js";
import * as orgChart from "./pages/org-chart.js";
import * as profile from "./pages/profile.js";
import * as setPassword from "./pages/set-password.js";
import * as shuffle from "./pages/shuffle.js";
import * as staff from "./pages/staff.js";
import * as task from "./pages/task.js";

export { ROLES } from "./ui.js";
export const ANYONE = null;

export const ENTRIES = [
  { id: "profile", path: "/", label: "My profile", roles: ANYONE, page: profile },
  { id: "change-password", path: "/password", roles: ANYONE, page: changePassword },
  // Tasks (SPEC §5). Assignees hold worker and neither manager nor admin; a manager who is also a worker
  // still sees the tasks they held before (the API's assignee_id=me).
  { id: "my-tasks", path: "/tasks/mine", label: "My tasks", roles: ["worker"], section: "Work", page: myTasks },
  { id: "all-tasks", path: "/tasks", label: "All tasks", roles: ["manager", "admin"], section: "Work", page: allTasks },
  { id: "create-task", path: "/tasks/new", label: "Create task", roles: ANYONE, section: "Work", page: createTask },
  { id: "shuffle", path: "/tasks/shuffle", label: "Shuffle", roles: ["manager", "admin"], section: "Work", page: shuffle },
  // A task's own page (R-UI-4), after the fixed /tasks/… paths above (the first match wins). Workers open their
  // own tasks, managers and admins any (the API answers 403 otherwise).
  { id: "task", path: "/tasks/:id", roles: ANYONE, page: task },
  // Accounting (SPEC §6). Anyone may open their own balance; it is in the navigation for workers (the
  // popugs who earn), while admins and accountants have every account and the statistics.
  { id: "my-balance", path: "/money", label: "My balance", roles: ANYONE, navRoles: ["worker"], section: "Money", page: moneyBalance },
  { id: "money-accounts", path: "/money/accounts", label: "Balances", roles: ["admin", "accountant"], section: "Money", page: moneyAccounts },
  // A worker may read their own account's ledger too (the page sends them to /money); the API answers 403 for others.
  { id: "money-account", path: "/money/accounts/:id", roles: ANYONE, page: moneyAccount },
  { id: "money-stats", path: "/money/stats", label: "Accounting stats", roles: ["admin", "accountant"], section: "Money", page: moneyStats },
  { id: "money-close", path: "/money/close", label: "Close day", roles: ["admin"], section: "Money", page: moneyClose },
  // Analytics (SPEC §7, R-AN-3): admins only, the API answers 403 to anyone else.
  { id: "analytics", path: "/analytics", label: "Dashboard", roles: ["admin"], section: "Insights", page: analyticsDashboard },
  { id: "analytics-board", path: "/analytics/board", label: "Board", roles: ["admin"], section: "Insights", page: analyticsBoard },
  { id: "analytics-sql", path: "/analytics/sql", label: "SQL console", roles: ["admin"], section: "Insights", page: analyticsSql },
  { id: "staff", path: "/staff", label: "Staff", roles: ANYONE, section: "People", page: staff },
  { id: "hire", path: "/staff/hire", roles: ["admin"], page: hire },
  { id: "employee-edit", path: "/staff/:id/edit", roles: ["admin"], page: employeeEdit },
  { id: "org-chart", path: "/org-chart", label: "Org chart", roles: ANYONE, section: "People", page: orgChart },
  { id: "accounts", path: "/accounts", label: "Accounts", roles: ["admin"], section: "Administration", page: accounts },
  // Operations (SPEC §11, R-EV-4): every consumer's dead letters and their redrive; the API answers 403 to non-admins.
  { id: "ops-dead-letters", path: "/ops/dead-letters", label: "Dead letters", roles: ["admin"], section: "Administration", page: opsDeadLetters },
];

// Pages anyone may open WITHOUT signing in, shown outside the signed-in layout whether or not this tab
// has a session (the invitation link). Their render gets ctx = {params, query, signal, navigate, signOut}.
export const PUBLIC_ENTRIES = [{ id: "set-password", path: "/set-password", page: setPassword }];

/** Does a user holding `userRoles` satisfy `required` (null/empty = anyone signed in)? */
export function hasAnyRole(userRoles, required) {
  if (!required || required.length === 0) return true;
  const held = new Set(Array.isArray(userRoles) ? userRoles : []);
  return required.some((role) => held.has(role));
}

/** The navigation for this user: entries with a label their roles allow, grouped by section, in order. */
export function navFor(userRoles, entries = ENTRIES) {
  const groups = [];
  const bySection = new Map();
  for (const entry of entries) {
    if (!entry.label || !hasAnyRole(userRoles, entry.navRoles ?? entry.roles)) continue;
    const section = entry.section ?? "";
    if (!bySection.has(section)) {
      const group = { section, entries: [] };
      bySection.set(section, group);
      groups.push(group);
    }
    bySection.get(section).entries.push(entry);
  }
  return groups;
}

/**
 * The navigation entry to highlight for a path: the exact match, else the longest entry path that
 * is a parent of it ("/tasks/123" highlights "/tasks").
 */
export function activeEntry(path, entries = ENTRIES) {
  let best = null;
  for (const entry of entries) {
    if (!entry.label || entry.path.includes(":")) continue;
    const isMatch = entry.path === path || (entry.path !== "/" && path.startsWith(`${entry.path}/`));
    if (isMatch && (!best || entry.path.length > best.path.length)) best = entry;
  }
  return best;
}
