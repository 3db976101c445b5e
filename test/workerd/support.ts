import { SELF } from "cloudflare:test";
import { HubToNodeMessage, type HubToNodeMessage as HubMsg } from "../../protocol/node-messages.ts";
import type { NodeCredentials } from "../../protocol/api.ts";
import { ActionName } from "../../protocol/directives.ts";
import type { ProcessStatus } from "../../protocol/processes.ts";

export const ADMIN_KEY = "test-admin-key-0123456789abcdef0123456789abcdef";
export const BASE = "http://hub.test";

let siteCounter = 0;
/** Sites handed out by `freshSite` and not created on the hub yet. */
const uncreatedSites = new Set<string>();

/**
 * A fresh site per test keeps tests independent without resetting storage. The hub answers 404 for sites it does
 * not know, so the site is created (with the admin key) just before the first `api` call that names it.
 */
export function freshSite(): string {
  siteCounter += 1;
  const site = `t${siteCounter}-${crypto.randomUUID().slice(0, 8)}`;
  uncreatedSites.add(site);
  return site;
}

/** Creates a site from `freshSite` on the hub now; for tests that reach the hub without `api`. */
export async function ensureSite(site: string): Promise<void> {
  if (!uncreatedSites.delete(site)) return;
  const res = await SELF.fetch(`${BASE}/api/sites`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ id: site, name: `Test site ${site}` }),
  });
  if (res.status !== 201) throw new Error(`creating site ${site} failed: ${res.status} ${await res.text()}`);
}

export async function api(path: string, init: RequestInit = {}, key = ADMIN_KEY): Promise<Response> {
  const site = /^\/api\/sites\/([^/?]+)/.exec(path)?.[1];
  if (site) await ensureSite(site);
  const headers = new Headers(init.headers);
  if (key) headers.set("Authorization", `Bearer ${key}`);
  if (init.body && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  return SELF.fetch(`${BASE}${path}`, { ...init, headers });
}

export async function registerNode(
  site: string,
  body: { name: string; id?: string; group?: string; tier?: "root" | "sudo" | "unprivileged" },
): Promise<NodeCredentials> {
  const res = await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as NodeCredentials;
}

/** The test side of an agent socket: sends frames and waits for typed messages or the close. */
export class FakeAgent {
  readonly received: (HubMsg | string)[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      const data = typeof e.data === "string" ? e.data : "";
      const parsed = data.startsWith("{") ? HubToNodeMessage.safeParse(JSON.parse(data)) : null;
      this.received.push(parsed?.success ? parsed.data : data);
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  register(agentId: string, extra: Record<string, unknown> = {}): void {
    this.send({ type: "register", agentId, name: agentId, capabilities: [...ActionName.options], version: "test-1", ...extra });
  }

  /** Waits for the first received message matching `pred` (already received ones count). */
  async next<T extends HubMsg["type"]>(type: T, timeoutMs = 3_000): Promise<Extract<HubMsg, { type: T }>> {
    return (await this.until(
      () => this.received.find((m): m is Extract<HubMsg, { type: T }> => typeof m !== "string" && m.type === type),
      timeoutMs,
      `message ${type}`,
    ))!;
  }

  /** Removes and returns every received message of a type. */
  take<T extends HubMsg["type"]>(type: T): Extract<HubMsg, { type: T }>[] {
    const out = this.received.filter((m): m is Extract<HubMsg, { type: T }> => typeof m !== "string" && m.type === type);
    for (const m of out) this.received.splice(this.received.indexOf(m), 1);
    return out;
  }

  async waitText(text: string, timeoutMs = 3_000): Promise<void> {
    await this.until(() => (this.received.includes(text) ? true : undefined), timeoutMs, `text ${text}`);
  }

  async waitClose(timeoutMs = 3_000): Promise<{ code: number; reason: string }> {
    return (await this.until(() => this.closed ?? undefined, timeoutMs, "close"))!;
  }

  private async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.received).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Opens an agent socket; returns the HTTP response when the upgrade is refused. */
export async function dial(site: string, token: string | null): Promise<FakeAgent | Response> {
  const headers: Record<string, string> = { Upgrade: "websocket" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await SELF.fetch(`${BASE}/api/sites/${site}/connect`, { headers });
  if (!res.webSocket) return res;
  res.webSocket.accept();
  return new FakeAgent(res.webSocket);
}

export async function connectNode(site: string, creds: NodeCredentials, extra: Record<string, unknown> = {}): Promise<FakeAgent> {
  const agent = await dial(site, creds.token);
  if (!(agent instanceof FakeAgent)) throw new Error(`upgrade refused: ${agent.status}`);
  agent.register(creds.id, extra);
  await agent.next("registered");
  return agent;
}

/** A supervised process's status as an agent reports it once the process runs. */
export function runningProcess(name: string, pid: number, restarts: number): ProcessStatus {
  return { name, state: "running", pid, startedAt: Date.now(), restarts, lastExit: null, cpuPercent: null, memoryBytes: null, held: null, nextStartAt: null, reason: null };
}
