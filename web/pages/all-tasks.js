// All tasks (managers and admins, R-TASK-5): every task, newest first (open before done), filtered by
// status and assignee, searched by the start of a title or a Jira id and sorted by creation or title
// (R-UI-5, done by the API: the list is paged), each with its fee and reward once accounting has priced it
// (R-UI-4); a title opens the task's page. "Load more" by cursor, assignees by name from the staff directory.
// GET /api/tasks?status=open|done&assignee_id=&q=&sort=created|title&order=asc|desc&limit=&cursor=; the
// filters live in the URL (/tasks?status=open&q=perch&sort=title:asc), so a reload or a shared link shows
// the same list.

import { api, describeError, isAbort } from "../api.js";
import { addressWith, searchSortControls } from "../list-controls.js";
import { taskPrice } from "../money.js";
import { listTable, pagedList } from "../paged-list.js";
import { byName, fillIn, loadPeople, personLabel } from "../people.js";
import { dueLabel, isUuid, jiraChip, taskStatusChip } from "../task-parts.js";
import { formatDateTime, h, holds, pageHeader, renderLoadError, showMessage, statusRegion } from "../ui.js";

export const title = "All tasks";
const SORTS = [
  { value: "created:desc", label: "Newest first" },
  { value: "created:asc", label: "Oldest first" },
  { value: "title:asc", label: "Title, A to Z" },
  { value: "title:desc", label: "Title, Z to A" },
];
const STATUSES = [
  ["", "Open and done"],
  ["open", "Open"],
  ["done", "Done"],
];

function readFilters(query) {
  const status = query.get("status") ?? "";
  const assignee = (query.get("assignee_id") ?? "").toLowerCase();
  const q = (query.get("q") ?? "").trim().slice(0, 100);
  const sort = query.get("sort") ?? "";
  return {
    status: STATUSES.some(([value]) => value === status) ? status : "",
    assignee_id: isUuid(assignee) ? assignee : "",
    q,
    sort: SORTS.some((choice) => choice.value === sort) ? sort : "",
  };
}

function filtersUrl({ status, assignee_id: assigneeId, q, sort }) {
  return addressWith("/tasks", { status, assignee_id: assigneeId, q, sort: sort === SORTS[0].value ? "" : sort });
}

/** The assignee picker: everyone, then the active popugs, then those who have left (they may hold tasks). */
function assigneeOptions(people, selected) {
  const everyone = [...people.values()].sort(byName);
  const option = (e) => h("option", { value: e.employee_id, selected: e.employee_id === selected }, e.name || e.email);
  const active = everyone.filter((e) => e.status !== "dismissed");
  const dismissed = everyone.filter((e) => e.status === "dismissed");
  return [
    h("option", { value: "", selected: !selected }, "Everyone"),
    active.length ? h("optgroup", { label: "Active" }, active.map(option)) : null,
    dismissed.length ? h("optgroup", { label: "Dismissed" }, dismissed.map(option)) : null,
    selected && !people.has(selected) ? h("option", { value: selected, selected: true }, "Unknown popug") : null,
  ];
}

