/**
 * `next` as a path of this dashboard, or null when it leads anywhere else. Judged by the URL parser, as the browser
 * will read it: `/\evil.example` and `/%2F…` tricks that pass a look at the first characters parse to another origin.
 */
export function localPath(next: string | null, origin: string): string | null {
  if (!next?.startsWith("/")) return null;
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return null;
  }
  return url.origin === origin ? `${url.pathname}${url.search}${url.hash}` : null;
}
