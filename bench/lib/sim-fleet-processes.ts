import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { SimCredentials } from "./sim-fleet.ts";

export type FleetRequest =
  | { type: "connect"; id: number; url: string; creds: SimCredentials[]; heartbeatMs: number; concurrency: number }
  | { type: "record"; id: number; on: boolean }
  | { type: "status"; id: number }
  | { type: "close"; id: number };

export type FleetReply =
  | { type: "connected"; id: number; opened: string[]; failed: number; firstError: string | null; ms: number }
  | { type: "trips"; id: number; heartbeats: number[]; pings: number[] }
  | { type: "status"; id: number; open: number; answered: number; closed: Record<string, number> }
  | { type: "closed"; id: number }
  | { type: "failed"; id: number; message: string };

type Body<T extends FleetRequest["type"]> = Omit<Extract<FleetRequest, { type: T }>, "id" | "type">;

/** One child process of the fleet and its requests in flight. */
class FleetChild {
  private nextId = 0;
  private readonly waiting = new Map<number, (reply: FleetReply) => void>();
  private readonly exited: Promise<void>;

  constructor(readonly process: ChildProcess) {
    process.on("message", (reply: FleetReply) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
    this.exited = new Promise((resolve) => process.once("exit", () => resolve()));
    this.exited.then(() => {
      for (const [id, resolve] of this.waiting) resolve({ type: "failed", id, message: `fleet process ${process.pid} exited` });
      this.waiting.clear();
    });
  }

  ask<T extends FleetRequest["type"]>(type: T, body: Body<T>): Promise<FleetReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (reply) => (reply.type === "failed" ? reject(new Error(reply.message)) : resolve(reply)));
      this.process.send({ ...body, type, id });
    });
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.disconnect();
    const timer = setTimeout(() => this.process.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface FleetConnect {
  /** The ids of the nodes that registered. */
  opened: string[];
  failed: number;
  firstError: string | null;
}

/**
 * A simulated fleet spread over several client processes, because a process may hold at most 20,000 descriptors
 * on this machine (and `ulimit -Hn` cannot be raised): 10,000 nodes in one process would be half of that, with the
 * hub's own connections on top. Each process runs SimNodes exactly as the in-process benches do.
 */
export class FleetProcesses {
  private constructor(private readonly children: FleetChild[]) {}

  static start(count: number): FleetProcesses {
    const entry = join(import.meta.dirname, "sim-fleet-child.ts");
    return new FleetProcesses(Array.from({ length: count }, () => new FleetChild(fork(entry, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] }))));
  }

  get pids(): number[] {
    return this.children.map((c) => c.process.pid!);
  }

  /** Deals the credentials out round-robin and connects them, `concurrency` handshakes in flight per process. */
  async connect(url: string, creds: readonly SimCredentials[], heartbeatMs: number, concurrency: number): Promise<FleetConnect> {
    const shares = this.children.map((_, i) => creds.filter((_, j) => j % this.children.length === i));
    const replies = await Promise.all(this.children.map((child, i) => child.ask("connect", { url, creds: shares[i]!, heartbeatMs, concurrency })));
    const done = replies.filter((r): r is Extract<FleetReply, { type: "connected" }> => r.type === "connected");
    return { opened: done.flatMap((r) => r.opened), failed: done.reduce((s, r) => s + r.failed, 0), firstError: done.find((r) => r.firstError)?.firstError ?? null };
  }

  /** Starts recording liveness round trips, or stops and returns what every process recorded. */
  async record(on: boolean): Promise<{ heartbeats: number[]; pings: number[] }> {
    const replies = await Promise.all(this.children.map((child) => child.ask("record", { on })));
    const trips = replies.filter((r): r is Extract<FleetReply, { type: "trips" }> => r.type === "trips");
    return { heartbeats: trips.flatMap((t) => t.heartbeats), pings: trips.flatMap((t) => t.pings) };
  }

  /** Sockets still open, directives answered, and how many sockets ended with each close code. */
  async status(): Promise<{ open: number; answered: number; closed: Record<string, number> }> {
    const replies = await Promise.all(this.children.map((child) => child.ask("status", {})));
    const status = replies.filter((r): r is Extract<FleetReply, { type: "status" }> => r.type === "status");
    const closed: Record<string, number> = {};
    for (const r of status) for (const [code, n] of Object.entries(r.closed)) closed[code] = (closed[code] ?? 0) + n;
    return { open: status.reduce((s, r) => s + r.open, 0), answered: status.reduce((s, r) => s + r.answered, 0), closed };
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => child.ask("close", {}).catch(() => undefined)));
    await Promise.all(this.children.map((child) => child.stop()));
  }
}