export async function render(main, ctx) {
  const filters = readFilters(ctx.query);
  const canShuffle = holds(ctx.user, "manager") || holds(ctx.user, "admin");
  main.append(
    h(
      "div",
      { class: "page-header-row" },
      pageHeader(title, "Every task at UberPopug Inc. and who holds it now."),
      h(
        "div",
        { class: "header-actions" },
        h("a", { href: "/tasks/new", class: "btn btn-secondary", "data-testid": "all-tasks-create" }, "Create task"),
        canShuffle ? h("a", { href: "/tasks/shuffle", class: "btn", "data-testid": "all-tasks-shuffle" }, "Shuffle") : null,
      ),
    ),
  );

  const status = h(
    "select",
    { id: "tasks-status", name: "status", "data-testid": "tasks-status" },
    STATUSES.map(([value, label]) => h("option", { value, selected: value === filters.status }, label)),
  );
  const assignee = h(
    "select",
    { id: "tasks-assignee", name: "assignee_id", "data-testid": "tasks-assignee", disabled: true },
    h("option", { value: "" }, "Loading popugs…"),
  );
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter tasks", "data-testid": "tasks-filters" },
    h("div", { class: "field" }, h("label", { for: "tasks-status" }, "Status"), status),
    h("div", { class: "field grow" }, h("label", { for: "tasks-assignee" }, "Assignee"), assignee),
  );

  // R-UI-5: a search reads the title (or Jira id) index, so its results come in title order: typing a
  // search while the list is in creation order moves it to title order (the API would refuse the mix).
  const controls = searchSortControls({
    testid: "tasks",
    label: "Search and sort tasks",
    searchLabel: "Search titles and Jira ids",
    placeholder: "Start of a title, or UBERPOP-42",
    choices: SORTS,
    initial: { q: filters.q, sort: filters.sort },
    whileSearching: { columns: ["title"], choice: "title:asc" },
    signal: ctx.signal,
    onChange: () => applyFilters(),
  });

  const live = statusRegion("tasks-status-text");
  const tbody = h("tbody", {});
  const paged = pagedList({
    testid: "tasks",
    signal: ctx.signal,
    async fetchPage(page, signal) {
      const order = controls.values();
      const answer = await api.get("/tasks", {
        query: {
          status: filters.status,
          assignee_id: filters.assignee_id,
          q: order.q || null,
          sort: order.sort ?? null,
          order: order.order ?? null,
          ...page,
        },
        signal,
      });
      if (signal.aborted) return answer;
      // Someone hired since the directory was read: ask staff for just them.
      const items = Array.isArray(answer?.items) ? answer.items : [];
      await fillIn(people, items.map((task) => task.assignee_id), { signal });
      return answer;
    },
    show(items, { reset }) {
      if (reset) tbody.replaceChildren();
      tbody.append(...items.map(row));
      live.textContent = describeShown();
    },
  });
  const { error, more, loadPage } = paged;
  const table = listTable({
    testid: "tasks",
    caption: "Tasks",
    headings: ["Task", "Assignee", "Status", "Price", "Due", "Created", "Completed"],
    tbody,
  });
  main.append(
    h(
      "section",
      { class: "card", "aria-label": "Task list" },
      controls.element,
      filterForm,
      live,
      error,
      table,
      h("div", { class: "actions" }, more),
    ),
  );

  let people = new Map();

  function row(task) {
    return h(
      "tr",
      { "data-testid": "task-row", "data-task-id": task.task_id, "data-status": task.status },
      h(
        "th",
        { scope: "row", class: "task-cell" },
        jiraChip(task.jira_id),
        h(
          "a",
          { href: `/tasks/${encodeURIComponent(task.task_id)}`, "data-testid": "task-link" },
          h("span", { "data-testid": "task-title" }, task.title),
        ),
        task.description ? h("span", { class: "cell-note clamp", title: task.description, "data-testid": "task-description" }, task.description) : null,
      ),
      h("td", { "data-testid": "task-assignee" }, personLabel(people, task.assignee_id, ctx.user, "task-assignee-name")),
      h("td", {}, taskStatusChip(task.status)),
      h("td", { class: "num" }, taskPrice(task)),
      h("td", { class: "nowrap" }, dueLabel(task, { prefix: false }) ?? h("span", { class: "muted" }, "—")),
      h("td", {}, formatDateTime(task.created_at)),
      h("td", { "data-testid": "task-done-at" }, task.completed_at ? formatDateTime(task.completed_at) : "—"),
    );
  }

  function describeShown() {
    const { shown } = paged;
    const what = shown === 1 ? "1 task" : `${shown} tasks`;
    const searched = controls.values().q;
    if (!shown && searched) return `No task title or Jira id starts with “${searched}”.`;
    if (!shown) return filters.status || filters.assignee_id ? "No task matches these filters." : "There are no tasks yet.";
    return `Showing ${what}${paged.hasMore ? "; more are available" : ""}.`;
  }

  async function applyFilters() {
    filters.status = status.value;
    filters.assignee_id = assignee.disabled ? filters.assignee_id : assignee.value;
    const { q, choice } = controls.values();
    window.history.replaceState(null, "", filtersUrl({ ...filters, q, sort: choice }));
    live.textContent = "Loading…";
    showMessage(error, "");
    try {
      await loadPage({ reset: true });
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      live.textContent = "";
      showMessage(error, describeError(failure));
    }
  }

  status.addEventListener("change", applyFilters);
  assignee.addEventListener("change", applyFilters);
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters();
  });

  live.textContent = "Loading tasks…";
  try {
    // Names first (the table shows them), then the first page.
    people = await loadPeople({ signal: ctx.signal });
    if (ctx.signal.aborted) return;
    assignee.replaceChildren(...assigneeOptions(people, filters.assignee_id).filter(Boolean));
    assignee.disabled = false;
    await loadPage({ reset: true });
  } catch (failure) {
    if (isAbort(failure)) return;
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
