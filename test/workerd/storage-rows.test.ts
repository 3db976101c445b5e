import { env, runInDurableObject } from "cloudflare:test";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DirectiveView } from "../../protocol/api.ts";
import { MAX_CHUNK_BYTES, MAX_FRAME_BYTES } from "../../protocol/limits.ts";
import { METRICS_BUCKET_MS } from "../../protocol/metrics-history.ts";
import { MINUTE_SLOTS, MetricsHistoryStore, sampleBucket } from "../../durable-objects/site-hub/metrics-history.ts";
import type { BatchedMessage, DirectiveMessage } from "../../protocol/node-messages.ts";
import { api, connectNode, type FakeAgent, freshSite, registerNode } from "./support.ts";

/**
 * Rows the site object writes (what Cloudflare bills as "rows written") per heartbeat, per directive and per
 * streamed MiB, counted from every SQL cursor's own `rowsWritten`. The counts are printed for docs/benchmarks.md;
 * the ceilings are today's figures, so a change that writes more fails here instead of on the bill.
 */

const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
let original: SqlStorage["exec"] | null = null;

/** Every `sql.exec` of every object in this isolate, recorded; the prototype is the one place all stores share. */
async function meterSql(site: string): Promise<void> {
  await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) => {
    const proto = Object.getPrototypeOf(state.storage.sql) as SqlStorage;
    if (original) return;
    const exec = proto.exec;
    original = exec;
    proto.exec = function (this: SqlStorage, query: string, ...bindings: unknown[]) {
      const cursor = exec.call(this, query, ...bindings);
      cursors.push(cursor);
      return cursor;
    } as SqlStorage["exec"];
  });
}

async function rowsWrittenBy(site: string, work: () => Promise<void>): Promise<number> {
  await meterSql(site);
  const from = cursors.length;
  await work();
  // Let the object finish what the last message started before counting.
  await api(`/api/sites/${site}/nodes`);
  return cursors.slice(from).reduce((sum, c) => sum + c.rowsWritten, 0);
}

const METRICS = { cpuPercent: 12, memoryMb: 900, memoryTotalMb: 4096, diskFreeMb: 9000, diskTotalMb: 20000, activeDirectives: 0, uptimeSeconds: 100 };

const FRAME_GAP_MS = 5;

/**
 * Sends frames a few ms apart. Frames sent back to back from the test's side can reach the object out of order here
 * (seen: 18.0 to 19.6 rows per directive on a loaded machine), which a real socket never does; spaced, they arrive
 * as an agent's would.
 */
async function sendSpaced(agent: FakeAgent, frames: unknown[]): Promise<void> {
  for (const frame of frames) {
    agent.send(frame);
    await new Promise((r) => setTimeout(r, FRAME_GAP_MS));
  }
}

/** An older agent: every message in a frame of its own. */
function answer(agent: FakeAgent, d: DirectiveMessage, chunks: string[]): Promise<void> {
  return sendSpaced(agent, [
    { type: "directive_ack", directiveId: d.id },
    ...chunks.map((chunk, seq) => ({ type: "stream_chunk", directiveId: d.id, seq, chunk, stream: "stdout" })),
    { type: "result", directiveId: d.id, success: true, output: "", durationMs: 5, exitCode: 0, chunks: chunks.length },
  ]);
}

/**
 * Today's agent: a quick directive's ack, output and result in one `batch` frame; a long output in frames as full as
 * the frame limit allows (15 of the largest chunks), the result with the last of them.
 */
function answerInBatches(agent: FakeAgent, d: DirectiveMessage, chunks: string[]): Promise<void> {
  const messages: BatchedMessage[] = [
    { type: "directive_ack", directiveId: d.id },
    ...chunks.map((chunk, seq): BatchedMessage => ({ type: "stream_chunk", directiveId: d.id, seq, chunk, stream: "stdout" })),
    { type: "result", directiveId: d.id, success: true, output: chunks.length === 1 ? chunks[0]! : "", durationMs: 5, exitCode: 0, chunks: chunks.length },
  ];
  const perFrame = Math.floor(MAX_FRAME_BYTES / (MAX_CHUNK_BYTES + 256));
  const frames = [];
  for (let i = 0; i < messages.length; i += perFrame) frames.push({ type: "batch", messages: messages.slice(i, i + perFrame) });
  return sendSpaced(agent, frames);
}

async function runOnce(site: string, agent: FakeAgent, chunks: string[], reply = answer): Promise<DirectiveView> {
  const pending = api(`/api/sites/${site}/nodes/n1/directives`, { method: "POST", body: JSON.stringify({ action: "bash", params: { command: "true" } }) });
  const d = await agent.next("directive");
  agent.take("directive");
  await reply(agent, d, chunks);
  return DirectiveView.parse(await (await pending).json());
}

