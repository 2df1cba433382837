import { useEffect, useState } from "react";

/** Hash routes (`#/appointments`): the portal shares its origin with the API locally. */
export function useRoute(): string {
  const [route, setRoute] = useState(() => currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function currentRoute(): string {
  const h = window.location.hash.replace(/^#/, "");
  return h.startsWith("/") ? h.split("?")[0] : "/";
}

export function navigate(path: string) {
  if (window.location.hash !== `#${path}`) window.location.hash = path;
}

/** Matches `/patients/:id` style patterns; returns the params or null. */
export function match(pattern: string, route: string): Record<string, string> | null {
  const p = pattern.split("/");
  const r = route.split("/");
  if (p.length !== r.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) out[p[i].slice(1)] = decodeURIComponent(r[i]);
    else if (p[i] !== r[i]) return null;
  }
  return out;
}

// Where to go after signing in: a link opened while signed out (an offer e-mail's `#/waitlist`)
// or the page a session expired on. Kept in memory only, like the tokens.
let returnTo: string | null = null;

/** Remembers `route` (with the query of the address bar, when it is still that route) to
 *  return to after signing in. */
export function rememberReturn(route: string) {
  const h = window.location.hash.replace(/^#/, "");
  returnTo = route === "/" ? null : h.split("?")[0] === route ? h : route;
}

/** The remembered route, once; null when there is none. */
export function takeReturn(): string | null {
  const r = returnTo;
  returnTo = null;
  return r;
}
