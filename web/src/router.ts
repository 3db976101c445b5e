import { signal } from "@preact/signals";

/** Client-side routing: the Worker serves index.html for every page path, and this picks the page. */
export const location = signal({ path: window.location.pathname, search: window.location.search });

window.addEventListener("popstate", () => {
  if (window.location.pathname !== location.value.path) headingWanted = true;
  location.value = { path: window.location.pathname, search: window.location.search };
});

/**
 * Whether the new page's heading should take the focus once it is drawn: after a navigation to another page (not a
 * filter change on the same page, which keeps the focus in the filter), so a screen reader starts at the new page.
 */
let headingWanted = false;

/**
 * Goes to `to`. `keepFocus` is for a page that puts the focus somewhere itself (a new chat's message box): its heading
 * must not take it back a few frames later, once it is drawn.
 */
export function navigate(to: string, opts: { replace?: boolean; keepFocus?: boolean } = {}): void {
  const url = new URL(to, window.location.origin);
  if (url.pathname === window.location.pathname && url.search === window.location.search) return;
  if (url.pathname !== window.location.pathname) headingWanted = !opts.keepFocus;
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

/**
 * Moves the focus to the page's heading if a navigation asked for it, once the heading is drawn (a page that waits
 * for data draws it a little later, so it is looked for again on the next frames for about two seconds).
 */
export function focusHeading(framesLeft = 120): void {
  if (!headingWanted) return;
  const heading = document.querySelector<HTMLElement>("main h1");
  if (!heading) {
    if (framesLeft > 0) requestAnimationFrame(() => focusHeading(framesLeft - 1));
    return;
  }
  headingWanted = false;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
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

/**
 * Changes query parameters of the page on screen (an empty value removes one), replacing the history entry: filters,
 * sort orders and ranges live in the address, so a view can be bookmarked, without piling up Back steps.
 */
export function updateQuery(changes: Record<string, string>): void {
  const params = new URLSearchParams(location.value.search);
  for (const [name, value] of Object.entries(changes)) {
    if (value) params.set(name, value);
    else params.delete(name);
  }
  const q = params.toString();
  navigate(`${location.value.path}${q ? `?${q}` : ""}`, { replace: true });
}

export function queryParam(name: string): string | null {
  return new URLSearchParams(location.value.search).get(name);
}
