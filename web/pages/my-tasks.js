// My tasks (workers, R-TASK-5): the tasks assigned to me now, open or done (tabs, `?status=done` in the
// URL), newest first, "Load more" by cursor. "Mark done" completes an open task (R-TASK-4); a 409 says why
// not (already_done, or not_assignee: a shuffle gave it to someone else meanwhile) and the list refreshes.
// Each task shows its fee and reward once accounting has priced it (R-UI-4); its title opens its page.
// GET /api/tasks?assignee_id=me&status=&limit=&cursor=, POST /api/tasks/{id}/complete.

import { api, describeError, isAbort } from "../api.js";
import { taskPrice } from "../money.js";
import { pagedList } from "../paged-list.js";
import { dueLabel, jiraChip, taskName, whenLabel } from "../task-parts.js";
import { h, pageHeader, renderLoadError, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "My tasks";
const TABS = [
  { status: "open", label: "Open", empty: "You have no open tasks. Nice work!" },
  { status: "done", label: "Done", empty: "Nothing done in the last 30 days yet." },
];

function readStatus(query) {
  return query.get("status") === "done" ? "done" : "open";
}

export async function render(main, ctx) {
  let status = readStatus(ctx.query);
  main.append(
    h(
      "div",
      { class: "page-header-row" },
      pageHeader(title, "The tasks assigned to you. Mark a task done when you have finished it."),
      h("a", { href: "/tasks/new", class: "btn btn-secondary", "data-testid": "my-tasks-create" }, "Create task"),
    ),
  );

  // ---- tabs (ARIA tabs: arrows move between them, the panel follows) ------------------------------
  const tabs = TABS.map((tab) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `my-tasks-tab-${tab.status}`,
        class: "tab",
        "aria-controls": "my-tasks-panel",
        "data-testid": `my-tasks-tab-${tab.status}`,
      },
      tab.label,
    ),
  );
  const tablist = h("div", { role: "tablist", class: "tabs", "aria-label": "Task status" }, tabs);
  const live = statusRegion("my-tasks-status");
  const list = h("ul", { class: "task-list", "data-testid": "my-tasks-list" });
  const paged = pagedList({
    testid: "my-tasks",
    signal: ctx.signal,
    fetchPage: (page, signal) => api.get("/tasks", { query: { assignee_id: "me", status, ...page }, signal }),
    show(items, { reset }) {
      if (reset) list.replaceChildren();
      list.append(...items.map(card));
      moreRow.hidden = !paged.hasMore;
      list.hidden = !paged.shown;
      live.textContent = describeShown();
    },
  });
  const { error, more, loadPage } = paged;
  const moreRow = h("div", { class: "actions", hidden: true }, more);
  const panel = h(
    "section",
    { role: "tabpanel", id: "my-tasks-panel", class: "card tab-panel", tabindex: "-1", "data-testid": "my-tasks-panel" },
    error,
    live,
    list,
    moreRow,
  );
  main.append(h("div", { class: "tabbed" }, tablist, panel));

  function paintTabs() {
    tabs.forEach((tab, index) => {
      const selected = TABS[index].status === status;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", `my-tasks-tab-${status}`);
  }

  function choose(next, { focus = false } = {}) {
    const index = TABS.findIndex((tab) => tab.status === next);
    if (focus) tabs[index].focus();
    if (next === status) return;
    status = next;
    paintTabs();
    // The tab lives in the address (no new history entry, no re-render), so a reload shows the same.
    window.history.replaceState(null, "", status === "open" ? "/tasks/mine" : "/tasks/mine?status=done");
    showMessage(error, "");
    refresh();
  }

  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => choose(TABS[index].status));
    tab.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: TABS.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const target = (moves[event.key] + TABS.length) % TABS.length;
      choose(TABS[target].status, { focus: true });
    });
  });

  // ---- the list -----------------------------------------------------------------------------------
  function card(task) {
    const name = taskName(task);
    const actions = [];
    if (task.status === "open") {
      const done = h(
        "button",
        { type: "button", class: "btn btn-small", "data-testid": "task-complete", "aria-label": `Mark done: “${name}”` },
        "Mark done",
      );
      done.addEventListener("click", () => complete(task, done));
      actions.push(done);
    }
    return h(
      "li",
      { class: "task-card", "data-testid": "task-item", "data-task-id": task.task_id, "data-status": task.status },
      h(
        "div",
        { class: "task-card-main" },
        h(
          "h2",
          { class: "task-title" },
          jiraChip(task.jira_id),
          h(
            "a",
            { href: `/tasks/${encodeURIComponent(task.task_id)}`, "data-testid": "task-link" },
            h("span", { "data-testid": "task-title" }, task.title),
          ),
        ),
        task.description ? h("p", { class: "task-description", "data-testid": "task-description" }, task.description) : null,
        h("p", { class: "task-meta" }, whenLabel(task), dueLabel(task), taskPrice(task)),
      ),
      actions.length ? h("div", { class: "task-card-actions" }, actions) : null,
    );
  }

  function describeShown() {
    const { shown } = paged;
    if (!shown) return TABS.find((tab) => tab.status === status).empty;
    const what = `${shown} ${status} task${shown === 1 ? "" : "s"}`;
    return `Showing ${what}${paged.hasMore ? "; more are available" : ""}.`;
  }

  /** Page one of the current tab again; `note` replaces the "Showing…" line when given. */
  async function refresh(note) {
    live.textContent = "Loading…";
    list.setAttribute("aria-busy", "true");
    try {
      await loadPage({ reset: true });
      if (note && !ctx.signal.aborted) live.textContent = `${note} ${describeShown()}`;
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      live.textContent = "";
      showMessage(error, describeError(failure));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  async function complete(task, button) {
    const name = taskName(task);
    setBusy(button, true, "Marking done…");
    showMessage(error, "");
    try {
      await api.post(`/tasks/${encodeURIComponent(task.task_id)}/complete`, undefined, { signal: ctx.signal });
      if (ctx.signal.aborted) return;
      await refresh(`“${name}” is done.`);
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      if (failure?.status === 409) {
        // already_done / not_assignee: the list on screen is out of date. Say why, then show what is true now.
        showMessage(error, `“${name}” could not be marked done. ${describeError(failure)}`);
        await refresh();
      } else {
        setBusy(button, false);
        showMessage(error, `“${name}” could not be marked done. ${describeError(failure)}`);
        return;
      }
    }
    // The button is gone with the refresh: keep the keyboard in the list.
    if (!ctx.signal.aborted) (list.querySelector('[data-testid="task-complete"]') ?? panel).focus();
  }

  paintTabs();
  live.textContent = "Loading your tasks…";
  try {
    await loadPage({ reset: true });
  } catch (failure) {
    if (isAbort(failure)) return;
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
