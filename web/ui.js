// Small DOM helpers shared by every page: one way to build elements (text always goes in as text, never
// as HTML, so data from the API cannot inject markup), and the common pieces of the one look.

import { ApiError, describeError, isAbort } from "./api.js";

/**
 * h("button", {class: "btn", "data-testid": "x", onclick: fn}, "Label", child, [more])
 * Props: `class`, `text`, `on<event>` handlers; anything else becomes an attribute (true -> "",
 * false/null/undefined -> left out). Children: nodes, strings, numbers, arrays; null/false skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** The page's heading (the target of focus after navigation) and an optional lead sentence. */
export function pageHeader(title, lead) {
  return h(
    "header",
    { class: "page-header" },
    h("h1", { tabindex: "-1", "data-testid": "page-title" }, title),
    lead ? h("p", { class: "lead" }, lead) : null,
  );
}

/** A live region for errors: screen readers announce it as soon as text appears. */
export function errorRegion(testid) {
  return h("div", { class: "alert", role: "alert", "aria-live": "assertive", "data-testid": testid, hidden: true });
}

export function showMessage(region, text) {
  region.textContent = text ?? "";
  region.hidden = !text;
}

/** A polite live region for progress ("Loading…", "Showing 50 accounts"). */
export function statusRegion(testid) {
  return h("p", { class: "status", role: "status", "aria-live": "polite", "data-testid": testid });
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status", "aria-live": "polite", "data-testid": "loading" }, text);
}

const ROLE_DESCRIPTIONS = {
  worker: "Gets tasks assigned and is paid for completing them",
  manager: "Sees all tasks and can shuffle them",
  admin: "Manages staff, accounts and roles",
  accountant: "Sees every balance and the daily statistics",
};

/** Every role there is (SPEC §2), in the order the front lists them. */
export const ROLES = Object.keys(ROLE_DESCRIPTIONS);

/** Does this user (from /auth/me) hold `role`? For showing or hiding controls; the API decides. */
export function holds(user, role) {
  return Array.isArray(user?.roles) && user.roles.includes(role);
}

export function roleBadges(roles) {
  const list = Array.isArray(roles) ? roles : [];
  if (!list.length) return h("span", { class: "muted" }, "no roles");
  return h(
    "span",
    { class: "roles", "data-testid": "roles" },
    list.map((role) => h("span", { class: `chip role-${role}`, title: ROLE_DESCRIPTIONS[role] ?? role }, role)),
  );
}

export function roleDescription(role) {
  return ROLE_DESCRIPTIONS[role] ?? "";
}

/** A local date and time for an ISO timestamp ("—" when empty, the raw text when unreadable). */
export function formatDateTime(iso) {
  if (!iso) return "—";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso);
  return when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** Visible text for screen readers only. */
export function srOnly(text) {
  return h("span", { class: "visually-hidden" }, text);
}

/** A full-page explanation (forbidden, not found, failed load) with an optional action. */
export function notice({ title, message, testid, action, alert = false }) {
  return h(
    "section",
    { class: "card notice-card", "data-testid": testid },
    h("h1", { tabindex: "-1", "data-testid": "page-title" }, title),
    h("p", { role: alert ? "alert" : null, "data-testid": `${testid}-message` }, message),
    action ?? null,
  );
}

export function rolesPhrase(roles) {
  const names = roles.map((role) => `${role}`);
  if (names.length === 1) return `the ${names[0]} role`;
  return `one of the roles ${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/** What a page shows when it is not allowed (`roles`: the roles it needs). */
export function forbiddenNotice(roles, detail) {
  const need = roles?.length ? `You need ${rolesPhrase(roles)} to open this page.` : detail;
  return notice({
    alert: true,
    title: "Not allowed",
    message: need || "You do not have the role needed for this page.",
    testid: "forbidden",
    action: h("a", { href: "/", class: "btn btn-secondary" }, "Back to my profile"),
  });
}

/**
 * Put a failed load on screen: nothing when the page was left (aborted) or the app already reacted
 * (401 -> sign-in); the forbidden notice on 403; otherwise the readable message, with a retry button.
 */
export function renderLoadError(container, error, { signal, roles, retry } = {}) {
  if (isAbort(error) || signal?.aborted || (error instanceof ApiError && error.handled)) return;
  clear(container);
  if (error instanceof ApiError && error.status === 403) {
    container.append(forbiddenNotice(roles, error.message));
    return;
  }
  container.append(
    notice({
      title: "Could not load this page",
      message: describeError(error),
      testid: "load-error",
      alert: true,
      action: retry ? h("button", { type: "button", class: "btn", onclick: retry }, "Try again") : null,
    }),
  );
}

/** An employee's status as a chip: "Active" or "Dismissed". */
export function statusChip(status) {
  return status === "dismissed"
    ? h("span", { class: "chip chip-muted", "data-testid": "status-chip" }, "Dismissed")
    : h("span", { class: "chip chip-ok", "data-testid": "status-chip" }, "Active");
}

/** Busy state of a button while its request runs: disabled, a spinner and a label like "Saving…". */
export function setBusy(button, busy, busyText = "Working…") {
  if (busy) {
    if (button.dataset.label === undefined) button.dataset.label = button.textContent;
    button.textContent = busyText;
  } else if (button.dataset.label !== undefined) {
    button.textContent = button.dataset.label;
    delete button.dataset.label;
  }
  button.disabled = busy;
  button.classList.toggle("is-busy", busy);
}

// One sentence carried to the next page the app renders ("Kesha was hired."), shown once.
let flash = null;

export function setFlash(text) {
  flash = text;
}

/** The pending flash message as a polite notice (and forget it), or null. */
export function takeFlash(testid = "flash") {
  const text = flash;
  flash = null;
  return text ? h("p", { class: "notice", role: "status", "aria-live": "polite", "data-testid": testid }, text) : null;
}

let dialogSeq = 0;

/**
 * Ask before doing something that cannot be undone. A modal <dialog> (focus stays inside, Escape
 * cancels); resolves to true only for the confirm button. Focus returns to where it was.
 * `signal`: the page's signal, so leaving the page closes the question (as "no").
 */
export function confirmDialog({ title, message, confirmLabel = "Confirm", cancelLabel = "Cancel", danger = false,
  testid = "confirm", signal } = {}) {
  const id = `dialog-${++dialogSeq}`;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    let answer = false;
    const yes = h(
      "button",
      { type: "button", class: danger ? "btn btn-danger" : "btn", "data-testid": `${testid}-yes` },
      confirmLabel,
    );
    const no = h("button", { type: "button", class: "btn btn-secondary", "data-testid": `${testid}-no` }, cancelLabel);
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-message`, "data-testid": testid },
      h("h2", { id: `${id}-title` }, title),
      h("p", { id: `${id}-message` }, message),
      h("div", { class: "actions" }, no, yes),
    );
    yes.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(answer);
    });
    signal?.addEventListener("abort", () => dialog.open && dialog.close(), { once: true });
    document.body.append(dialog);
    dialog.showModal();
    no.focus(); // the safe answer is the default one
  });
}
