import { DEFAULT_SITE, SiteId } from "../../protocol/identifiers.ts";

export class InvalidEndpointError extends Error {
  constructor(endpoint: string, problem: string) {
    super(`invalid --endpoint ${JSON.stringify(endpoint)}: ${problem}`);
    this.name = "InvalidEndpointError";
  }
}

const SCHEMES: Record<string, string> = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" };
const SITE_PATH = /^\/(?:api\/)?sites\/([^/]+)$/;

/**
 * The agent's WebSocket URL for what the user typed as --endpoint: the hub's base URL, a site's URL, or the full
 * connect URL. A path already ending in /connect is kept as given so a hub behind a path-prefixing proxy works.
 */
export function connectUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidEndpointError(endpoint, "not a URL");
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) throw new InvalidEndpointError(endpoint, `scheme must be http, https, ws or wss, not ${url.protocol}`);
  url.protocol = scheme;
  url.hash = "";
  url.pathname = connectPath(endpoint, url.pathname.replace(/\/+$/, ""));
  return url.toString();
}

function connectPath(endpoint: string, path: string): string {
  if (path.endsWith("/connect")) return path;
  if (path === "") return sitePath(DEFAULT_SITE);
  const site = SITE_PATH.exec(path)?.[1];
  if (site === undefined) {
    throw new InvalidEndpointError(endpoint, "path must be empty, /api/sites/<site> or end in /connect");
  }
  const parsed = SiteId.safeParse(site);
  if (!parsed.success) throw new InvalidEndpointError(endpoint, parsed.error.issues[0]!.message);
  return sitePath(parsed.data);
}

function sitePath(site: string): string {
  return `/api/sites/${site}/connect`;
}
