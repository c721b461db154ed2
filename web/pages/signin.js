// Sign-in: email + password -> POST /api/auth/login -> access token kept in the tab's session.
// The app renders this page (outside the signed-in layout) whenever there is no live session.

import { api, describeError } from "../api.js";
import * as session from "../session.js";
import { h, showMessage } from "../ui.js";

export const title = "Sign in";

/**
 * ctx.notice: a sentence to show above the form (signed out, session expired).
 * ctx.email: prefill the email (from /?email=…, the link after setting a password).
 * ctx.onSignedIn(): called once the token is stored; the app then loads the user and the target page.
 */
export function render(main, ctx = {}) {
  const error = h("div", {
    id: "signin-error",
    class: "alert",
    role: "alert",
    "aria-live": "assertive",
    "data-testid": "signin-error",
    hidden: true,
  });
  const email = h("input", {
    id: "signin-email",
    name: "email",
    type: "email",
    autocomplete: "username",
    inputmode: "email",
    spellcheck: "false",
    required: true,
    "aria-describedby": "signin-error",
    "data-testid": "signin-email",
  });
  const password = h("input", {
    id: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    "aria-describedby": "signin-error",
    "data-testid": "signin-password",
  });
  const submit = h("button", { type: "submit", class: "btn btn-block", "data-testid": "signin-submit" }, "Sign in");
  const fields = h(
    "fieldset",
    { class: "plain" },
    h("legend", { class: "visually-hidden" }, "Your credentials"),
    h("div", { class: "field" }, h("label", { for: "signin-email" }, "Email"), email),
    h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
    submit,
  );
  const form = h("form", { class: "signin-form", novalidate: true, "data-testid": "signin-form" }, error, fields);

  function setBusy(busy) {
    fields.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
    submit.classList.toggle("is-busy", busy);
    submit.textContent = busy ? "Signing in…" : "Sign in";
  }

  function markInvalid(...inputs) {
    for (const input of [email, password]) input.removeAttribute("aria-invalid");
    for (const input of inputs) input.setAttribute("aria-invalid", "true");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const address = email.value.trim();
    if (!address || !password.value) {
      markInvalid(...[!address && email, !password.value && password].filter(Boolean));
      showMessage(error, "Enter your email and password.");
      (address ? password : email).focus();
      return;
    }
    markInvalid();
    showMessage(error, "");
    setBusy(true);
    try {
      const answer = await api.post("/auth/login", { email: address, password: password.value }, { auth: false });
      if (!answer || typeof answer.access_token !== "string") {
        throw new Error("the login answer has no access_token");
      }
      session.saveToken(answer.access_token, Number(answer.expires_in));
      await ctx.onSignedIn?.();
    } catch (failure) {
      setBusy(false);
      showMessage(error, describeError(failure));
      if (failure?.status === 401) markInvalid(email, password);
      password.value = "";
      password.focus();
    }
  });

  main.append(
    h(
      "section",
      { class: "signin card", "aria-labelledby": "signin-title" },
      h(
        "div",
        { class: "signin-brand" },
        h("img", { src: "/favicon.svg", alt: "", width: "40", height: "40" }),
        h("span", { class: "brand-name" }, "aTES"),
      ),
      h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in"),
      h("p", { class: "lead" }, "UberPopug Inc.'s task tracker, payroll and management dashboard."),
      ctx.notice
        ? h("p", { class: "notice", role: "status", "aria-live": "polite", "data-testid": "signin-notice" }, ctx.notice)
        : null,
      form,
    ),
  );
  if (ctx.email) {
    email.value = ctx.email;
    password.focus();
  } else {
    email.focus();
  }
}
