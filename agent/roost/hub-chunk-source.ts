import { setTimeout as wait } from "node:timers/promises";
import { MAX_MANIFEST_BYTES, ROOST_CHUNK_BYTES } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import type { ChunkSource } from "./chunk-supply.ts";

/** How the agent reaches its site over HTTP: the site's base URL and the node token of the moment (it may be rotated). */
export interface HubAccess {
  /** `http(s)://hub/api/sites/<site>`, derived from the agent's connect URL. */
  siteUrl: string;
  token(): string;
}

const ATTEMPTS = 4;
const RETRY_BASE_MS = 500;
/** One request may take this long before it is given up and tried again: a stalled connection must not hang a deployment. */
const REQUEST_TIMEOUT_MS = 120_000;

/** The site's HTTP base for an agent's WebSocket connect URL (`.../api/sites/<site>/connect`). */
export function siteUrlOf(connectUrl: string): string {
  const url = new URL(connectUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = url.pathname.replace(/\/connect$/, "");
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

/** Reads a body up to `limit` bytes; a longer one is refused while it arrives, not after. */
async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (declared > limit) throw new ActionError("too_large", `${what} is ${declared} bytes, over ${limit}`);
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += part.byteLength;
    if (size > limit) throw new ActionError("too_large", `${what} is over ${limit} bytes`);
    parts.push(part);
  }
  return Buffer.concat(parts, size);
}

/**
 * Manifests and chunks from the hub's node routes, authenticated with the node's token. The hub answers 403 for
 * anything not part of a deployment to this node. Network failures and 5xx are retried a few times; refusals are not.
 */
export class HubChunkSource implements ChunkSource {
  constructor(private readonly hub: HubAccess) {}

  manifest(roost: string, version: number, signal: AbortSignal): Promise<Uint8Array> {
    return this.get(`/roost/node/manifests/${roost}/${version}`, MAX_MANIFEST_BYTES, `the manifest of ${roost}@${version}`, signal);
  }

  chunk(hash: string, signal: AbortSignal): Promise<Uint8Array> {
    return this.get(`/roost/node/chunks/${hash}`, ROOST_CHUNK_BYTES, `chunk ${hash.slice(0, 12)}…`, signal);
  }

  private async get(path: string, limit: number, what: string, signal: AbortSignal): Promise<Uint8Array> {
    let lastProblem = "";
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await wait(RETRY_BASE_MS * 2 ** (attempt - 1), undefined, { signal });
      let res: Response;
      const limited = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
      try {
        res = await fetch(this.hub.siteUrl + path, { headers: { Authorization: `Bearer ${this.hub.token()}` }, signal: limited });
      } catch (err) {
        signal.throwIfAborted();
        lastProblem = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        continue;
      }
      if (res.ok) {
        try {
          return await readLimited(res, limit, what);
        } catch (err) {
          if (err instanceof ActionError) throw err;
          signal.throwIfAborted();
          lastProblem = `the download broke off: ${(err as Error).message}`;
          continue;
        }
      }
      const text = await res.text().catch(() => "");
      const message = messageOf(text) ?? `${res.status} ${res.statusText}`;
      if (res.status < 500) throw new ActionError(res.status === 404 ? "not_found" : "exec_failed", `the hub refused ${what}: ${message} (${res.status})`);
      lastProblem = `${message} (${res.status})`;
    }
    throw new ActionError("exec_failed", `cannot fetch ${what} from the hub: ${lastProblem}`);
  }
}

function messageOf(text: string): string | null {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    return typeof body.error?.message === "string" ? body.error.message : null;
  } catch {
    return null;
  }
}
