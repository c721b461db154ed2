// Form pieces shared by the pages that edit things: a labelled field with its hint and inline error,
// reading an API error back onto the fields it is about, and the password rules the API applies.

import { ApiError, describeError, sentence } from "./api.js";
import { daysBetween, isIsoDate } from "./money.js";
import { h, showMessage } from "./ui.js";

let fieldSeq = 0;

/**
 * field({label, control, hint, testid}) -> {element, control, setError(text)}
 * `control` is an <input>/<select>/<textarea>; it gets an id, and aria-describedby pointing at the hint
 * and the error, so a screen reader reads both. The error paragraph is `<testid>-error`.
 */
export function field({ label, control, hint, testid }) {
  if (!control.id) control.id = `field-${++fieldSeq}`;
  const id = control.id;
  if (testid) control.setAttribute("data-testid", testid);
  const hintEl = hint
    ? h("p", { id: `${id}-hint`, class: "hint", "data-testid": testid ? `${testid}-hint` : null }, hint)
    : null;
  const error = h("p", {
    id: `${id}-error`,
    class: "field-error",
    "data-testid": testid ? `${testid}-error` : null,
    hidden: true,
  });
  control.setAttribute("aria-describedby", [hintEl && hintEl.id, error.id].filter(Boolean).join(" "));
  const element = h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, error);
  return {
    element,
    control,
    hint: hintEl,
    setError(text) {
      showMessage(error, text ? sentence(text) : "");
      if (text) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    },
  };
}

export function textInput(props = {}) {
  return h("input", { type: "text", autocomplete: "off", ...props });
}

/**
 * Spread an API error over a form: `fields` maps field names (as the API names them) to field() objects;
 * `codes` maps error codes to a field name (email_taken -> "email"). A 422 validation_error message
 * ("name: String should have at least 1 character; email: value is not a valid email address") is split
 * per field. Whatever belongs to no field goes to `region` (the form's alert). Returns the first field
 * with an error, so the caller can focus it.
 */
export function showApiError(error, { fields, codes = {}, region }) {
  for (const item of Object.values(fields)) item.setError("");
  const rest = [];
  let first = null;
  const mark = (name, text) => {
    fields[name].setError(text);
    first ??= fields[name];
  };
  if (error instanceof ApiError && codes[error.code] && fields[codes[error.code]]) {
    mark(codes[error.code], error.message);
  } else if (error instanceof ApiError && error.status === 422 && error.code === "validation_error") {
    for (const part of String(error.message).split("; ")) {
      const found = /^([\w.]+): (.+)$/.exec(part);
      if (found && fields[found[1]]) mark(found[1], found[2]);
      else rest.push(sentence(part));
    }
  } else {
    rest.push(describeError(error));
  }
  showMessage(region, rest.length ? rest.join(" ") : first ? "Please correct the marked fields." : "");
  return first;
}

// ---- passwords (the API's rule, R-AUTH-5 / weak_password) -----------------------------------------

export const PASSWORD_MIN_LENGTH = 10;

/**
 * The API's password rule, to guide the user as they type (the API still decides):
 * at least 10 characters, at least two kinds of characters (lower case, upper case, digits, symbols),
 * at least 5 different characters. -> {ok, level: "empty"|"short"|"weak"|"fair"|"strong", text}
 */
export function passwordStrength(password) {
  const value = String(password ?? "");
  if (!value) {
    return { ok: false, level: "empty", text: `At least ${PASSWORD_MIN_LENGTH} characters, mixing letters with digits or symbols.` };
  }
  const chars = [...value];
  if (chars.length < PASSWORD_MIN_LENGTH) {
    const missing = PASSWORD_MIN_LENGTH - chars.length;
    return { ok: false, level: "short", text: `Too short: ${missing} more character${missing === 1 ? "" : "s"} needed.` };
  }
  const kinds = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{L}\p{N}]/u].filter((re) => re.test(value)).length;
  if (kinds < 2 || new Set(chars).size < 5) {
    return { ok: false, level: "weak", text: "Too easy to guess: mix letters with digits or symbols." };
  }
  if (chars.length >= 14 && kinds >= 3) return { ok: true, level: "strong", text: "Strong password." };
  return { ok: true, level: "fair", text: "Good enough; longer is stronger." };
}

