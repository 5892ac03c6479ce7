// A tiny history router: paths are pages, the query string holds each page's state.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set();

function current() {
  return { path: window.location.pathname, params: new URLSearchParams(window.location.search) };
}

/** Go to `href` (path + query) without reloading; `replace` keeps the history entry. */
export function navigate(href, { replace = false } = {}) {
  if (href === window.location.pathname + window.location.search) return;
  window.history[replace ? "replaceState" : "pushState"](null, "", href);
  listeners.forEach((listener) => listener(current()));
  if (!replace) window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => listeners.forEach((listener) => listener(current())));

/** The current location; re-renders on navigation. */
export function useRoute() {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    listeners.add(setRoute);
    return () => listeners.delete(setRoute);
  }, []);
  return route;
}

/** Intercept clicks on same-origin links so pages change without a reload. */
export function onLinkClick(event) {
  const link = event.target.closest?.("a[href]");
  if (!link || link.target || link.origin !== window.location.origin || event.defaultPrevented
      || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.pathname + link.search);
}
