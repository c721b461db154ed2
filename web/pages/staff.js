// Staff directory (everyone signed in, R-STAFF-1): search, filter by department and status, page with
// "Load more". Admins also hire, edit and dismiss (after a confirmation).
// Sorted by name either way (R-UI-5, by the API: the list is paged).
// GET /api/staff/employees?q=&department_id=&status=&order=asc|desc&limit=&cursor=; the filters live in the
// URL (/staff?q=kesha&status=all&order=desc), so a reload or a shared link shows the same list.

import { api, describeError, isAbort } from "../api.js";
import { listTable, pagedList } from "../paged-list.js";
import { departmentNames, departmentOptions, loadDepartments } from "../staff-data.js";
import {
  confirmDialog,
  h,
  holds,
  pageHeader,
  renderLoadError,
  setBusy,
  showMessage,
  statusChip,
  statusRegion,
  takeFlash,
} from "../ui.js";

export const title = "Staff";
const SEARCH_DELAY_MS = 350;
const STATUSES = [
  ["active", "Active"],
  ["dismissed", "Dismissed"],
  ["all", "Everyone"],
];

function readFilters(query) {
  const status = query.get("status");
  return {
    q: (query.get("q") ?? "").trim(),
    department_id: query.get("department_id") ?? "",
    status: STATUSES.some(([value]) => value === status) ? status : "active",
    order: query.get("order") === "desc" ? "desc" : "asc",
  };
}

function filtersUrl({ q, department_id: departmentId, status, order }) {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (departmentId) params.set("department_id", departmentId);
  if (status !== "active") params.set("status", status);
  if (order === "desc") params.set("order", order);
  const search = params.toString();
  return search ? `/staff?${search}` : "/staff";
}

