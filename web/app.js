// Entry point: decides, for every location, between sign-in and the signed-in layout, loads the user
// from GET /api/auth/me, and renders the page the site map (nav.js) names for the path, if the user's
// roles allow it.
//
// Page contract (web/pages/*.js):
//   export const title = "Accounts";              document title, "Accounts · aTES"
//   export function render(main, ctx) { ... }     may be async; fill `main`
// ctx = { user, entry, params, query, signal, navigate, reload, refreshUser }
//   signal      aborted when the user leaves the page: pass it to api calls, ignore results after it
//   navigate    (path, {replace}) in-app navigation
//   reload()    render the same location again (a "Try again" button)
//   refreshUser({signal}) GET /api/auth/me again, update header and navigation, resolve to the user

import { api, describeError, onAccountDenied, onUnauthorized } from "./api.js";
import { activeEntry, ENTRIES, hasAnyRole, navFor, PUBLIC_ENTRIES } from "./nav.js";
import * as signin from "./pages/signin.js";
import { createRouter, matchRoute, safeLocalPath } from "./router.js";
import * as session from "./session.js";
import { labelTablesIn } from "./table-cards.js";
import { append, clear, forbiddenNotice, h, loading, notice, renderLoadError, roleBadges } from "./ui.js";

const APP_NAME = "aTES";
const root = document.getElementById("app");

let layout = null; // {main, nav, userBox} while the signed-in layout is on screen
let controller = null; // aborts the previous page's requests when the location changes
let renderSeq = 0;
let pendingNotice = null; // shown once on the next sign-in page (signed out, session ended)
let expiryTimer = null;

const router = createRouter((location, { cause }) => {
  render(location, cause).catch((error) => {
    console.error(error);
    const message = describeError(error);
    clear(root).append(
      h(
        "main",
        { id: "main", class: "center-page" },
        notice({ title: "Something went wrong", message, testid: "fatal", alert: true }),
      ),
    );
  });
});

function setTitle(text) {
  document.title = text ? `${text} · ${APP_NAME}` : APP_NAME;
}

function endSession(message) {
  session.clear();
  pendingNotice = message;
  layout = null;
  controller?.abort();
  window.clearTimeout(expiryTimer);
}

onUnauthorized(() => {
  endSession("Your session has ended. Please sign in again.");
  router.navigate(router.location().href, { replace: true });
});

onAccountDenied(() => {
  // The token is still valid, but the account may no longer sign in (dismissed or deactivated).
  endSession("Your account can no longer sign in. Ask an admin if this is unexpected.");
  router.navigate(router.location().href, { replace: true });
});

function scheduleExpiry() {
  window.clearTimeout(expiryTimer);
  const ms = session.msUntilExpiry();
  if (!ms) return;
  expiryTimer = window.setTimeout(() => {
    if (session.msUntilExpiry() > 0) return scheduleExpiry();
    endSession("Your session expired. Please sign in again.");
    router.navigate(router.location().href, { replace: true });
  }, Math.min(ms, 2 ** 31 - 1));
}

async function refreshUser({ signal } = {}) {
  const me = await api.get("/auth/me", { signal });
  session.setUser(me);
  if (layout) updateLayout(me, router.location().path);
  return me;
}

// ---- signed out -------------------------------------------------------------------------------

function showSignIn(location) {
  layout = null;
  const here = location.href;
  let next = safeLocalPath(location.query.get("next"));
  const email = location.query.get("email");
  if (location.path !== "/") {
    // Any protected URL opened without a session: sign in at "/" and come back here afterwards.
    next = here;
    window.history.replaceState(null, "", `/?next=${encodeURIComponent(here)}`);
  }
  const main = h("main", { id: "main", class: "center-page", "data-testid": "signin-page" });
  clear(root).append(main);
  setTitle(signin.title);
  const message = pendingNotice;
  pendingNotice = null;
  signin.render(main, {
    notice: message,
    email,
    onSignedIn: () => router.navigate(next && next !== "/" ? next : "/", { replace: true }),
  });
}

