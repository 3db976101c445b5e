import { SELF } from "cloudflare:test";
import type { ActivityEntry } from "../../protocol/api.ts";
import { LiveMessage, type LiveBeat, type LiveNode } from "../../protocol/live-messages.ts";
import { ADMIN_KEY, BASE, ensureSite } from "./support.ts";

/** The dashboard's side of the live socket: collects parsed messages and waits for the ones a test expects. */
export class Viewer {
  readonly messages: LiveMessage[] = [];
  readonly texts: string[] = [];
  closed: { code: number } | null = null;

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      const data = e.data as string;
      if (data.startsWith("{")) this.messages.push(LiveMessage.parse(JSON.parse(data)));
      else this.texts.push(data);
    });
    ws.addEventListener("close", (e) => (this.closed = { code: e.code }));
  }

  async snapshot(): Promise<LiveNode[]> {
    const first = await this.until(() => this.messages[0]);
    if (first.type !== "snapshot") throw new Error(`first message was ${first.type}`);
    return first.nodes;
  }

  /** Waits for a node delta matching `pred`, returning it. */
  async delta(pred: (n: LiveNode) => boolean): Promise<LiveNode> {
    return this.until(() => this.messages.flatMap((m) => (m.type === "node" && pred(m.node) ? [m.node] : []))[0]);
  }

  deltas(id: string): LiveNode[] {
    return this.messages.flatMap((m) => (m.type === "node" && m.node.id === id ? [m.node] : []));
  }

  /** The heartbeats pushed so far, each message's beats as one array, in the order they came. */
  beatMessages(): LiveBeat[][] {
    return this.messages.flatMap((m) => (m.type === "beats" ? [m.beats] : []));
  }

  /** Waits for a pushed heartbeat matching `pred`, returning it. */
  async beat(pred: (b: LiveBeat) => boolean): Promise<LiveBeat> {
    return this.until(() => this.beatMessages().flat().find(pred));
  }

  /** Every activity entry pushed so far, in the order they came. */
  activity(): ActivityEntry[] {
    return this.messages.flatMap((m) => (m.type === "activity" ? [m.entry] : []));
  }

  /** Waits for an activity entry matching `pred`, returning it. */
  async entry(pred: (e: ActivityEntry) => boolean): Promise<ActivityEntry> {
    return this.until(() => this.activity().find(pred));
  }

  async text(expected: string): Promise<void> {
    await this.until(() => (this.texts.includes(expected) ? true : undefined));
  }

  async waitClose(): Promise<{ code: number }> {
    return this.until(() => this.closed ?? undefined);
  }

  private async until<T>(check: () => T | undefined, timeoutMs = 3_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.messages).slice(0, 400)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Opens the site's live socket, by default with the admin key; `headers` may carry a session cookie instead. */
export async function watch(site: string, headers: Record<string, string> = {}, key: string | null = ADMIN_KEY): Promise<Viewer> {
  await ensureSite(site);
  const res = await SELF.fetch(`${BASE}/api/sites/${site}/live`, {
    headers: { Upgrade: "websocket", ...(key ? { Authorization: `Bearer ${key}` } : {}), ...headers },
  });
  if (!res.webSocket) throw new Error(`live upgrade refused: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new Viewer(res.webSocket);
}
