// The hire / edit form for an employee (admins, R-STAFF-1): name, email, position, department.
// Used by pages/hire.js (POST /api/staff/employees) and pages/employee-edit.js
// (PATCH /api/staff/employees/{id}, only the fields that changed: moving department is a transfer).

import { field, showApiError, textInput } from "./forms.js";
import { departmentOptions } from "./staff-data.js";
import { h, setBusy, showMessage } from "./ui.js";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * employeeForm({employee, departments, submitLabel, busyLabel, onSubmit, cancelHref}) -> <form>
 * onSubmit(values) does the request and resolves when done; a rejection is shown on the form
 * (409 email_taken on the email field, 422 per field, anything else in the form's alert).
 */
export function employeeForm({ employee = null, departments, submitLabel, busyLabel, onSubmit, cancelHref = "/staff" }) {
  const name = field({
    label: "Name",
    control: textInput({ name: "name", required: true, maxlength: "200", autocomplete: "off", value: employee?.name ?? "" }),
    testid: "employee-name",
  });
  const email = field({
    label: "Email",
    control: h("input", {
      type: "email",
      name: "email",
      required: true,
      maxlength: "254",
      autocomplete: "off",
      spellcheck: "false",
      value: employee?.email ?? "",
    }),
    hint: employee ? null : "The invitation to set a password goes to this address.",
    testid: "employee-email",
  });
  const position = field({
    label: "Position",
    control: textInput({ name: "position", required: true, maxlength: "200", value: employee?.position ?? "" }),
    testid: "employee-position",
  });
  const department = field({
    label: "Department",
    control: h(
      "select",
      { name: "department_id" },
      departmentOptions(departments, { empty: "No department", selected: employee?.department_id ?? "" }),
    ),
    hint: departments.length ? null : "There are no departments yet; create them on the Org chart page.",
    testid: "employee-department",
  });
  const fields = { name, email, position, department_id: department };

  const alert = h("div", { class: "alert", role: "alert", "data-testid": "employee-form-error", hidden: true });
  const submit = h("button", { type: "submit", class: "btn", "data-testid": "employee-submit" }, submitLabel);
  const form = h(
    "form",
    { class: "form card", novalidate: true, "data-testid": "employee-form" },
    alert,
    name.element,
    email.element,
    position.element,
    department.element,
    h(
      "div",
      { class: "actions" },
      submit,
      h("a", { href: cancelHref, class: "btn btn-secondary", "data-testid": "employee-cancel" }, "Cancel"),
    ),
  );

  function values() {
    return {
      name: name.control.value.trim(),
      email: email.control.value.trim(),
      position: position.control.value.trim(),
      department_id: department.control.value || null,
    };
  }

  function check(v) {
    const problems = [];
    name.setError(v.name ? "" : "Enter a name.");
    if (!v.name) problems.push(name);
    const emailProblem = !v.email ? "Enter an email address." : EMAIL.test(v.email) ? "" : "Enter an email address like kesha@example.com.";
    email.setError(emailProblem);
    if (emailProblem) problems.push(email);
    position.setError(v.position ? "" : "Enter a position.");
    if (!v.position) problems.push(position);
    department.setError("");
    return problems;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const v = values();
    const problems = check(v);
    if (problems.length) {
      showMessage(alert, "Please correct the marked fields.");
      problems[0].control.focus();
      return;
    }
    showMessage(alert, "");
    setBusy(submit, true, busyLabel);
    form.setAttribute("aria-busy", "true");
    try {
      await onSubmit(v);
    } catch (failure) {
      if (failure?.name === "AbortError" || failure?.handled) return;
      const first = showApiError(failure, {
        fields,
        codes: { email_taken: "email", unknown_department: "department_id" },
        region: alert,
      });
      first?.control.focus();
    } finally {
      if (form.isConnected) {
        setBusy(submit, false);
        form.setAttribute("aria-busy", "false");
      }
    }
  });

  return form;
}
