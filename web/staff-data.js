// Reading staff data the way several pages need it: every department (the list pages by cursor), the
// department tree built from parent ids, and <option>s for department pickers.

import { api } from "./api.js";
import { h } from "./ui.js";

const DEPARTMENT_PAGE = 100;
const MAX_DEPARTMENTS = 5000; // a guard against a cursor that never ends, far above any real company

/** All departments, following next_cursor. */
export async function loadDepartments({ signal } = {}) {
  const all = [];
  let cursor = null;
  do {
    const page = await api.get("/staff/departments", { query: { limit: DEPARTMENT_PAGE, cursor }, signal });
    all.push(...(Array.isArray(page?.items) ? page.items : []));
    cursor = page?.next_cursor || null;
  } while (cursor && all.length < MAX_DEPARTMENTS);
  return all;
}

export function byName(a, b) {
  return String(a.name ?? "").localeCompare(String(b.name ?? ""), undefined, { sensitivity: "base" });
}

/**
 * The tree: [{department, children: [...], depth}], siblings by name. A department whose parent is not
 * in the list is shown as a root, and a (should-never-happen) cycle is cut, so nothing disappears.
 */
export function departmentTree(departments) {
  const ids = new Set(departments.map((d) => d.department_id));
  const kids = new Map();
  const roots = [];
  for (const department of [...departments].sort(byName)) {
    const parent = department.parent_id && ids.has(department.parent_id) ? department.parent_id : null;
    if (parent === null) roots.push(department);
    else kids.set(parent, [...(kids.get(parent) ?? []), department]);
  }
  const seen = new Set();
  const build = (department, depth) => {
    seen.add(department.department_id);
    const children = (kids.get(department.department_id) ?? []).filter((c) => !seen.has(c.department_id));
    return { department, depth, children: children.map((child) => build(child, depth + 1)) };
  };
  const tree = roots.map((root) => build(root, 0));
  // Departments only reachable through a cycle: show them as roots too.
  for (const department of departments) {
    if (!seen.has(department.department_id)) tree.push(build(department, 0));
  }
  return tree;
}

/** The tree in display order, flat: [{department, depth}]. */
export function flatten(tree) {
  const out = [];
  const walk = (nodes) => {
    for (const node of nodes) {
      out.push(node);
      walk(node.children);
    }
  };
  walk(tree);
  return out;
}

/** The ids of a department and everything under it (a department cannot move under these). */
export function subtreeIds(departments, departmentId) {
  const ids = new Set([departmentId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of departments) {
      if (d.parent_id && ids.has(d.parent_id) && !ids.has(d.department_id)) {
        ids.add(d.department_id);
        grew = true;
      }
    }
  }
  return ids;
}

/**
 * <option>s for a department picker, indented by depth: `empty` is the label of the "" option (null: no
 * such option), `exclude` a set of ids left out, `selected` the chosen id.
 */
export function departmentOptions(departments, { empty = null, exclude = new Set(), selected = "" } = {}) {
  const options = [];
  if (empty !== null) options.push(h("option", { value: "", selected: !selected }, empty));
  for (const { department, depth } of flatten(departmentTree(departments))) {
    if (exclude.has(department.department_id)) continue;
    options.push(
      h(
        "option",
        { value: department.department_id, selected: department.department_id === selected },
        `${"\u00a0\u00a0\u00a0".repeat(depth)}${department.name}`,
      ),
    );
  }
  return options;
}

/** id -> name. */
export function departmentNames(departments) {
  return new Map(departments.map((d) => [d.department_id, d.name]));
}
