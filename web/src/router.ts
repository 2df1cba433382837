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