// ---- public pages (no session needed: the invitation link) -----------------------------------

function showPublic({ entry, params }, location, signal) {
  layout = null;
  const main = h("main", { id: "main", class: "center-page", "data-testid": `${entry.id}-page` });
  clear(root).append(main);
  setTitle(entry.page.title);
  const ctx = {
    params,
    query: location.query,
    signal,
    navigate: (to, options) => router.navigate(to, options),
    // Leave this tab's session (if any) quietly, e.g. before signing in as the account just set up.
    signOut: () => {
      if (session.isSignedIn()) endSession(null);
    },
  };
  Promise.resolve(entry.page.render(main, ctx)).catch((error) => {
    if (signal.aborted) return;
    clear(main).append(
      notice({ title: "Something went wrong", message: describeError(error), testid: "fatal", alert: true }),
    );
  });
}

// ---- signed in --------------------------------------------------------------------------------

function buildLayout() {
  const userBox = h("div", { class: "user", "data-testid": "user-info" });
  const nav = h("nav", { id: "site-nav", class: "sidenav", "aria-label": "Main", "data-testid": "nav" });
  const main = h("main", { id: "main", class: "content", tabindex: "-1", "data-testid": "main" });
  const signOut = h(
    "button",
    { type: "button", class: "btn btn-secondary btn-small", "data-testid": "sign-out" },
    "Sign out",
  );
  signOut.addEventListener("click", () => {
    endSession("You have signed out.");
    router.navigate("/");
  });
  // On a phone the navigation is a menu behind this button (styles.css hides the button on wider screens,
  // where the navigation is always shown as the sidebar): the same sections, one tap away.
  const menuButton = h(
    "button",
    {
      type: "button",
      class: "btn btn-secondary btn-small menu-button",
      "aria-expanded": "false",
      "aria-controls": "site-nav",
      "data-testid": "menu-button",
    },
    h("span", { class: "menu-icon", "aria-hidden": "true" }),
    "Menu",
  );
  menuButton.addEventListener("click", () => setMenuOpen(menuButton.getAttribute("aria-expanded") !== "true"));
  clear(root).append(
    h("a", { class: "skip-link", href: "#main" }, "Skip to main content"),
    h(
      "header",
      { class: "topbar", "data-testid": "app-header" },
      h(
        "a",
        { class: "brand", href: "/", "data-testid": "brand" },
        h("img", { src: "/favicon.svg", alt: "", width: "28", height: "28" }),
        h("span", { class: "brand-name" }, APP_NAME),
      ),
      h("div", { class: "topbar-end" }, userBox, signOut),
      // Last in the header, so that Tab goes from the button straight into the menu it opens.
      menuButton,
    ),
    h("div", { class: "shell", "data-testid": "layout" }, nav, main),
  );
  return { main, nav, userBox, menuButton };
}

// Open or close the phone's navigation menu (no effect on wider screens, where it is always shown).
function setMenuOpen(open) {
  if (!layout) return;
  layout.menuButton.setAttribute("aria-expanded", String(open));
  layout.nav.classList.toggle("is-open", open);
}

// Escape closes the open menu from wherever the focus is, and gives the focus back to its button.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || layout?.menuButton.getAttribute("aria-expanded") !== "true") return;
  setMenuOpen(false);
  layout.menuButton.focus();
});

