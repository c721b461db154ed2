// Create a task (anyone signed in, R-TASK-1): POST /api/tasks {title, jira_id?, description?, due_date?}
// -> 201 task. The API assigns it at once to a random popug who can take tasks (R-TASK-2); the page then
// says who got it, by name from the staff directory. 422 goes onto the fields it names, 409 no_assignee
// (nobody can take tasks: nothing was created) into the form's alert.

import { api, isAbort } from "../api.js";
import { field, showApiError, textInput } from "../forms.js";
import { fillIn, loadPeople, nameOf } from "../people.js";
import { DESCRIPTION_MAX, dueLabel, jiraChip, length, taskProblems, TITLE_MAX } from "../task-parts.js";
import { clear, h, holds, pageHeader, setBusy, showMessage } from "../ui.js";

export const title = "Create task";

function taskForm(ctx, onCreated) {
  const titleField = field({
    label: "Title",
    control: textInput({ name: "title", required: true, maxlength: String(TITLE_MAX) }),
    hint: `What needs doing, in up to ${TITLE_MAX} characters. No [ or ]: the Jira id has its own field.`,
    testid: "task-title",
  });
  const jira = field({
    label: "Jira id (optional)",
    control: textInput({
      name: "jira_id",
      maxlength: "64",
      spellcheck: "false",
      autocapitalize: "characters",
      placeholder: "UBERPOP-42",
    }),
    hint: "Like UBERPOP-42.",
    testid: "task-jira-id",
  });
  const description = field({
    label: "Description (optional)",
    control: h("textarea", { name: "description", rows: "5", maxlength: String(DESCRIPTION_MAX) }),
    hint: " ",
    testid: "task-description",
  });
  const due = field({
    label: "Due date (optional)",
    control: h("input", { type: "date", name: "due_date" }),
    testid: "task-due-date",
  });
  const fields = { title: titleField, jira_id: jira, description, due_date: due };

  const counter = () => {
    const used = length(description.control.value);
    description.hint.textContent = `${used} of ${DESCRIPTION_MAX} characters.`;
  };
  description.control.addEventListener("input", counter);
  counter();

  const alert = h("div", { class: "alert", role: "alert", "data-testid": "task-form-error", hidden: true });
  const submit = h("button", { type: "submit", class: "btn", "data-testid": "task-submit" }, "Create task");
  const form = h(
    "form",
    { class: "form card", novalidate: true, "data-testid": "task-form" },
    alert,
    titleField.element,
    jira.element,
    description.element,
    h("div", { class: "field narrow" }, due.element),
    h("div", { class: "actions" }, submit),
  );

  function values() {
    return {
      title: titleField.control.value.trim(),
      // Jira ids are capitals; "uberpop-42" is what people mean by UBERPOP-42.
      jira_id: jira.control.value.trim().toUpperCase(),
      description: description.control.value,
      due_date: due.control.value,
    };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const v = values();
    const problems = taskProblems(v);
    let first = null;
    for (const [name, item] of Object.entries(fields)) {
      item.setError(problems[name] ?? "");
      if (problems[name]) first ??= item;
    }
    // A date the browser could not read leaves the input empty but "bad": say so rather than drop it.
    if (due.control.validity?.badInput) {
      due.setError("Pick a date from the calendar, like 2026-12-31.");
      first ??= due;
    }
    if (first) {
      showMessage(alert, "Please correct the marked fields.");
      first.control.focus();
      return;
    }
    showMessage(alert, "");
    setBusy(submit, true, "Creating…");
    form.setAttribute("aria-busy", "true");
    try {
      const body = { title: v.title };
      if (v.jira_id) body.jira_id = v.jira_id;
      if (v.description.trim()) body.description = v.description;
      if (v.due_date) body.due_date = v.due_date;
      const task = await api.post("/tasks", body, { signal: ctx.signal });
      if (ctx.signal.aborted) return;
      await onCreated(task);
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      showApiError(failure, { fields, region: alert })?.control.focus();
    } finally {
      if (form.isConnected) {
        setBusy(submit, false);
        form.setAttribute("aria-busy", "false");
      }
    }
  });

  return { form, focus: () => titleField.control.focus() };
}

/** Who got the task, for the sentence under "Task created". */
async function assigneeName(task, ctx) {
  if (task.assignee_id === ctx.user?.employee_id && ctx.user?.name) return ctx.user.name;
  try {
    const people = await loadPeople({ signal: ctx.signal });
    await fillIn(people, [task.assignee_id], { signal: ctx.signal });
    return nameOf(people, task.assignee_id);
  } catch (error) {
    if (isAbort(error)) throw error;
    return "a popug"; // the task exists either way; only the name is missing
  }
}

function createdCard(task, name, ctx, again) {
  const isMe = task.assignee_id === ctx.user?.employee_id;
  const links = [];
  if (isMe && holds(ctx.user, "worker")) {
    links.push(h("a", { href: "/tasks/mine", class: "btn btn-secondary", "data-testid": "task-created-mine" }, "See my tasks"));
  }
  if (holds(ctx.user, "manager") || holds(ctx.user, "admin")) {
    links.push(h("a", { href: "/tasks", class: "btn btn-secondary", "data-testid": "task-created-all" }, "See all tasks"));
  }
  const another = h("button", { type: "button", class: "btn", "data-testid": "task-create-another" }, "Create another task");
  another.addEventListener("click", again);
  const heading = h("h2", { tabindex: "-1", id: "task-created-title" }, "Task created");
  const card = h(
    "section",
    { class: "card result-card", "aria-labelledby": "task-created-title", "data-testid": "task-created" },
    heading,
    h(
      "p",
      { class: "task-created-line", "data-testid": "task-created-text" },
      "“",
      h("strong", { "data-testid": "task-created-title" }, task.title),
      "” went to ",
      h("strong", { "data-testid": "task-created-assignee" }, name),
      isMe ? " (you)" : "",
      ".",
    ),
    task.jira_id || task.due_date ? h("p", { class: "task-meta" }, jiraChip(task.jira_id), dueLabel(task)) : null,
    h("p", { class: "muted small" }, "Every new task goes to a randomly chosen popug who can take tasks."),
    h("div", { class: "actions" }, another, links),
  );
  return { card, heading };
}

export function render(main, ctx) {
  main.append(pageHeader(title, "Describe the work; aTES gives it at once to a randomly chosen popug."));
  const slot = h("div", { class: "slot" });
  main.append(slot);

  function showForm({ focus = false } = {}) {
    const { form, focus: focusTitle } = taskForm(ctx, async (task) => {
      const name = await assigneeName(task, ctx);
      if (ctx.signal.aborted) return;
      const { card, heading } = createdCard(task, name, ctx, () => showForm({ focus: true }));
      clear(slot).append(card);
      heading.focus();
    });
    clear(slot).append(form);
    if (focus) focusTitle();
  }

  showForm();
}