describe("rows written", () => {
  let site = "";
  let agent: FakeAgent;

  beforeAll(async () => {
    site = freshSite();
    agent = await connectNode(site, await registerNode(site, { name: "n1", tier: "root" }), { heartbeatMs: 60_000 });
  });

  afterAll(async () => {
    await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) => {
      if (original) (Object.getPrototypeOf(state.storage.sql) as SqlStorage).exec = original;
      original = null;
    });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it("per minute of heartbeats with metrics, not per heartbeat", async () => {
    // The clock is the test's, so the minutes turn exactly where it says: the site's default heartbeat sends metrics
    // every 10 s; here 12 of them a minute (every 5 s), the most an agent at the default interval sends.
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = (Math.floor(Date.now() / METRICS_BUCKET_MS) + 1) * METRICS_BUCKET_MS;
    vi.setSystemTime(t0 + 500);
    const node = await connectNode(site, await registerNode(site, { name: "beats", tier: "unprivileged" }), { heartbeatMs: 60_000 });
    const beat = async (at: number) => {
      vi.setSystemTime(at);
      node.send({ type: "heartbeat", agentId: "beats", metrics: METRICS });
      await node.next("heartbeat_ack");
      node.take("heartbeat_ack");
    };
    const minutes = 3;
    const perMinute: number[] = [];
    for (let m = 0; m < minutes; m++) {
      perMinute.push(
        await rowsWrittenBy(site, async () => {
          for (let i = 0; i < 12; i++) await beat(t0 + m * METRICS_BUCKET_MS + 1_000 + i * 5_000);
        }),
      );
    }
    const total = perMinute.reduce((a, b) => a + b, 0);
    console.log(`storage: ${(total / minutes).toFixed(2)} rows written per node per minute of heartbeats (${(total / (12 * minutes)).toFixed(3)} per heartbeat): ${perMinute.join(", ")}`);
    // The first minute writes nothing: the register wrote the row in it. Each later one writes the node's row once
    // and the minute before into its history slot once (no index, no retention delete).
    expect(perMinute[0]).toBe(0);
    for (const rows of perMinute.slice(1)) expect(rows).toBe(2);
    node.ws.close(1000);
  });

  it("per minute of history once the rings are full, quarter-hour folds included", async () => {
    const start = Date.UTC(2026, 2, 1);
    const fill = MINUTE_SLOTS * METRICS_BUCKET_MS;
    const store = (from: number, to: number) =>
      runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) => {
        const history = new MetricsHistoryStore(state.storage.sql);
        for (let at = from; at < to; at += METRICS_BUCKET_MS) history.add("ring", sampleBucket(METRICS, at), at);
      });
    await store(start, start + fill);
    const minutes = 24 * 60;
    const rows = await rowsWrittenBy(site, () => store(start + fill, start + fill + minutes * METRICS_BUCKET_MS));
    console.log(`storage: ${(rows / minutes).toFixed(3)} rows written per node per minute of history in the steady state (a day of minutes over full rings)`);
    // One slot overwritten per minute, and one quarter hour folded per 15 minutes.
    expect(rows).toBe(minutes + minutes / 15);
  });

  it("per directive with a one-line output", async () => {
    const n = 10;
    const rows = await rowsWrittenBy(site, async () => {
      for (let i = 0; i < n; i++) expect((await runOnce(site, agent, ["ok\n"])).status).toBe("done");
    });
    console.log(`storage: ${(rows / n).toFixed(2)} rows written per directive (ack, one chunk, result in frames of their own)`);
    expect(rows / n).toBeLessThanOrEqual(18);
  });

  it("per directive with a one-line output, answered in one batch frame", async () => {
    const n = 10;
    const rows = await rowsWrittenBy(site, async () => {
      for (let i = 0; i < n; i++) expect(await runOnce(site, agent, ["ok\n"], answerInBatches)).toMatchObject({ status: "done", output: "ok\n" });
    });
    console.log(`storage: ${(rows / n).toFixed(2)} rows written per directive (ack, one chunk, result in one batch frame)`);
    expect(rows / n).toBeLessThanOrEqual(14);
  });

  const piece = "x".repeat(MAX_CHUNK_BYTES - 1) + "\n";
  const chunks = Array.from({ length: (4 * 2 ** 20) / MAX_CHUNK_BYTES }, () => piece);

  it("per streamed MiB in the agent's largest chunks", async () => {
    const rows = await rowsWrittenBy(site, async () => {
      const view = await runOnce(site, agent, chunks);
      expect(view.outputBytes).toBe(4 * 2 ** 20);
    });
    console.log(`storage: ${(rows / 4).toFixed(2)} rows written per streamed MiB (${MAX_CHUNK_BYTES / 1024} KiB chunks, a frame each)`);
    expect(rows / 4).toBeLessThanOrEqual(25);
  });

  it("per streamed MiB in the agent's largest chunks, in full batch frames", async () => {
    const rows = await rowsWrittenBy(site, async () => {
      const view = await runOnce(site, agent, chunks, answerInBatches);
      expect(view.outputBytes).toBe(4 * 2 ** 20);
    });
    console.log(`storage: ${(rows / 4).toFixed(2)} rows written per streamed MiB (${MAX_CHUNK_BYTES / 1024} KiB chunks in batch frames)`);
    expect(rows / 4).toBeLessThanOrEqual(10);
  });
});
