// The one way the front talks to the API.
//
// Every route lives under /api on the same origin as the web (SPEC §11). Errors come back as
// {"error": {"code", "message"}} with a meaningful status; this module turns every failure (that shape,
// a gateway error, a dead network, a non-JSON body) into an ApiError whose `message` can be shown to a
// person as is. A 401 on a request that carried a token means the session is over: the session is
// cleared and the app is told, so it can return to sign-in.

import * as session from "./session.js";

export const BASE = "/api";

const FALLBACK_MESSAGES = {
  400: "The request was not understood.",
  401: "Please sign in.",
  403: "You do not have the role needed for this.",
  404: "Not found.",
  409: "This conflicts with the current state; reload and try again.",
  410: "This link has expired or was already used.",
  413: "The request is too large.",
  422: "Some fields are not valid.",
  429: "Too many attempts. Please wait and try again.",
  500: "The server had a problem. Please try again.",
  502: "The server is not reachable right now. Please try again.",
  503: "The service is temporarily unavailable. Please try again.",
  504: "The server took too long to answer. Please try again.",
};

const FALLBACK_CODES = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  410: "gone",
  422: "validation_error",
  429: "too_many_requests",
};

export class ApiError extends Error {
  constructor({ status, code, message, retryAfter = null, details = null }) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After, when the server sent one
    this.details = details; // the body's whole `error` object (fields beyond code and message), or null
    this.handled = false; // true once the app has reacted (e.g. returned to sign-in on 401)
  }
}

let unauthorizedHandler = null;
let deniedHandler = null;

/** Register what happens when a signed-in request gets 401 (the app returns to sign-in). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/**
 * Register what happens when the account behind the session can no longer be used (dismissed,
 * deactivated: the authorizer answers 403 to everything, R-AUTH-4). The app ends the session.
 */
export function onAccountDenied(handler) {
  deniedHandler = handler;
}

export function isAbort(error) {
  return error?.name === "AbortError";
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value === "") return null;
  const trimmed = String(value).trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const when = Date.parse(trimmed);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - now) / 1000));
}

/** "30 seconds", "about 15 minutes", "about 2 hours". */
export function formatWait(seconds) {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `about ${minutes} minute${minutes === 1 ? "" : "s"}`;
  return `about ${Math.round(minutes / 60)} hours`;
}

/** One sentence for a person, from any error a page may catch. */
export function describeError(error) {
  if (error instanceof ApiError) {
    let text = sentence(error.message);
    if (error.status === 429 && error.retryAfter != null && !/try again/i.test(text)) {
      text += ` You can try again in ${formatWait(error.retryAfter)}.`;
    }
    return text;
  }
  console.error(error);
  return "Something went wrong in this page. Please reload and try again.";
}

/**
 * API messages are terse lower-case phrases ("wrong email or password"): show them as sentences. Only a
 * plain first word is capitalised: "kesha@example.com already belongs…" keeps its address as it is.
 */
export function sentence(text) {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return "";
  const plainWord = /^\p{Ll}+(?=[\s,:;]|$)/u.test(trimmed);
  const capital = plainWord ? trimmed[0].toUpperCase() + trimmed.slice(1) : trimmed;
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

async function readBody(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { _text: text };
  }
}

function toApiError(response, body) {
  const status = response.status;
  const shaped = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : null;
  // API Gateway's own default shape is {"message": "..."}; accept it too, in case a response slips through.
  const gatewayMessage = body && typeof body.message === "string" ? body.message : null;
  const code = (shaped && shaped.code) || FALLBACK_CODES[status] || (status >= 500 ? "server_error" : "error");
  const message =
    (shaped && typeof shaped.message === "string" && shaped.message) ||
    gatewayMessage ||
    FALLBACK_MESSAGES[status] ||
    `The request failed (HTTP ${status}).`;
  return new ApiError({
    status,
    code,
    message,
    retryAfter: parseRetryAfter(response.headers.get("Retry-After")),
    details: shaped,
  });
}

function buildUrl(path, query) {
  const url = new URL(BASE + path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    url.searchParams.set(name, String(value));
  }
  return url;
}

/**
 * Call the API. `path` is relative to /api ("/auth/me"). Resolves to the parsed JSON body (null when
 * empty); rejects with an ApiError (or the fetch AbortError when `signal` aborted it).
 */
export async function request(method, path, { body, query, signal, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const bearer = auth ? session.token() : null;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;

  let response;
  try {
    response = await fetch(buildUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError({
      status: 0,
      code: "network",
      message: "Cannot reach aTES. Check your connection and try again.",
    });
  }

  const data = await readBody(response);
  if (response.ok) {
    // A list answered as CSV has its next page's cursor in a header, not in the body.
    if (data && typeof data._text === "string") data._nextCursor = response.headers.get("X-Next-Cursor") || null;
    return data;
  }

  const error = toApiError(response, data);
  if (response.status === 401 && bearer) {
    session.clear();
    if (unauthorizedHandler) {
      error.handled = true;
      unauthorizedHandler(error);
    }
  } else if (response.status === 403 && bearer && deniedHandler && (await accountDenied(path))) {
    error.handled = true;
    // Several requests may find out at once: only the first ends the session.
    if (session.token() === bearer) {
      session.clear();
      deniedHandler(error);
    }
  }
  throw error;
}

let probe = null;

/**
 * A 403 means a missing role (the usual case) or an account the authorizer now refuses outright. GET
 * /auth/me needs no role, so it tells them apart: 403 there too means the account itself is refused.
 */
async function accountDenied(path) {
  if (path === "/auth/me") return true;
  probe ??= meStatus().finally(() => {
    probe = null;
  });
  return (await probe) === 403;
}

async function meStatus() {
  const bearer = session.token();
  if (!bearer) return 0;
  try {
    const response = await fetch(buildUrl("/auth/me"), {
      headers: { Accept: "application/json", Authorization: `Bearer ${bearer}` },
      credentials: "same-origin",
      cache: "no-store",
    });
    return response.status;
  } catch {
    return 0;
  }
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, body, options) => request("POST", path, { ...options, body }),
  put: (path, body, options) => request("PUT", path, { ...options, body }),
  patch: (path, body, options) => request("PATCH", path, { ...options, body }),
  delete: (path, options) => request("DELETE", path, options),
  /** The same request answered as CSV (`?format=csv`, R-AN-6): resolves to the text. */
  csv: async (method, path, body, options = {}) => {
    const answer = await request(method, path, { ...options, body, query: { ...options.query, format: "csv" } });
    return answer?._text ?? "";
  },
  /** One page of a list as CSV: resolves to {text, nextCursor} (the cursor from `X-Next-Cursor`). */
  csvPage: async (path, options = {}) => {
    const answer = await request("GET", path, { ...options, query: { ...options.query, format: "csv" } });
    return { text: answer?._text ?? "", nextCursor: answer?._nextCursor ?? null };
  },
};