function updateLayout(user, path) {
  clear(layout.userBox).append(
    h(
      "span",
      { class: "user-id" },
      h("span", { class: "user-name", "data-testid": "user-name" }, user.name || user.email || "Signed in"),
      h("span", { class: "user-email", "data-testid": "user-email" }, user.email ?? ""),
    ),
    h("span", { class: "user-roles", "data-testid": "user-roles" }, roleBadges(user.roles)),
  );
  const active = activeEntry(path);
  const nav = layout.nav;
  append(
    clear(nav),
    navFor(user.roles).map((group, index) => {
      const headingId = `nav-section-${index}`;
      return h(
        "div",
        { class: "nav-group" },
        group.section ? h("h2", { class: "nav-section", id: headingId }, group.section) : null,
        h(
          "ul",
          { "aria-labelledby": group.section ? headingId : null },
          group.entries.map((entry) =>
            h(
              "li",
              {},
              h(
                "a",
                {
                  href: entry.path,
                  "data-testid": `nav-${entry.id}`,
                  "aria-current": entry === active ? "page" : null,
                },
                entry.label,
              ),
            ),
          ),
        ),
      );
    }),
  );
}

async function loadUser(seq, signal) {
  clear(root).append(h("main", { id: "main", class: "center-page" }, loading("Loading aTES…")));
  setTitle("");
  try {
    const me = await api.get("/auth/me", { signal });
    session.setUser(me);
    return me;
  } catch (error) {
    // 401 and a refused account (403 on /auth/me) were handled by api.js: back to sign-in.
    if (seq !== renderSeq || signal.aborted || error?.handled) return null;
    const retry = h("button", { type: "button", class: "btn" }, "Try again");
    retry.addEventListener("click", () => router.navigate(router.location().href, { replace: true }));
    const out = h("button", { type: "button", class: "btn btn-secondary" }, "Sign out");
    out.addEventListener("click", () => {
      endSession("You have signed out.");
      router.navigate("/");
    });
    clear(root).append(
      h(
        "main",
        { id: "main", class: "center-page" },
        notice({
          title: "Could not load your account",
          message: describeError(error),
          testid: "user-error",
          alert: true,
          action: h("div", { class: "actions" }, retry, out),
        }),
      ),
    );
    return null;
  }
}

async function render(location, cause) {
  const seq = ++renderSeq;
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;

  const open = matchRoute(PUBLIC_ENTRIES, location.path);
  if (open) {
    showPublic(open, location, signal);
    return;
  }

  if (!session.isSignedIn()) {
    showSignIn(location);
    return;
  }
  scheduleExpiry();

  let user = session.getUser();
  if (!user) {
    user = await loadUser(seq, signal);
    if (!user || seq !== renderSeq) return;
  }

  if (!layout) layout = buildLayout();
  updateLayout(user, location.path);
  setMenuOpen(false); // a link followed from the phone's menu closes it
  const main = clear(layout.main);
  const matched = matchRoute(ENTRIES, location.path);

  if (!matched) {
    setTitle("Page not found");
    main.append(
      notice({
        title: "Page not found",
        message: `There is no page at ${location.path}.`,
        testid: "not-found",
        action: h("a", { href: "/", class: "btn btn-secondary" }, "Back to my profile"),
      }),
    );
  } else if (!hasAnyRole(user.roles, matched.entry.roles)) {
    setTitle("Not allowed");
    main.append(forbiddenNotice(matched.entry.roles));
  } else {
    const { entry, params } = matched;
    setTitle(entry.page.title ?? entry.label);
    const ctx = {
      user,
      entry,
      params,
      query: location.query,
      signal,
      navigate: (to, options) => router.navigate(to, options),
      reload: () => router.navigate(router.location().href, { replace: true }),
      refreshUser,
    };
    let pending;
    try {
      pending = entry.page.render(main, ctx);
    } catch (error) {
      renderLoadError(main, error, { signal, roles: entry.roles, retry: ctx.reload });
    }
    Promise.resolve(pending).catch((error) =>
      renderLoadError(main, error, { signal, roles: entry.roles, retry: ctx.reload }),
    );
  }

  // After in-app navigation, move focus to the new page's heading so screen readers announce it.
  if (cause !== "start") (main.querySelector("h1") ?? main).focus({ preventScroll: false });
}

labelTablesIn(root); // every table reads as cards on a phone (table-cards.js)
router.start();
