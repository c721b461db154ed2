// Who is who, for pages that show popugs by id (task assignees): the staff directory as a Map of
// employee id -> employee (the account id IS the employee id, R-AUTH-8). Everyone signed in may read it.
// GET /api/staff/employees?limit=&cursor= (every status: a dismissed popug may still hold open tasks);
// GET /api/staff/employees/{id} for anyone the list did not have yet (hired a moment ago).

import { api, ApiError } from "./api.js";
import * as session from "./session.js";
import { h } from "./ui.js";

const PAGE = 100;
const MAX_PEOPLE = 10000; // a guard against a cursor that never ends
const FRESH_MS = 60_000; // moving between task pages does not read the whole directory every time

let cache = null; // {token, at, people}
const unknown = new Set(); // ids staff answered 404 for: not asked again

/** Everyone in the directory (cached for a minute per session). */
export async function loadPeople({ signal } = {}) {
  const token = session.token();
  if (cache && cache.token === token && Date.now() - cache.at < FRESH_MS) return cache.people;
  const people = new Map();
  let cursor = null;
  do {
    const page = await api.get("/staff/employees", { query: { limit: PAGE, cursor }, signal });
    for (const employee of Array.isArray(page?.items) ? page.items : []) people.set(employee.employee_id, employee);
    cursor = page?.next_cursor || null;
  } while (cursor && people.size < MAX_PEOPLE);
  cache = { token, at: Date.now(), people };
  return people;
}

/**
 * Make sure `people` knows every id in `ids`: the ones it lacks are read one by one (in parallel). An id
 * staff does not know (404) stays unknown; other failures are ignored too (a name is not worth an error).
 */
export async function fillIn(people, ids, { signal } = {}) {
  const missing = [...new Set(ids)].filter((id) => id && !people.has(id) && !unknown.has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        const employee = await api.get(`/staff/employees/${encodeURIComponent(id)}`, { signal });
        if (employee?.employee_id) people.set(employee.employee_id, employee);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error; // aborted: the caller stops
        if (error.status === 404) unknown.add(id);
      }
    }),
  );
  return people;
}

/** A popug's name for running text ("Kesha"); "an unknown popug" when staff does not know the id. */
export function nameOf(people, id) {
  return people?.get(id)?.name || "an unknown popug";
}

/**
 * A popug as a table cell or a line: the name, "(you)" for the user, "dismissed" for someone who has left
 * (their open tasks wait for the next shuffle, R-TASK-3). The id is in the title, for the curious.
 */
export function personLabel(people, id, user, testid = "person") {
  const employee = people?.get(id);
  const isMe = Boolean(id) && id === user?.employee_id;
  return h(
    "span",
    { class: "person", title: id || null },
    h(
      "span",
      { class: employee ? "person-name" : "person-name muted", "data-testid": testid },
      employee?.name || "Unknown popug",
    ),
    isMe ? h("span", { class: "muted" }, " (you)") : null,
    employee?.status === "dismissed" ? [" ", h("span", { class: "chip chip-muted" }, "Dismissed")] : null,
  );
}

/** Compare by name, for pickers. */
export function byName(a, b) {
  return String(a.name ?? "").localeCompare(String(b.name ?? ""), undefined, { sensitivity: "base" });
}
