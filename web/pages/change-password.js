// Change my password (anyone signed in): POST /api/auth/password/change {current_password, new_password}.
// 422 wrong_password marks the current password, 422 weak_password the new one. A new password ends every
// session opened before it (R-SEC-3), this tab's too: the answer carries a token of the new session, kept here,
// so the person goes on where they are while every other device is signed out.

import { api } from "../api.js";
import * as session from "../session.js";
import { field, newPasswordFields, showApiError } from "../forms.js";
import { h, pageHeader, setBusy, showMessage } from "../ui.js";

export const title = "Change password";

export function render(main, ctx) {
  main.append(pageHeader(title, "Choose a new password for signing in to aTES."));

  const current = field({
    label: "Current password",
    control: h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true }),
    testid: "password-current",
  });
  const pair = newPasswordFields({
    name: "new_password",
    testid: "password",
    repeatLabel: "Repeat the new password",
    mismatch: "The two new passwords are not the same.",
    userInputs: () => [ctx.user?.name, ctx.user?.email].filter(Boolean),
  });
  const { password: next, repeat } = pair;
  const fields = { current_password: current, new_password: next, repeat };

  const alert = h("div", { class: "alert", role: "alert", "data-testid": "password-error", hidden: true });
  const done = h("p", { class: "notice", role: "status", "aria-live": "polite", "data-testid": "password-done", hidden: true });
  const submit = h("button", { type: "submit", class: "btn", "data-testid": "password-submit" }, "Change password");
  // A hidden username lets password managers file the new password under the right account.
  const username = h("input", {
    type: "text",
    name: "username",
    autocomplete: "username",
    value: ctx.user?.email ?? "",
    hidden: true,
    readonly: true,
    tabindex: "-1",
    "aria-hidden": "true",
  });
  const form = h(
    "form",
    { class: "form card", novalidate: true, "data-testid": "password-form" },
    done,
    alert,
    username,
    current.element,
    next.element,
    repeat.element,
    h(
      "div",
      { class: "actions" },
      submit,
      h("a", { href: "/", class: "btn btn-secondary" }, "Back to my profile"),
    ),
  );
  main.append(form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    done.hidden = true;
    const value = next.control.value;
    current.setError(current.control.value ? "" : "Enter your current password.");
    pair.check();
    const invalid = [current, next, repeat].find((f) => f.control.hasAttribute("aria-invalid"));
    if (invalid) {
      showMessage(alert, "Please correct the marked fields.");
      invalid.control.focus();
      return;
    }
    showMessage(alert, "");
    setBusy(submit, true, "Changing…");
    try {
      const answer = await api.post(
        "/auth/password/change",
        { current_password: current.control.value, new_password: value },
        { signal: ctx.signal },
      );
      if (answer?.access_token) {
        const me = session.getUser();
        session.saveToken(answer.access_token, answer.expires_in);
        if (me) session.setUser(me); // the same person, in a new session
      }
      if (ctx.signal.aborted) return;
      for (const f of [current, next, repeat]) f.control.value = "";
      next.control.dispatchEvent(new Event("input"));
      done.textContent =
        "Your password has been changed. Use the new one next time you sign in; other devices have been signed out.";
      done.hidden = false;
    } catch (failure) {
      if (failure?.name === "AbortError" || ctx.signal.aborted || failure?.handled) return;
      const first = showApiError(failure, {
        fields,
        codes: { wrong_password: "current_password", weak_password: "new_password" },
        region: alert,
      });
      first?.control.focus();
    } finally {
      setBusy(submit, false);
    }
  });
}
