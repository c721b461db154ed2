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
 * `codes` maps error codes to a field name (email_taken -> "email"). An error with `fields` (every 422 and some
 * 409s: [{field, in, problem, message}], R-UI-7) puts each message beside its field. Whatever belongs to no field goes to `region` (the form's alert). Returns the first field
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
  } else if (error instanceof ApiError && Array.isArray(error.details?.fields) && error.details.fields.length) {
    // R-UI-7: each problem is a sentence about one field (`error.fields`): beside its field, else above the form.
    const said = new Map(); // field -> its sentences (a title can break two rules at once)
    for (const problem of error.details.fields) {
      const text = sentence(String(problem?.message ?? ""));
      if (!text) continue;
      if (fields[problem?.field]) said.set(problem.field, [...(said.get(problem.field) ?? []), text]);
      else if (!rest.includes(text)) rest.push(text);
    }
    for (const [name, texts] of said) mark(name, texts.join(" "));
  } else {
    rest.push(describeError(error));
  }
  showMessage(region, rest.length ? rest.join(" ") : first ? "Please correct the marked fields." : "");
  return first;
}

// ---- passwords (the API's rule, R-SEC-2 / weak_password) -----------------------------------------

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;
const MIN_SCORE = 3; // zxcvbn: at least 10^8 guesses, as functions/auth/passwords.py decides
const SITE_WORDS = ["ates", "uberpopug", "popug", "popugs", "parrot"];
const ESTIMATOR_URL = "/vendor/zxcvbn/zxcvbn.js";

export const PASSWORD_RULE =
  `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters, any you like, spaces too; no capitals, digits or ` +
  "symbols needed. Common and easily guessed passwords are refused: a few unrelated words make a good one.";

let estimator = null;
let loading = null;

/**
 * The strength estimator (vendor/zxcvbn, the same lists and scoring the API uses), loaded once, on the pages
 * that need it: 800 KB nobody else should pay for. Resolves to the zxcvbn function, or null if it failed
 * (the meter then judges length only; the API still decides).
 */
export function loadEstimator() {
  if (estimator) return Promise.resolve(estimator);
  loading ??= new Promise((resolve) => {
    const script = h("script", { src: ESTIMATOR_URL, async: true });
    script.addEventListener("load", () => {
      estimator = typeof window.zxcvbn === "function" ? window.zxcvbn : null;
      resolve(estimator);
    });
    script.addEventListener("error", () => {
      loading = null; // try again on the next page
      resolve(null);
    });
    document.head.append(script);
  });
  return loading;
}

/** `Kesha Popugaeva` -> the whole, run together, and each part (as the API splits names and emails). */
function wordsOf(value) {
  const text = String(value ?? "").trim().toLowerCase();
  const parts = text.split(/[\s@._+-]+/).filter(Boolean);
  return [...new Set([text, parts.join(""), ...parts])].filter(Boolean);
}

/** What makes a password guessable, from the longest guessable piece zxcvbn found (the API says the same). */
function reasonOf(sequence) {
  const pieces = (sequence ?? []).filter((m) => m.pattern !== "bruteforce");
  if (!pieces.length) return "it is too short for how random it is";
  const match = pieces.reduce((a, b) => (String(b.token).length > String(a.token).length ? b : a));
  if (match.pattern === "dictionary") {
    if (match.dictionary_name === "passwords") {
      return "it is, or is close to, one of the most common passwords, the first ones an attacker tries";
    }
    if (match.dictionary_name === "user_inputs") return "it is built on your name, your email or the company's name";
    return "it is built on a common word or name";
  }
  return (
    {
      spatial: "it follows keys that sit next to each other on the keyboard",
      repeat: "it repeats the same characters or words",
      sequence: "it is a sequence like abc or 6543",
      regex: "it relies on a recent year",
      date: "it relies on a date",
    }[match.pattern] ?? "it follows a pattern that is quick to guess"
  );
}

