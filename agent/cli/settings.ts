import { DEFAULT_SITE, SiteId } from "../../protocol/identifiers.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import { loadConfigFile } from "./config-file.ts";
import { devAdminKey } from "./dev-vars.ts";
import type { CliIo } from "./io.ts";

export const DEFAULT_HUB = "http://127.0.0.1:8787";

/** The options every command accepts, declared once on the root program. */
export interface GlobalOptions {
  hub?: string;
  site?: string;
  apiKey?: string;
  config?: string;
}

export interface HubSettings {
  hub: string;
  site: string;
  apiKey: string;
}

/** Flag, then environment, then config file, then default; an empty environment variable counts as unset. */
export function resolveHubSettings(options: GlobalOptions, io: CliIo): HubSettings {
  const config = loadConfigFile(io, options.config);
  const hubUrl = parseHubUrl(options.hub ?? (io.env.CORTEX_HUB || undefined) ?? config.hub ?? DEFAULT_HUB);
  const site = options.site ?? (io.env.CORTEX_SITE || undefined) ?? config.site ?? DEFAULT_SITE;
  const apiKey =
    options.apiKey ?? (io.env.CORTEX_API_KEY || undefined) ?? config.apiKey ?? (isLoopback(hubUrl) ? devAdminKey(io.cwd) : undefined);

  const siteCheck = SiteId.safeParse(site);
  if (!siteCheck.success) throw new CliError(`invalid site ${JSON.stringify(site)}: ${issuesLine(siteCheck.error)}`);
  if (!apiKey) {
    throw new CliError("no API key: pass --api-key, set CORTEX_API_KEY or put apiKey in the config file");
  }
  return { hub: hubUrl.toString().replace(/\/+$/, ""), site, apiKey };
}

function parseHubUrl(hub: string): URL {
  let url: URL;
  try {
    url = new URL(hub);
  } catch {
    throw new CliError(`invalid hub URL ${JSON.stringify(hub)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`invalid hub URL ${JSON.stringify(hub)}: scheme must be http or https`);
  }
  return url;
}

function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
