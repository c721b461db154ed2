// Org chart (everyone signed in, R-STAFF-1/2): the department tree with member counts and heads, and the
// members of the department picked. Admins create departments, rename, move (a department never goes
// under itself or its descendants; the API answers 409 cycle anyway), set the head, and delete empty
// departments (409 department_not_empty is shown as the API words it).
// GET|POST /api/staff/departments, PATCH|DELETE /api/staff/departments/{id},
// GET /api/staff/employees?department_id=&status=active, GET /api/staff/employees/{id} (heads' names).

import { api, describeError, isAbort } from "../api.js";
import { field, showApiError, textInput } from "../forms.js";
import { departmentOptions, departmentTree, loadDepartments, subtreeIds } from "../staff-data.js";
import {
  clear,
  confirmDialog,
  h,
  holds,
  pageHeader,
  renderLoadError,
  setBusy,
  showMessage,
  statusRegion,
} from "../ui.js";

export const title = "Org chart";
const MEMBERS_PAGE = 100;

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export async function render(main, ctx) {
  const isAdmin = holds(ctx.user, "admin");
  main.append(pageHeader(title, "The departments of UberPopug Inc., their heads, and who is in them."));

  const live = statusRegion("org-status");
  const treeError = h("div", { class: "alert", role: "alert", "data-testid": "org-error", hidden: true });
  const treeBox = h("div", { class: "tree", "data-testid": "org-tree" });
  const detail = h("section", {
    class: "card org-detail",
    "aria-labelledby": "org-detail-title",
    "data-testid": "org-detail",
    id: "org-detail",
  });
  const treeCard = h(
    "section",
    { class: "card", "aria-labelledby": "org-tree-title" },
    h("h2", { id: "org-tree-title" }, "Departments"),
    live,
    treeError,
    treeBox,
  );
  main.append(h("div", { class: "org-grid" }, treeCard, detail));

  let departments = [];
  const heads = new Map(); // employee id -> employee (or null when it cannot be read)
  let selectedId = ctx.query.get("department") || null;
  let detailController = null;
  let departmentsChanged = null; // refreshes the "New department" form's parent list (admins)

  const byId = () => new Map(departments.map((d) => [d.department_id, d]));

  function headLabel(headId) {
    if (!headId) return null;
    const head = heads.get(headId);
    if (head === undefined) return "…";
    if (head === null) return "unknown";
    return head.status === "dismissed" ? `${head.name} (dismissed)` : head.name;
  }

  async function loadHeads() {
    const missing = [...new Set(departments.map((d) => d.head_id).filter((id) => id && !heads.has(id)))];
    await Promise.all(
      missing.map(async (id) => {
        try {
          heads.set(id, await api.get(`/staff/employees/${encodeURIComponent(id)}`, { signal: ctx.signal }));
        } catch (failure) {
          if (isAbort(failure) || failure?.handled) throw failure;
          heads.set(id, null);
        }
      }),
    );
  }

  function select(id) {
    selectedId = id;
    const url = id ? `/org-chart?department=${encodeURIComponent(id)}` : "/org-chart";
    window.history.replaceState(null, "", url);
    for (const button of treeBox.querySelectorAll("button[data-department-id]")) {
      button.setAttribute("aria-pressed", button.dataset.departmentId === id ? "true" : "false");
    }
    showDetail();
  }

  function node({ department, children }) {
    const head = headLabel(department.head_id);
    const button = h(
      "button",
      {
        type: "button",
        class: "tree-item",
        "data-testid": "org-node",
        "data-department-id": department.department_id,
        "aria-pressed": department.department_id === selectedId ? "true" : "false",
        "aria-controls": "org-detail",
      },
      h("span", { class: "tree-name", "data-testid": "org-node-name" }, department.name),
      h(
        "span",
        { class: "tree-meta" },
        h("span", { "data-testid": "org-node-members" }, plural(department.members ?? 0, "member", "members")),
        head ? h("span", { "data-testid": "org-node-head" }, `Head: ${head}`) : null,
      ),
    );
    button.addEventListener("click", () => {
      select(department.department_id);
      // On a phone the details are under the tree: bring them up.
      if (detail.getBoundingClientRect().top > window.innerHeight) detail.scrollIntoView({ block: "start" });
    });
    return h(
      "li",
      { "data-testid": "org-branch" },
      button,
      children.length ? h("ul", {}, children.map(node)) : null,
    );
  }

  function paintTree() {
    const tree = departmentTree(departments);
    if (!tree.length) {
      clear(treeBox).append(
        h("p", { class: "muted" }, isAdmin ? "No departments yet: create the first one below." : "No departments yet."),
      );
    } else {
      clear(treeBox).append(h("ul", { class: "tree-root" }, tree.map(node)));
    }
  }

  async function reload({ selectId } = {}) {
    departments = await loadDepartments({ signal: ctx.signal });
    if (ctx.signal.aborted) return;
    if (selectId !== undefined) selectedId = selectId;
    if (selectedId && !byId().has(selectedId)) selectedId = null;
    paintTree();
    live.textContent = departments.length ? `${plural(departments.length, "department", "departments")}.` : "";
    departmentsChanged?.();
    select(selectedId);
    await loadHeads();
    if (ctx.signal.aborted) return;
    // The heads' names come after the tree and the details can be used: they are put in place, and the
    // details are not drawn again, which would abort what someone started there meanwhile (a delete, a save),
    // nor is the status line said again over what that said.
    paintTree();
    const shown = selectedId ? byId().get(selectedId) : null;
    const headCell = detail.querySelector('[data-testid="org-detail-head"]');
    if (shown?.head_id && headCell) headCell.textContent = headLabel(shown.head_id);
  }

  // ---- detail of the selected department ------------------------------------------------------

  function showDetail() {
    detailController?.abort();
    detailController = new AbortController();
    const leave = detailController;
    ctx.signal.addEventListener("abort", () => leave.abort(), { once: true });
    const { signal } = detailController;

    const department = selectedId ? byId().get(selectedId) : null;
    if (!department) {
      clear(detail).append(
        h("h2", { id: "org-detail-title", tabindex: "-1" }, "Members"),
        h("p", { class: "muted", "data-testid": "org-detail-empty" }, "Pick a department to see its members."),
      );
      return;
    }
    const parent = department.parent_id ? byId().get(department.parent_id) : null;
    const headText = headLabel(department.head_id);
    const membersBody = h("ul", { class: "members", "data-testid": "org-members" });
    const membersStatus = statusRegion("org-members-status");
    const membersError = h("div", { class: "alert", role: "alert", hidden: true });
    const more = h(
      "button",
      { type: "button", class: "btn btn-secondary btn-small", "data-testid": "org-members-more", hidden: true },
      "Load more",
    );
    const members = [];
    let cursor = null;

    const editor = isAdmin ? departmentEditor(department, members, signal) : null;

    clear(detail).append(
      h("h2", { id: "org-detail-title", tabindex: "-1", "data-testid": "org-detail-name" }, department.name),
      h(
        "dl",
        { class: "details" },
        h("dt", {}, "Part of"),
        h("dd", { "data-testid": "org-detail-parent" }, parent ? parent.name : "Top level"),
        h("dt", {}, "Head"),
        h("dd", { "data-testid": "org-detail-head" }, headText ?? h("span", { class: "muted" }, "Nobody yet")),
        h("dt", {}, "Members"),
        h("dd", { "data-testid": "org-detail-members" }, String(department.members ?? 0)),
        h("dt", {}, "Sub-departments"),
        h("dd", {}, String(department.children ?? 0)),
      ),
      h("h3", { class: "subheading" }, "Members"),
      membersStatus,
      membersError,
      membersBody,
      h("div", { class: "actions" }, more),
      isAdmin
        ? h(
            "p",
            {},
            h(
              "a",
              {
                href: `/staff/hire?department_id=${encodeURIComponent(department.department_id)}`,
                class: "btn btn-secondary btn-small",
                "data-testid": "org-hire-here",
              },
              "Hire into this department",
            ),
          )
        : null,
      editor?.element,
    );

    async function loadMembers() {
      const page = await api.get("/staff/employees", {
        query: { department_id: department.department_id, status: "active", limit: MEMBERS_PAGE, cursor },
        signal,
      });
      if (signal.aborted) return;
      const items = Array.isArray(page?.items) ? page.items : [];
      members.push(...items);
      cursor = page?.next_cursor || null;
      membersBody.append(
        ...items.map((m) =>
          h(
            "li",
            { "data-testid": "org-member", "data-employee-id": m.employee_id },
            h("span", { class: "member-name" }, m.name),
            m.employee_id === department.head_id ? h("span", { class: "chip chip-ok" }, "Head") : null,
            h("span", { class: "muted" }, ` ${m.position || ""}`),
          ),
        ),
      );
      more.hidden = !cursor;
      membersStatus.textContent = members.length
        ? `${plural(members.length, "member", "members")}${cursor ? " so far" : ""}.`
        : "Nobody works here yet.";
      editor?.membersLoaded();
    }

    async function loadMembersSafely() {
      showMessage(membersError, "");
      try {
        await loadMembers();
      } catch (failure) {
        if (isAbort(failure) || signal.aborted || failure?.handled) return;
        membersStatus.textContent = "";
        showMessage(membersError, describeError(failure));
      }
    }

    more.addEventListener("click", async () => {
      setBusy(more, true, "Loading…");
      await loadMembersSafely();
      setBusy(more, false);
    });
    membersStatus.textContent = "Loading members…";
    loadMembersSafely();
  }

  // ---- admins: edit, delete, create ---------------------------------------------------------

  function departmentEditor(department, members, signal) {
    const name = field({
      label: "Name",
      control: textInput({ name: "name", maxlength: "200", value: department.name }),
      testid: "org-edit-name",
    });
    const parent = field({
      label: "Part of",
      control: h(
        "select",
        { name: "parent_id" },
        departmentOptions(departments, {
          empty: "Top level",
          exclude: subtreeIds(departments, department.department_id),
          selected: department.parent_id ?? "",
        }),
      ),
      hint: "A department cannot move under itself or its own sub-departments.",
      testid: "org-edit-parent",
    });
    const headSelect = h("select", { name: "head_id", disabled: true }, h("option", { value: "" }, "Loading members…"));
    const head = field({ label: "Head", control: headSelect, testid: "org-edit-head" });
    const alert = h("div", { class: "alert", role: "alert", "data-testid": "org-edit-error", hidden: true });
    const saved = statusRegion("org-edit-status");
    const save = h("button", { type: "submit", class: "btn", "data-testid": "org-save" }, "Save changes");
    const remove = h(
      "button",
      { type: "button", class: "btn btn-danger-outline", "data-testid": "org-delete" },
      "Delete department",
    );
    const form = h(
      "form",
      { class: "subform", novalidate: true, "data-testid": "org-edit-form", "aria-labelledby": "org-edit-title" },
      h("h3", { id: "org-edit-title", class: "subheading" }, "Change this department"),
      alert,
      saved,
      name.element,
      parent.element,
      head.element,
      h("div", { class: "actions" }, save, remove),
    );
    const fields = { name, parent_id: parent, head_id: head };

    function membersLoaded() {
      const options = [h("option", { value: "" }, "Nobody")];
      const seen = new Set();
      for (const m of members) {
        seen.add(m.employee_id);
        options.push(h("option", { value: m.employee_id }, `${m.name}${m.position ? `, ${m.position}` : ""}`));
      }
      if (department.head_id && !seen.has(department.head_id)) {
        options.push(h("option", { value: department.head_id }, headLabel(department.head_id) ?? "The current head"));
      }
      headSelect.replaceChildren(...options);
      headSelect.value = department.head_id ?? "";
      headSelect.disabled = false;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (save.disabled) return;
      const wanted = {
        name: name.control.value.trim(),
        parent_id: parent.control.value || null,
        head_id: headSelect.disabled ? (department.head_id ?? null) : headSelect.value || null,
      };
      showMessage(alert, "");
      saved.textContent = "";
      if (!wanted.name) {
        name.setError("Enter a name.");
        name.control.focus();
        return;
      }
      const changes = {};
      for (const [key, value] of Object.entries(wanted)) {
        if ((department[key] ?? null) !== value) changes[key] = value;
      }
      if (!Object.keys(changes).length) {
        for (const item of Object.values(fields)) item.setError("");
        saved.textContent = "Nothing to save: no field was changed.";
        return;
      }
      setBusy(save, true, "Saving…");
      try {
        const after = await api.patch(`/staff/departments/${encodeURIComponent(department.department_id)}`, changes, {
          signal,
        });
        if (signal.aborted) return;
        await reload({ selectId: department.department_id });
        live.textContent = `${after?.name ?? wanted.name} was saved.`;
      } catch (failure) {
        if (isAbort(failure) || signal.aborted || failure?.handled) return;
        setBusy(save, false);
        const first = showApiError(failure, {
          fields,
          codes: { cycle: "parent_id", unknown_head: "head_id" },
          region: alert,
        });
        first?.control.focus();
      }
    });

    remove.addEventListener("click", async () => {
      const sure = await confirmDialog({
        title: `Delete ${department.name}?`,
        message: "Only an empty department can be deleted: it must have no members and no sub-departments.",
        confirmLabel: "Delete",
        danger: true,
        testid: "delete-dialog",
        signal,
      });
      if (!sure || signal.aborted) return;
      setBusy(remove, true, "Deleting…");
      showMessage(alert, "");
      try {
        await api.delete(`/staff/departments/${encodeURIComponent(department.department_id)}`, { signal });
        if (signal.aborted) return;
        await reload({ selectId: null });
        live.textContent = `${department.name} was deleted.`;
      } catch (failure) {
        if (isAbort(failure) || signal.aborted || failure?.handled) return;
        setBusy(remove, false);
        showMessage(alert, describeError(failure));
        remove.focus();
      }
    });

    return { element: form, membersLoaded };
  }

  function creator() {
    const name = field({
      label: "Name",
      control: textInput({ name: "name", maxlength: "200" }),
      testid: "org-new-name",
    });
    const parentSelect = h("select", { name: "parent_id" });
    const parent = field({ label: "Part of", control: parentSelect, testid: "org-new-parent" });
    const alert = h("div", { class: "alert", role: "alert", "data-testid": "org-new-error", hidden: true });
    const create = h("button", { type: "submit", class: "btn", "data-testid": "org-create" }, "Create department");
    const form = h(
      "form",
      { class: "subform", novalidate: true, "data-testid": "org-new-form", "aria-labelledby": "org-new-title" },
      h("h3", { id: "org-new-title", class: "subheading" }, "New department"),
      alert,
      name.element,
      parent.element,
      h("div", { class: "actions" }, create),
    );
    const fields = { name, parent_id: parent };

    function refreshParents() {
      const keep = parentSelect.value;
      parentSelect.replaceChildren(...departmentOptions(departments, { empty: "Top level", selected: keep }));
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (create.disabled) return;
      const body = { name: name.control.value.trim() };
      if (parentSelect.value) body.parent_id = parentSelect.value;
      showMessage(alert, "");
      if (!body.name) {
        name.setError("Enter a name.");
        name.control.focus();
        return;
      }
      name.setError("");
      setBusy(create, true, "Creating…");
      try {
        const made = await api.post("/staff/departments", body, { signal: ctx.signal });
        if (ctx.signal.aborted) return;
        name.control.value = "";
        await reload({ selectId: made.department_id });
        live.textContent = `${made.name} was created.`;
      } catch (failure) {
        if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
        const first = showApiError(failure, { fields, codes: { unknown_parent: "parent_id" }, region: alert });
        first?.control.focus();
      } finally {
        setBusy(create, false);
      }
    });
    return { element: form, refreshParents };
  }

  const newDepartment = isAdmin ? creator() : null;
  if (newDepartment) {
    treeCard.append(newDepartment.element);
    departmentsChanged = newDepartment.refreshParents;
  }

  live.textContent = "Loading departments…";
  try {
    await reload();
  } catch (failure) {
    if (isAbort(failure)) return;
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
