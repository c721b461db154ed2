// Edit an employee (admins, R-STAFF-1): GET /api/staff/employees/{id}, then PATCH with only the fields
// that changed. Changing the department is a transfer.

import { api } from "../api.js";
import { employeeForm } from "../employee-form.js";
import { loadDepartments } from "../staff-data.js";
import { clear, formatDateTime, h, loading, notice, pageHeader, renderLoadError, setFlash, statusChip } from "../ui.js";

export const title = "Edit employee";

export async function render(main, ctx) {
  const header = pageHeader(title);
  main.append(header);
  const wait = main.appendChild(loading("Loading the employee…"));
  const id = ctx.params.id;
  try {
    const [employee, departments] = await Promise.all([
      api.get(`/staff/employees/${encodeURIComponent(id)}`, { signal: ctx.signal }),
      loadDepartments({ signal: ctx.signal }),
    ]);
    if (ctx.signal.aborted) return;
    header.querySelector("h1").textContent = `Edit ${employee.name}`;
    if (employee.status === "dismissed") {
      clear(main).append(
        notice({
          title: `${employee.name} was dismissed`,
          message: `Dismissed employees cannot be edited (dismissed ${formatDateTime(employee.dismissed_at)}).`,
          testid: "employee-dismissed",
          action: h("a", { href: "/staff?status=dismissed", class: "btn btn-secondary" }, "Back to the directory"),
        }),
      );
      return;
    }
    const form = employeeForm({
      employee,
      departments,
      submitLabel: "Save changes",
      busyLabel: "Saving…",
      onSubmit: async (values) => {
        const changes = {};
        for (const [key, value] of Object.entries(values)) {
          if ((employee[key] ?? null) !== value) changes[key] = value;
        }
        if (Object.keys(changes).length) {
          const saved = await api.patch(`/staff/employees/${encodeURIComponent(id)}`, changes, { signal: ctx.signal });
          if (ctx.signal.aborted) return;
          const moved = "department_id" in changes ? " and transferred" : "";
          setFlash(`${saved.name} was updated${moved}.`);
        }
        ctx.navigate("/staff");
      },
    });
    wait.replaceWith(
      h(
        "p",
        { class: "muted", "data-testid": "employee-meta" },
        statusChip(employee.status),
        ` Hired ${formatDateTime(employee.hired_at)}.`,
      ),
      form,
    );
  } catch (failure) {
    if (ctx.signal.aborted) return;
    if (failure?.status === 404) {
      clear(main).append(
        notice({
          title: "No such employee",
          message: "This employee does not exist (any more).",
          testid: "not-found",
          action: h("a", { href: "/staff", class: "btn btn-secondary" }, "Back to the directory"),
        }),
      );
      return;
    }
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