/** The live strength line under a new-password field (class `strength-<level>`). */
export function strengthMeter(input, hintEl) {
  const update = () => {
    const { level, text } = passwordStrength(input.value);
    hintEl.textContent = text;
    hintEl.className = `hint strength strength-${level}`;
  };
  input.addEventListener("input", update);
  update();
  return update;
}

/**
 * A new password ("<testid>-new", named `name`, with the strength line) and its repeat ("<testid>-repeat").
 * check() marks a too short password and a repeat that differs (`mismatch`); the API still decides.
 */
export function newPasswordFields({ name, testid, repeatLabel, mismatch }) {
  const password = field({
    label: "New password",
    control: h("input", { type: "password", name, autocomplete: "new-password", required: true }),
    hint: " ",
    testid: `${testid}-new`,
  });
  const repeat = field({
    label: repeatLabel,
    control: h("input", { type: "password", name: "repeat", autocomplete: "new-password", required: true }),
    testid: `${testid}-repeat`,
  });
  strengthMeter(password.control, password.hint);
  return {
    password,
    repeat,
    check() {
      const value = password.control.value;
      const strength = passwordStrength(value);
      password.setError(strength.level === "empty" || strength.level === "short" ? strength.text : "");
      repeat.setError(value && repeat.control.value !== value ? mismatch : "");
    },
  };
}

const MAX_RANGE_DAYS = 366; // SPEC §11: date ranges are at most 366 days

/** What is wrong with a date range, as a person would say it, or null (the API checks the same). */
export function rangeProblem(from, to) {
  if (!isIsoDate(from)) return { field: "from", text: "Pick the first day, like 2026-11-01." };
  if (!isIsoDate(to)) return { field: "to", text: "Pick the last day, like 2026-11-30." };
  if (from > to) return { field: "to", text: "The last day must not be before the first day." };
  if (daysBetween(from, to) + 1 > MAX_RANGE_DAYS) return { field: "to", text: `Choose at most ${MAX_RANGE_DAYS} days.` };
  return null;
}

/**
 * dateRangeForm({prefix, from, to, label}) -> {form, show, read()}
 * A From/To filter form with a Show button (test ids `<prefix>-from`, `-to`, `-show`, `-form`). `read()`
 * clears the fields' errors and returns {from, to}, or shows what is wrong on the field and returns null.
 */
export function dateRangeForm({ prefix, from, to, label }) {
  const fromField = field({
    label: "From",
    control: h("input", { type: "date", name: "from", value: from, required: true }),
    testid: `${prefix}-from`,
  });
  const toField = field({
    label: "To",
    control: h("input", { type: "date", name: "to", value: to, required: true }),
    testid: `${prefix}-to`,
  });
  const show = h("button", { type: "submit", class: "btn", "data-testid": `${prefix}-show` }, "Show");
  const form = h(
    "form",
    { class: "filters", "aria-label": label, "data-testid": `${prefix}-form`, novalidate: true },
    fromField.element,
    toField.element,
    h("div", { class: "field field-button" }, show),
  );
  function read() {
    const range = { from: fromField.control.value, to: toField.control.value };
    fromField.setError("");
    toField.setError("");
    const problem = rangeProblem(range.from, range.to);
    if (!problem) return range;
    const target = problem.field === "from" ? fromField : toField;
    target.setError(problem.text);
    target.control.focus();
    return null;
  }
  return { form, show, read, value: () => ({ from: fromField.control.value, to: toField.control.value }) };
}
