// A task's own page (R-UI-4), /tasks/:id: its title and Jira id, status, assignee, due date, description,
// its price (the fee charged for each assignment and the reward for completing it, once accounting has
// priced it), and its history: created and assigned, every shuffle, the completion.
// GET /api/tasks/{id} -> {task_id, title, jira_id, description, due_date, status, assignee_id, created_by,
// created_at, assigned_at, completed_at, assign_fee, reward, history: [{at, kind, assignee_id, by}]}.
// Workers see their own tasks; managers and admins every task (the API answers 403 otherwise).
//
// The price is known a moment after the task is created (accounting prices it from the task's events):
// while it is not, the page asks again a few times, so it appears without a reload.

import { api, isAbort } from "../api.js";
import { taskPrice } from "../money.js";
import { fillIn, loadPeople, personLabel } from "../people.js";
import { dueLabel, isUuid, jiraChip, taskStatusChip } from "../task-parts.js";
import { formatDateTime, h, notice, pageHeader, renderLoadError, statusRegion } from "../ui.js";

export const title = "Task";
const PRICE_CHECKS = 15; // how many times to ask again for a price that is not known yet
const PRICE_PAUSE_MS = 2000;

const STEPS = {
  created: { label: "Created", text: "assigned to" },
  shuffled: { label: "Shuffled", text: "reassigned to" },
  completed: { label: "Completed", text: "by" },
};

function wait(ms, signal) {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      window.clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

export async function render(main, ctx) {
  const id = String(ctx.params.id ?? "").toLowerCase();
  if (!isUuid(id)) {
    main.append(notice({ title: "No such task", message: "This address does not name a task.", testid: "task-missing" }));
    return;
  }
  const live = statusRegion("task-status-text");
  live.textContent = "Loading the task…";
  main.append(live);

  let task;
  let people = new Map();
  try {
    [task, people] = await Promise.all([
      api.get(`/tasks/${encodeURIComponent(id)}`, { signal: ctx.signal }),
      loadPeople({ signal: ctx.signal }).catch((failure) => {
        if (isAbort(failure)) throw failure;
        return new Map(); // names are nice to have: the task itself still shows
      }),
    ]);
    if (ctx.signal.aborted) return;
    const ids = [task.assignee_id, task.created_by, ...(task.history ?? []).map((step) => step.assignee_id)];
    await fillIn(people, ids, { signal: ctx.signal }).catch(() => null);
  } catch (failure) {
    if (isAbort(failure) || ctx.signal.aborted) return;
    live.textContent = "";
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
    return;
  }
  if (ctx.signal.aborted) return;
  document.title = `${task.jira_id ? `${task.jira_id} ` : ""}${task.title} · aTES`;
  live.textContent = "";

  const person = (who, testid) => personLabel(people, who, ctx.user, testid);
  const priceSlot = h("dd", { "data-testid": "task-page-price" }, taskPrice(task, { unpriced: "Not priced yet" }));
  const header = pageHeader(task.title, null);
  header.querySelector("h1").prepend(...[jiraChip(task.jira_id), task.jira_id ? " " : null].filter(Boolean));

  main.append(
    header,
    h(
      "section",
      { class: "card", "aria-labelledby": "task-facts-heading", "data-testid": "task-page" },
      h("h2", { id: "task-facts-heading", class: "visually-hidden" }, "About this task"),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Status"),
        h("dd", {}, taskStatusChip(task.status)),
        h("dt", {}, "Assignee"),
        h("dd", { "data-testid": "task-page-assignee" }, person(task.assignee_id, "task-page-assignee-name")),
        h("dt", {}, "Price"),
        priceSlot,
        task.jira_id ? [h("dt", {}, "Jira id"), h("dd", { "data-testid": "task-page-jira" }, task.jira_id)] : null,
        task.due_date ? [h("dt", {}, "Due"), h("dd", {}, dueLabel(task, { prefix: false }))] : null,
        h("dt", {}, "Created"),
        h("dd", {}, formatDateTime(task.created_at), " by ", person(task.created_by, "task-page-creator")),
        task.completed_at ? [h("dt", {}, "Completed"), h("dd", {}, formatDateTime(task.completed_at))] : null,
      ),
      task.description
        ? [h("h3", {}, "Description"), h("p", { class: "task-description", "data-testid": "task-page-description" }, task.description)]
        : null,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "task-history-heading", "data-testid": "task-history" },
      h("h2", { id: "task-history-heading" }, "History"),
      (task.history ?? []).length
        ? h(
            "ol",
            { class: "history", "data-testid": "task-history-list" },
            task.history.map((step) =>
              h(
                "li",
                { "data-testid": "task-history-step", "data-kind": step.kind },
                h("strong", {}, STEPS[step.kind]?.label ?? step.kind),
                " ",
                h("time", { datetime: step.at }, formatDateTime(step.at)),
                ", ",
                STEPS[step.kind]?.text ?? "",
                " ",
                person(step.assignee_id, "task-history-person"),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No history is recorded for this task."),
    ),
  );

  // The price follows the task's events through accounting: ask again for a while until it is known.
  for (let check = 0; check < PRICE_CHECKS && task.assign_fee == null; check += 1) {
    await wait(PRICE_PAUSE_MS, ctx.signal);
    if (ctx.signal.aborted) return;
    try {
      task = await api.get(`/tasks/${encodeURIComponent(id)}`, { signal: ctx.signal });
    } catch {
      return; // the page as shown stays; a reload asks again
    }
    if (ctx.signal.aborted) return;
    if (task.assign_fee != null) {
      priceSlot.replaceChildren(taskPrice(task));
      live.textContent = "The task's price is known now.";
    }
  }
}
