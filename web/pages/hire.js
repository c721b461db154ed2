// Hire (admins, R-STAFF-1): POST /api/staff/employees {name, email, position, department_id?} -> 201.
// Auth then creates the account (role worker) and emails the invitation (R-AUTH-4); the directory
// opens on the new employee with a note saying so.

import { api } from "../api.js";
import { employeeForm } from "../employee-form.js";
import { loadDepartments } from "../staff-data.js";
import { loading, pageHeader, renderLoadError, setFlash } from "../ui.js";

export const title = "Hire";

export async function render(main, ctx) {
  main.append(
    pageHeader("Hire a popug", "They get the worker role and an email with a link to set their password."),
  );
  const wait = main.appendChild(loading("Loading departments…"));
  try {
    const departments = await loadDepartments({ signal: ctx.signal });
    if (ctx.signal.aborted) return;
    // Coming from the org chart's "Hire into this department": preselect it.
    const preselected = ctx.query.get("department_id") ?? "";
    const form = employeeForm({
      employee: preselected ? { department_id: preselected } : null,
      departments,
      submitLabel: "Hire",
      busyLabel: "Hiring…",
      onSubmit: async (values) => {
        const hired = await api.post("/staff/employees", values, { signal: ctx.signal });
        if (ctx.signal.aborted) return;
        setFlash(`${hired.name} was hired. An invitation to set a password is on its way to ${hired.email}.`);
        ctx.navigate(`/staff?q=${encodeURIComponent(hired.email)}`);
      },
    });
    wait.replaceWith(form);
  } catch (failure) {
    renderLoadError(main, failure, { signal: ctx.signal, roles: ctx.entry.roles, retry: () => ctx.reload() });
  }
}
