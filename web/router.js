// A tiny history-based router: clean URLs (/accounts, /tasks/123) because the server answers every
// unknown non-file path with index.html (devstack locally, CloudFront's error mapping in AWS).
//
// Paths are patterns with named segments ("/tasks/:id"). The router knows nothing about pages or
// roles: it matches a location against entries that have a `path`, and tells the app when the
// location changes (link click, back/forward, navigate()).

const cache = new Map();

/** A RegExp and the parameter names for a pattern like "/staff/employees/:id". */
export function compilePath(pattern) {
  if (cache.has(pattern)) return cache.get(pattern);
  const keys = [];
  const source = pattern
    .split("/")
    .map((segment) => {
      if (segment.startsWith(":")) {
        keys.push(segment.slice(1));
        return "([^/]+)";
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  const compiled = { regex: new RegExp(`^${source}$`), keys };
  cache.set(pattern, compiled);
  return compiled;
}

/** "/accounts/" and "/accounts" are the same page; "/" stays "/". */
export function normalizePath(path) {
  if (!path) return "/";
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  return trimmed || "/";
}

/** The first entry whose path matches, with its decoded params, or null. */
export function matchRoute(entries, pathname) {
  const path = normalizePath(pathname);
  for (const entry of entries) {
    const { regex, keys } = compilePath(entry.path);
    const found = regex.exec(path);
    if (!found) continue;
    const params = {};
    keys.forEach((key, index) => {
      try {
        params[key] = decodeURIComponent(found[index + 1]);
      } catch {
        params[key] = found[index + 1];
      }
    });
    return { entry, params };
  }
  return null;
}

/** Only same-origin, absolute, single-slash paths may be used as a return target after sign-in. */
export function safeLocalPath(value) {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) {
    return null;
  }
  return value;
}

export function currentLocation() {
  const { pathname, search, hash } = window.location;
  return { path: normalizePath(pathname), query: new URLSearchParams(search), hash, href: pathname + search + hash };
}

/**
 * createRouter((location, {cause}) => ...) -> {start, navigate, location}
 * `cause` is "start", "navigate" or "popstate" (the app moves focus only after in-app navigation).
 */
export function createRouter(onChange) {
  function emit(cause) {
    onChange(currentLocation(), { cause });
  }

  function navigate(to, { replace = false } = {}) {
    if (replace) window.history.replaceState(null, "", to);
    else if (to !== currentLocation().href) window.history.pushState(null, "", to);
    emit("navigate");
  }

  function onClick(event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
    if (!link || link.hasAttribute("download") || link.dataset.router === "off") return;
    if (link.target && link.target !== "_self") return;
    if (link.origin !== window.location.origin) return;
    if (link.pathname === "/api" || link.pathname.startsWith("/api/")) return;
    // In-page anchors (the skip link) keep their native behaviour.
    if (link.hash && link.pathname === window.location.pathname && link.search === window.location.search) return;
    event.preventDefault();
    navigate(link.pathname + link.search + link.hash);
  }

  function start() {
    window.addEventListener("popstate", () => emit("popstate"));
    document.addEventListener("click", onClick);
    emit("start");
  }

  return { start, navigate, location: currentLocation };
}
