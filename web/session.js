// The signed-in session of this browser tab.
//
// The access token lives in sessionStorage: it survives a reload but not closing the tab, and it is
// never shared with other tabs. The JWT payload is decoded here ONLY to know when the token expires
// and for display; it is never trusted for decisions. Who the user is (name, roles, active) comes from
// GET /api/auth/me, held in memory by `setUser`, because roles can change while a token is still valid
// and the API always answers with the CURRENT roles (R-AUTH-3).

const KEY = "ates.session";
// Treat a token as expired a little early, so a request never leaves with a token that dies in flight.
const SKEW_MS = 10_000;

let user = null;
const listeners = new Set();

/** The JSON payload of a JWT, or null when it is not a readable JWT. No signature check (display only). */
export function decodeJwtPayload(token) {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === "object" ? payload : null;
  } catch {
    return null;
  }
}

function read() {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const stored = JSON.parse(raw);
    if (!stored || typeof stored.token !== "string" || typeof stored.expiresAt !== "number") return null;
    return stored;
  } catch {
    return null;
  }
}

/** Keep a fresh access token from POST /api/auth/login. */
export function saveToken(accessToken, expiresInSeconds) {
  const now = Date.now();
  const claims = decodeJwtPayload(accessToken) ?? {};
  const candidates = [];
  if (Number.isFinite(expiresInSeconds) && expiresInSeconds > 0) candidates.push(now + expiresInSeconds * 1000);
  if (Number.isFinite(claims.exp)) candidates.push(claims.exp * 1000);
  // Without any expiry hint, assume the shortest lifetime the spec allows (15 minutes).
  const expiresAt = candidates.length ? Math.min(...candidates) : now + 15 * 60 * 1000;
  sessionStorage.setItem(KEY, JSON.stringify({ token: accessToken, expiresAt }));
  user = null;
  notify();
}

/** The live session {token, expiresAt, claims}, or null (an expired one is cleared on the way). */
export function current() {
  const stored = read();
  if (!stored) return null;
  if (Date.now() >= stored.expiresAt - SKEW_MS) {
    clear();
    return null;
  }
  return { ...stored, claims: decodeJwtPayload(stored.token) ?? {} };
}

export function token() {
  return current()?.token ?? null;
}

export function isSignedIn() {
  return current() !== null;
}

/** Milliseconds until the session must be considered over (0 when there is none). */
export function msUntilExpiry() {
  const live = current();
  return live ? Math.max(0, live.expiresAt - SKEW_MS - Date.now()) : 0;
}

export function clear() {
  const had = read() !== null || user !== null;
  sessionStorage.removeItem(KEY);
  user = null;
  if (had) notify();
}

/** The account as GET /api/auth/me last described it (null until fetched). */
export function getUser() {
  return user;
}

export function setUser(me) {
  user = me;
  notify();
}

/** Call `listener()` whenever the session or the user changes; returns an unsubscribe function. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify() {
  for (const listener of listeners) {
    try {
      listener();
    } catch (error) {
      console.error(error);
    }
  }
}
