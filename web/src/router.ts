import { signal } from "@preact/signals";

/** Client-side routing: the Worker serves index.html for every page path, and this picks the page. */
export const location = signal({ path: window.location.pathname, search: window.location.search });

window.addEventListener("popstate", () => {
  location.value = { path: window.location.pathname, search: window.location.search };
});

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = new URL(to, window.location.origin);
  if (url.pathname === window.location.pathname && url.search === window.location.search) return;
  if (opts.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  location.value = { path: url.pathname, search: url.search };
  if (url.hash) reveal(decodeURIComponent(url.hash.slice(1)));
  else window.scrollTo(0, 0);
}

/** Scrolls to the element a link's #fragment names once the new page has drawn it (pages load their parts later). */
function reveal(id: string, framesLeft = 120): void {
  const target = document.getElementById(id);
  if (target) target.scrollIntoView({ block: "start" });
  else if (framesLeft > 0) requestAnimationFrame(() => reveal(id, framesLeft - 1));
}

/** Lets an anchor navigate inside the app unless the user asked for a new tab or window. */
export function followLink(e: MouseEvent): void {
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  if (a.origin !== window.location.origin) return;
  e.preventDefault();
  navigate(a.pathname + a.search + a.hash);
}

/** Matches "/machines/:id" against a path; returns the decoded params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(":")) {
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) return null;
  }
  return params;
}

export function queryParam(name: string): string | null {
  return new URLSearchParams(location.value.search).get(name);
}