export async function render(main, ctx) {
  const isAdmin = holds(ctx.user, "admin");
  const filters = readFilters(ctx.query);

  const hire = isAdmin ? h("a", { href: "/staff/hire", class: "btn", "data-testid": "staff-hire" }, "Hire") : null;
  const flash = takeFlash("staff-flash");
  main.append(
    h(
      "div",
      { class: "page-header-row" },
      pageHeader(title, "Everyone at UberPopug Inc.: who they are, what they do and where."),
      hire,
    ),
  );
  if (flash) main.append(flash);

  const q = h("input", {
    type: "search",
    id: "staff-q",
    name: "q",
    value: filters.q,
    autocomplete: "off",
    placeholder: "Name, email or position",
    "data-testid": "staff-search",
  });
  const department = h(
    "select",
    { id: "staff-department", name: "department_id", "data-testid": "staff-department", disabled: true },
    h("option", { value: "" }, "Loading departments…"),
  );
  const status = h(
    "select",
    { id: "staff-status", name: "status", "data-testid": "staff-status" },
    STATUSES.map(([value, label]) => h("option", { value, selected: value === filters.status }, label)),
  );
  const order = h(
    "select",
    { id: "staff-order", name: "order", "data-testid": "staff-sort" },
    h("option", { value: "asc", selected: filters.order === "asc" }, "Name, A to Z"),
    h("option", { value: "desc", selected: filters.order === "desc" }, "Name, Z to A"),
  );
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find staff", "data-testid": "staff-filters" },
    h("div", { class: "field grow" }, h("label", { for: "staff-q" }, "Search"), q),
    h("div", { class: "field" }, h("label", { for: "staff-department" }, "Department"), department),
    h("div", { class: "field" }, h("label", { for: "staff-status" }, "Status"), status),
    h("div", { class: "field" }, h("label", { for: "staff-order" }, "Sort by"), order),
    h("div", { class: "field field-button" }, h("button", { type: "submit", class: "btn btn-secondary" }, "Search")),
  );

  const live = statusRegion("staff-status-text");
  const tbody = h("tbody", {});
  const paged = pagedList({
    testid: "staff",
    signal: ctx.signal,
    fetchPage: (page, signal) =>
      api.get("/staff/employees", {
        query: {
          q: filters.q,
          department_id: filters.department_id,
          status: filters.status === "all" ? null : filters.status,
          sort: "name",
          order: filters.order,
          ...page,
        },
        signal,
      }),
    show(items, { reset }) {
      if (reset) tbody.replaceChildren();
      tbody.append(...items.map(row));
      live.textContent = describeShown();
    },
  });
  const { error, more, loadPage } = paged;
  const table = listTable({
    testid: "staff",
    caption: "Staff",
    headings: [
      "Name",
      "Email",
      "Position",
      "Department",
      "Status",
      isAdmin ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")) : null,
    ],
    tbody,
  });
  main.append(
    h("section", { class: "card", "aria-label": "Staff list" }, filterForm, live, error, table, h("div", { class: "actions" }, more)),
  );

  let names = new Map();

  function departmentName(id) {
    if (!id) return h("span", { class: "muted" }, "—");
    return names.get(id) ?? h("span", { class: "muted", title: id }, "Unknown department");
  }

  function row(employee) {
    const tr = h("tr", {
      "data-testid": "staff-row",
      "data-employee-id": employee.employee_id,
      "data-email": employee.email,
    });
    const fill = (e) => {
      const actions = [];
      const isMe = e.employee_id === ctx.user?.employee_id;
      if (isAdmin && e.status !== "dismissed") {
        actions.push(
          h(
            "a",
            {
              href: `/staff/${encodeURIComponent(e.employee_id)}/edit`,
              class: "btn btn-secondary btn-small",
              "data-testid": "staff-edit",
              "aria-label": `Edit ${e.name}`,
            },
            "Edit",
          ),
        );
        const dismiss = h(
          "button",
          { type: "button", class: "btn btn-danger-outline btn-small", "data-testid": "staff-dismiss", "aria-label": `Dismiss ${e.name}` },
          "Dismiss",
        );
        dismiss.addEventListener("click", () => onDismiss(e, dismiss, fill));
        // Dismissing yourself would end your own access mid-click: another admin has to do it.
        if (!isMe) actions.push(dismiss);
      }
      tr.replaceChildren(
        h("th", { scope: "row", "data-testid": "staff-name" }, e.name || "—"),
        h("td", { "data-testid": "staff-email" }, e.email || "—"),
        h("td", { "data-testid": "staff-position" }, e.position || "—"),
        h("td", { "data-testid": "staff-department-name" }, departmentName(e.department_id)),
        h("td", {}, statusChip(e.status)),
        isAdmin ? h("td", { class: "row-actions" }, actions) : null,
      );
    };
    fill(employee);
    return tr;
  }

  async function onDismiss(employee, button, fill) {
    const sure = await confirmDialog({
      title: `Dismiss ${employee.name}?`,
      message: `${employee.name} (${employee.email}) will no longer be able to sign in, from their next request on. This cannot be undone.`,
      confirmLabel: "Dismiss",
      danger: true,
      testid: "dismiss-dialog",
      signal: ctx.signal,
    });
    if (!sure || ctx.signal.aborted) return;
    setBusy(button, true, "Dismissing…");
    showMessage(error, "");
    try {
      const after = await api.post(`/staff/employees/${encodeURIComponent(employee.employee_id)}/dismiss`, undefined, {
        signal: ctx.signal,
      });
      if (ctx.signal.aborted) return;
      fill(after ?? { ...employee, status: "dismissed" });
      live.textContent = `${employee.name} was dismissed.`;
    } catch (failure) {
      if (ctx.signal.aborted || isAbort(failure) || failure?.handled) return;
      setBusy(button, false);
      showMessage(error, describeError(failure));
    }
  }

  function describeShown() {
    const { shown } = paged;
    const what = shown === 1 ? "1 person" : `${shown} people`;
    if (!shown) return filters.q || filters.department_id ? "Nobody matches these filters." : "Nobody here yet.";
    return `Showing ${what}${paged.hasMore ? "; more are available" : ""}.`;
  }

  async function applyFilters() {
    filters.q = q.value.trim();
    filters.department_id = department.disabled ? filters.department_id : department.value;
    filters.status = status.value;
    filters.order = order.value;
    // Keep the filters in the address (no new history entry per keystroke, no re-render).
    window.history.replaceState(null, "", filtersUrl(filters));
    live.textContent = "Searching…";
    showMessage(error, "");
    try {
      await loadPage({ reset: true });
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      live.textContent = "";
      showMessage(error, describeError(failure));
    }
  }

  let searchTimer = null;
  q.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(applyFilters, SEARCH_DELAY_MS);
  });
  ctx.signal.addEventListener("abort", () => window.clearTimeout(searchTimer));
  department.addEventListener("change", applyFilters);
  status.addEventListener("change", applyFilters);
  order.addEventListener("change", applyFilters);
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(searchTimer);
    applyFilters();
  });

  live.textContent = "Loading staff…";
  try {
    // Department names first (the table shows them), then the first page.
    const departments = await loadDepartments({ signal: ctx.signal });
    if (ctx.signal.aborted) return;
    names = departmentNames(departments);
    department.replaceChildren(
      ...departmentOptions(departments, { empty: "All departments", selected: filters.department_id }),
    );
    department.disabled = false;
    await loadPage({ reset: true });
  } catch (failure) {
    if (isAbort(failure)) return;
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
