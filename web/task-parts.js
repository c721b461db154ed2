// Pieces every task page shows the same way: the rules of a new task as the API applies them (R-TASK-1),
// the Jira id chip, the status chip, due dates (overdue when open and past), and the task's metadata line.
// A task from the API: {task_id, title, jira_id, description, due_date, status: open|done, assignee_id,
// created_by, created_at, assigned_at, completed_at}.

import { formatDateTime, h } from "./ui.js";

export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 4000;
export const JIRA_ID = /^[A-Z][A-Z0-9]+-\d+$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Is this an id the API would accept in a path or an assignee filter? */
export function isUuid(value) {
  return typeof value === "string" && UUID.test(value);
}

/** Characters as the API counts them (code points, not UTF-16 units). */
export function length(text) {
  return [...String(text ?? "")].length;
}

/**
 * What is wrong with a new task, per field, as a person would say it (the API checks the same and has the
 * last word). `values`: {title, jira_id, description, due_date}, already trimmed. -> {field: message}
 */
export function taskProblems({ title, jira_id: jiraId, description, due_date: dueDate }) {
  const problems = {};
  if (!title) problems.title = "Enter a title.";
  else if (length(title) > TITLE_MAX) problems.title = `Keep the title to ${TITLE_MAX} characters (it has ${length(title)}).`;
  else if (/[[\]]/.test(title)) problems.title = "Leave [ and ] out of the title: put the Jira id in its own field.";
  if (jiraId && !JIRA_ID.test(jiraId)) {
    problems.jira_id = "Write the Jira id like UBERPOP-42: capitals and digits, a dash, then a number.";
  }
  if (length(description) > DESCRIPTION_MAX) {
    problems.description = `Keep the description to ${DESCRIPTION_MAX} characters (it has ${length(description)}).`;
  }
  if (dueDate && !parseDate(dueDate)) problems.due_date = "Pick a date from the calendar, like 2026-12-31.";
  return problems;
}

/** "2026-12-31" -> a local Date at midnight, or null for anything that is not a real calendar date. */
export function parseDate(iso) {
  const found = ISO_DATE.exec(String(iso ?? ""));
  if (!found) return null;
  const [year, month, day] = found.slice(1).map(Number);
  const date = new Date(year, month - 1, day);
  return date.getFullYear() === year && date.getMonth() === month - 1 && date.getDate() === day ? date : null;
}

/** "31 Dec 2026" in the reader's locale (a due date has no time and no time zone). */
export function formatDate(iso) {
  const date = parseDate(iso);
  return date ? date.toLocaleDateString(undefined, { dateStyle: "medium" }) : String(iso ?? "—");
}

/** Open and due before today. */
export function isOverdue(task, now = new Date()) {
  const due = parseDate(task?.due_date);
  if (!due || task.status !== "open") return false;
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  return due < today;
}

export function jiraChip(jiraId) {
  return jiraId ? h("span", { class: "chip chip-jira", "data-testid": "task-jira" }, jiraId) : null;
}

export function taskStatusChip(status) {
  return status === "done"
    ? h("span", { class: "chip chip-ok", "data-testid": "task-status" }, "Done")
    : h("span", { class: "chip chip-open", "data-testid": "task-status" }, "Open");
}

/** The due date ("Due 31 Dec 2026"; `prefix: false` in a "Due" column), marked when overdue; null when none. */
export function dueLabel(task, { prefix = true } = {}) {
  if (!task?.due_date) return null;
  const overdue = isOverdue(task);
  return h(
    "span",
    { class: overdue ? "due due-overdue" : "due", "data-testid": "task-due" },
    prefix ? `Due ${formatDate(task.due_date)}` : formatDate(task.due_date),
    overdue ? [" ", h("span", { class: "chip chip-warn" }, "Overdue")] : null,
  );
}

/** Title with its Jira id, as the API stores them apart ("UBERPOP-42 Polish the perch" for running text). */
export function taskName(task) {
  return task?.jira_id ? `${task.jira_id} ${task.title}` : String(task?.title ?? "");
}

/** "Assigned 27 Nov 2026, 15:43" / "Done 27 Nov 2026, 16:02". */
export function whenLabel(task) {
  return task?.status === "done" && task.completed_at
    ? h("span", { "data-testid": "task-completed-at" }, `Done ${formatDateTime(task.completed_at)}`)
    : h("span", { "data-testid": "task-assigned-at" }, `Assigned ${formatDateTime(task?.assigned_at || task?.created_at)}`);
}
