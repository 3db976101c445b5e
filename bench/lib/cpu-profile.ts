import WebSocket from "ws";

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * A V8 CPU profile of the hub's isolate through wrangler's DevTools inspector (Chrome DevTools protocol `Profiler`),
 * to find what the hub spends its time on while a bench runs.
 */
export class HubProfiler {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id === undefined) return;
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.error) waiter?.reject(new Error(`inspector: ${message.error.message}`));
      else waiter?.resolve(message.result);
    });
  }

  /**
   * Connects to the hub's worker (with its Durable Objects) among the inspector's targets, not wrangler's proxy;
   * samples every `intervalUs` microseconds.
   */
  static async connect(inspectorPort: number, intervalUs = 200): Promise<HubProfiler> {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl: string; title?: string }[];
    const target = targets.find((t) => !t.title?.includes("proxy")) ?? targets[0];
    if (!target) throw new Error("the inspector lists no target");
    const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1024 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
    const profiler = new HubProfiler(ws);
    await profiler.call("Profiler.enable");
    await profiler.call("Profiler.setSamplingInterval", { interval: intervalUs });
    return profiler;
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  async start(): Promise<void> {
    await this.call("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    return ((await this.call("Profiler.stop")) as { profile: CpuProfile }).profile;
  }

  close(): void {
    this.ws.close();
  }
}

/** Milliseconds of self time per function (name, file, line), most first; `(idle)` and `(program)` included. */
export function selfTimes(profile: CpuProfile, top = 30): { ms: number; where: string }[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byNode.get(id)!.callFrame;
    const where = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
    totals.set(where, (totals.get(where) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals.entries()].map(([where, ms]) => ({ ms, where })).sort((a, b) => b.ms - a.ms).slice(0, top);
}
