// Home / My profile: who I am according to GET /api/auth/me (the source of truth for name and roles).

import * as session from "../session.js";
import { loadDepartments } from "../staff-data.js";
import { clear, formatTime, h, loading, pageHeader, renderLoadError, roleBadges, roleDescription } from "../ui.js";

export const title = "My profile";

function row(label, value, testid) {
  return [h("dt", {}, label), h("dd", { "data-testid": testid }, value)];
}

function show(main, me) {
  const roles = Array.isArray(me.roles) ? me.roles : [];
  const live = session.current();
  clear(main).append(
    pageHeader(me.name ? `Hello, ${me.name}` : "My profile", "Your account in aTES."),
    h(
      "section",
      { class: "card", "aria-labelledby": "profile-details", "data-testid": "profile" },
      h("h2", { id: "profile-details" }, "Account"),
      h(
        "dl",
        { class: "details" },
        row("Name", me.name || "—", "profile-name"),
        row("Email", me.email || "—", "profile-email"),
        row("Roles", roleBadges(roles), "profile-roles"),
        row("Status", me.active === false ? "Inactive" : "Active", "profile-status"),
        row("Employee id", h("code", {}, me.employee_id ?? "—"), "profile-employee-id"),
        row("Department", me.department_id ? h("code", {}, me.department_id) : "—", "profile-department"),
        live ? row("Session ends", `at ${formatTime(live.expiresAt)}`, "profile-session") : null,
      ),
      h(
        "div",
        { class: "actions" },
        h("a", { href: "/password", class: "btn btn-secondary", "data-testid": "profile-change-password" }, "Change password"),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "profile-roles-title" },
      h("h2", { id: "profile-roles-title" }, "What your roles allow"),
      roles.length
        ? h(
            "ul",
            { class: "role-list" },
            roles.map((role) => h("li", {}, h("strong", {}, role), " — ", roleDescription(role))),
          )
        : h("p", { class: "muted" }, "You have no roles yet. Ask an admin to grant you one."),
    ),
  );
}

/** The department's name instead of its id, once the (staff) department list answers; the id otherwise. */
async function nameDepartment(main, me, signal) {
  if (!me.department_id) return;
  try {
    const found = (await loadDepartments({ signal })).find((d) => d.department_id === me.department_id);
    const cell = main.querySelector('[data-testid="profile-department"]');
    if (found && cell && !signal.aborted) cell.textContent = found.name;
  } catch {
    // Not essential: the id stays on screen.
  }
}

export async function render(main, ctx) {
  // Paint what the app already knows at once, then refresh from the API (roles may have changed).
  if (ctx.user) show(main, ctx.user);
  else main.append(loading("Loading your profile…"));
  try {
    const me = await ctx.refreshUser({ signal: ctx.signal });
    // Re-paint only on a change, so focus and screen-reader position survive the refresh.
    if (!ctx.signal.aborted && JSON.stringify(me) !== JSON.stringify(ctx.user)) show(main, me);
    if (!ctx.signal.aborted) await nameDepartment(main, me, ctx.signal);
  } catch (error) {
    renderLoadError(main, error, { signal: ctx.signal, retry: () => ctx.reload() });
  }
}
