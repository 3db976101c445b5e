import { createServer, type IncomingMessage, type Server } from "node:http";
import { HOOK_CONTROL, type ReceivedHook } from "./webhook-receiver-control.ts";

/**
 * A local webhook receiver on 127.0.0.1 standing in for Slack or an incident tool: it records every POST by path and
 * answers 200, or the status named by a `/status-<code>/` path segment (to test failures and redirects), or nothing
 * at all under `/hang/` (a receiver that takes the request and never answers).
 */
export class WebhookReceiver {
  private readonly hooks: ReceivedHook[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = createServer((req, res) => {
      void receiver!.handle(req).then(({ status, body, headers }) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    receiver = new WebhookReceiver(server, typeof address === "object" && address ? address.port : 0);
    return receiver;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  received(path: string): ReceivedHook[] {
    return this.hooks.filter((h) => h.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const url = new URL(req.url ?? "/", "http://receiver");
    if (req.method === "GET" && url.pathname === HOOK_CONTROL.received) return { status: 200, body: { hooks: this.received(url.searchParams.get("path") ?? "") } };
    if (req.method !== "POST") return { status: 404, body: { error: "not found" } };
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Recorded as text: the test sees exactly what arrived.
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    this.hooks.push({ path: url.pathname, at: Date.now(), headers, body });
    if (url.pathname.includes("/hang/")) await new Promise<void>((resolve) => req.socket.once("close", () => resolve()));
    const status = Number(/\/status-(\d{3})\//.exec(url.pathname)?.[1] ?? 200);
    return { status, body: { ok: status < 300 }, ...(status >= 300 && status < 400 ? { headers: { location: "http://10.0.0.1/elsewhere" } } : {}) };
  }
}
