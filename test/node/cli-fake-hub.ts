import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DirectiveEvent, DirectiveView, NodeCredentials, NodeView, type FanOutAggregate } from "../../protocol/api.ts";

/** One request the fake hub received. */
export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export type Route = (req: Recorded, res: ServerResponse) => void | Promise<void>;

export interface FakeHub {
  url: string;
  requests: Recorded[];
  /** Resolves with the first request (already received or still to come) whose `METHOD /path` is `key`. */
  waitFor(key: string, timeoutMs?: number): Promise<Recorded>;
  close(): Promise<void>;
}

/**
 * A hub stand-in on 127.0.0.1 for CLI tests: routes are keyed by `METHOD /path`, everything is recorded, and an
 * unknown route answers the hub's 404 ApiError.
 */
export async function startFakeHub(routes: Record<string, Route>): Promise<FakeHub> {
  const requests: Recorded[] = [];
  const waiters: { key: string; resolve: (r: Recorded) => void }[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url!, "http://127.0.0.1");
    const recorded: Recorded = { method: req.method!, path: url.pathname, query: url.searchParams, headers: req.headers, body: text ? JSON.parse(text) : undefined };
    requests.push(recorded);
    const key = `${recorded.method} ${recorded.path}`;
    for (const waiter of waiters.filter((w) => w.key === key)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(recorded);
    }
    const route = routes[key];
    if (route) await route(recorded, res);
    else sendJson(res, 404, { error: { code: "not_found", message: `no route ${key}` } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitFor(key, timeoutMs = 5_000) {
      const seen = requests.find((r) => `${r.method} ${r.path}` === key);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${key} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ key, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export function apiError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/** Opens an event stream; each `send` writes one validated event, `raw` writes bytes as they are. */
export function openEvents(res: ServerResponse, headers: Record<string, string> = {}) {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers });
  res.write(": stream open\n\n");
  return {
    send: (event: DirectiveEvent) => res.write(`data: ${JSON.stringify(DirectiveEvent.parse(event))}\n\n`),
    raw: (text: string) => res.write(text),
    end: () => res.end(),
  };
}

const NOW = Date.now();

export function nodeView(overrides: Partial<NodeView> = {}): NodeView {
  return NodeView.parse({
    id: "build-01",
    name: "build-01",
    group: "ci",
    tier: "sudo",
    runningTier: "sudo",
    status: "connected",
    createdAt: NOW - 86_400_000,
    connectedAt: NOW - 60_000,
    disconnectedAt: null,
    lastHeartbeatAt: NOW - 3_000,
    deregisteredAt: null,
    metrics: {
      cpuPercent: 12.5,
      memoryMb: 2048,
      memoryTotalMb: 8192,
      diskFreeMb: 51_200,
      diskTotalMb: 102_400,
      activeDirectives: 1,
      uptimeSeconds: 7200,
      loadAverage: [0.5, 0.25, 0.1],
      cpuCount: 4,
    },
    version: "0.1.0",
    os: "linux 6.1",
    sandboxRoot: null,
    hostname: "build-01.lan",
    arch: "x64",
    capabilities: ["bash", "read"],
    lastError: null,
    tokenPrefix: "cxn_build-01_a1b2c3…",
    ...overrides,
  });
}

export function credentials(overrides: Partial<NodeCredentials> = {}): NodeCredentials {
  const token = `cxn_build-01_${"ab".repeat(32)}`;
  const endpoint = "ws://127.0.0.1:8787/api/sites/default/connect";
  return NodeCredentials.parse({
    id: "build-01",
    name: "build-01",
    tier: "sudo",
    group: "ci",
    token,
    endpoint,
    installCommand: "curl -fsSL http://127.0.0.1:8787/install.sh | sudo sh -s -- --endpoint http://127.0.0.1:8787/api/sites/default --tier sudo",
    connectCommand: `cortex node connect --endpoint ${endpoint} --tier sudo --token-file build-01.token`,
    ...overrides,
  });
}

export function directiveView(overrides: Partial<DirectiveView> = {}): DirectiveView {
  return DirectiveView.parse({
    id: "d-00000000-0000-0000-0000-000000000001",
    fanoutId: null,
    nodeId: "build-01",
    action: "bash",
    params: { command: "echo hi" },
    status: "done",
    requestedBy: "api-key:ci",
    createdAt: NOW - 5_000,
    sentAt: NOW - 4_900,
    startedAt: NOW - 4_800,
    endedAt: NOW - 3_800,
    timeoutMs: 130_000,
    exitCode: 0,
    outputBytes: 3,
    output: "hi\n",
    outputWithheld: false,
    lateResult: null,
    truncated: false,
    error: null,
    errorCode: null,
    data: null,
    ...overrides,
  });
}

export function aggregate(overrides: Partial<FanOutAggregate> = {}): FanOutAggregate {
  return { fanoutId: "f-1", total: 0, succeeded: 0, failed: 0, offline: 0, refused: 0, cancelled: 0, timedOut: 0, lost: 0, skippedOffline: 0, ...overrides };
}
