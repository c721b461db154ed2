// Set a password from an invitation (R-AUTH-4), SIGNED OUT: the invitation email links to
// /set-password?token=…; POST /api/auth/password {token, password} (no sign-in) -> {account_id, email}.
// 410 invitation_gone: the link expired or was used; 422 weak_password: the API's rule (forms.js).
// The app renders this page outside the signed-in layout (nav.js PUBLIC_ENTRIES), with or without a session.

import { api, describeError } from "../api.js";
import { newPasswordFields, showApiError } from "../forms.js";
import { h, setBusy, showMessage } from "../ui.js";

export const title = "Set your password";

const GONE_MESSAGE = "This link has expired or was already used; ask an admin for a new invitation.";

function shell(...children) {
  return h(
    "section",
    { class: "signin card", "aria-labelledby": "set-password-title" },
    h(
      "div",
      { class: "signin-brand" },
      h("img", { src: "/favicon.svg", alt: "", width: "40", height: "40" }),
      h("span", { class: "brand-name" }, "aTES"),
    ),
    children,
  );
}

function signInLink(ctx, email, label = "Sign in") {
  const href = email ? `/?email=${encodeURIComponent(email)}` : "/";
  const link = h("a", { href, class: "btn btn-block", "data-testid": "set-password-signin" }, label);
  // Signed in as someone else in this tab: leave that session, so the sign-in form shows.
  link.addEventListener("click", () => ctx.signOut?.());
  return link;
}

/** ctx = {query, signal, signOut} (see app.js showPublic). */
export function render(main, ctx) {
  const token = (ctx.query?.get("token") ?? "").trim();
  const heading = h("h1", { id: "set-password-title", tabindex: "-1", "data-testid": "page-title" }, title);

  if (!token) {
    main.append(
      shell(
        heading,
        h(
          "p",
          { class: "alert", role: "alert", "data-testid": "set-password-gone" },
          "This link is incomplete. Open the link from your invitation email exactly as it is, or ask an admin for a new invitation.",
        ),
        signInLink(ctx, null, "Go to sign in"),
      ),
    );
    heading.focus();
    return;
  }

  const pair = newPasswordFields({
    name: "password",
    testid: "set-password",
    repeatLabel: "Repeat the password",
    mismatch: "The two passwords are not the same.",
  });
  const { password, repeat } = pair;
  const alert = h("div", {
    class: "alert",
    role: "alert",
    "aria-live": "assertive",
    "data-testid": "set-password-error",
    hidden: true,
  });
  const submit = h("button", { type: "submit", class: "btn btn-block", "data-testid": "set-password-submit" }, "Set password");
  const form = h(
    "form",
    { class: "signin-form", novalidate: true, "data-testid": "set-password-form" },
    alert,
    password.element,
    repeat.element,
    submit,
  );
  const lead = h("p", { class: "lead" }, "Welcome to aTES. Choose the password you will sign in with.");
  const box = shell(heading, lead, form);
  main.append(box);

  function gone(message) {
    form.replaceWith(
      h("p", { class: "alert", role: "alert", "data-testid": "set-password-gone" }, message),
      signInLink(ctx, null, "Go to sign in"),
    );
    lead.remove();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const value = password.control.value;
    pair.check();
    if (password.control.hasAttribute("aria-invalid") || repeat.control.hasAttribute("aria-invalid")) {
      showMessage(alert, "");
      (password.control.hasAttribute("aria-invalid") ? password : repeat).control.focus();
      return;
    }
    showMessage(alert, "");
    setBusy(submit, true, "Setting password…");
    try {
      const answer = await api.post("/auth/password", { token, password: value }, { auth: false, signal: ctx.signal });
      if (ctx.signal?.aborted) return;
      const email = answer?.email ?? "";
      heading.textContent = "Your password is set";
      lead.remove();
      form.replaceWith(
        h(
          "p",
          { class: "notice", role: "status", "data-testid": "set-password-done" },
          email ? `You can now sign in to aTES as ${email}.` : "You can now sign in to aTES.",
        ),
        signInLink(ctx, email),
      );
      heading.focus();
    } catch (failure) {
      if (failure?.name === "AbortError") return;
      setBusy(submit, false);
      if (failure?.status === 410) {
        gone(failure.code === "invitation_gone" && /expired|used/i.test(failure.message) ? GONE_MESSAGE : describeError(failure));
        heading.focus();
        return;
      }
      const first = showApiError(failure, { fields: { password }, codes: { weak_password: "password" }, region: alert });
      first?.control.focus();
    }
  });

  password.control.focus();
}