/**
 * The API's password rule, to guide the user as they type (the API still decides): 12 to 128 characters
 * and, once the estimator is loaded, a zxcvbn score of at least 3 with `userInputs` (name, email) counted
 * as guessable. -> {ok, level: "empty"|"short"|"long"|"checking"|"weak"|"fair"|"strong", score, text}
 */
export function passwordStrength(password, userInputs = []) {
  const value = String(password ?? "");
  if (!value) return { ok: false, level: "empty", score: 0, text: PASSWORD_RULE };
  const length = [...value].length; // characters, as the API counts them (not UTF-16 units)
  if (length < PASSWORD_MIN_LENGTH) {
    const missing = PASSWORD_MIN_LENGTH - length;
    return {
      ok: false,
      level: "short",
      score: 0,
      text: `Too short: ${missing} more character${missing === 1 ? "" : "s"} needed (at least ${PASSWORD_MIN_LENGTH}).`,
    };
  }
  if (length > PASSWORD_MAX_LENGTH) {
    const extra = length - PASSWORD_MAX_LENGTH;
    return {
      ok: false,
      level: "long",
      score: 0,
      text: `Too long: at most ${PASSWORD_MAX_LENGTH} characters (${extra} too many).`,
    };
  }
  if (!estimator) return { ok: true, level: "checking", score: 0, text: "Long enough; checking how easy it is to guess…" };
  const inputs = [...SITE_WORDS, ...userInputs.flatMap(wordsOf)];
  const estimate = estimator(value, inputs);
  if (estimate.score < MIN_SCORE) {
    return {
      ok: false,
      level: "weak",
      score: estimate.score,
      text: `Too easy to guess: ${reasonOf(estimate.sequence)}. Add a few unrelated words.`,
    };
  }
  if (estimate.score === MIN_SCORE) {
    return { ok: true, level: "fair", score: estimate.score, text: "Good: hard to guess. Longer is stronger still." };
  }
  return { ok: true, level: "strong", score: estimate.score, text: "Strong password." };
}

/**
 * The live strength under a new-password field: a <meter> (0-4, zxcvbn's score) and the line saying why
 * (class `strength-<level>`), updated as the user types and once the estimator has loaded.
 */
export function strengthMeter(input, hintEl, meterEl, userInputs = () => []) {
  const update = () => {
    const { level, score, text } = passwordStrength(input.value, userInputs());
    hintEl.textContent = text;
    hintEl.className = `hint strength strength-${level}`;
    if (meterEl) {
      meterEl.value = level === "empty" || level === "checking" ? 0 : score + 1;
      meterEl.dataset.level = level;
    }
  };
  input.addEventListener("input", update);
  update();
  loadEstimator().then(update);
  return update;
}

/**
 * A new password ("<testid>-new", named `name`, with the rule, the strength meter and line) and its repeat
 * ("<testid>-repeat"). `userInputs()` names what an attacker knows of the popug (name, email).
 * check() marks a password of the wrong length and a repeat that differs (`mismatch`); the API decides the rest.
 */
export function newPasswordFields({ name, testid, repeatLabel, mismatch, userInputs = () => [] }) {
  const password = field({
    label: "New password",
    control: h("input", { type: "password", name, autocomplete: "new-password", required: true }),
    hint: " ",
    testid: `${testid}-new`,
  });
  const meter = h("meter", {
    class: "strength-meter",
    min: "0",
    max: "5",
    low: "3",
    high: "4",
    optimum: "5",
    value: "0",
    "aria-label": "Password strength",
    "data-testid": `${testid}-strength`,
  });
  password.hint.before(meter);
  const repeat = field({
    label: repeatLabel,
    control: h("input", { type: "password", name: "repeat", autocomplete: "new-password", required: true }),
    testid: `${testid}-repeat`,
  });
  strengthMeter(password.control, password.hint, meter, userInputs);
  return {
    password,
    repeat,
    check() {
      const value = password.control.value;
      const strength = passwordStrength(value, userInputs());
      const missing = `Enter a password of ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`;
      password.setError(strength.level === "empty" ? missing : ["short", "long"].includes(strength.level) ? strength.text : "");
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
