import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, NodeView } from "../../protocol/api.ts";
import type { Metrics } from "../../protocol/metrics.ts";
import {
  METRICS_BUCKET_MS,
  METRICS_COARSE_BUCKET_MS,
  METRICS_COARSE_RETENTION_MS,
  METRICS_RETENTION_MS,
  MetricsHistory,
} from "../../protocol/metrics-history.ts";
import { MINUTE_SLOTS, MetricsHistoryStore, QUARTER_SLOTS, sampleBucket } from "../../durable-objects/site-hub/metrics-history.ts";
import { readState } from "../../durable-objects/site-hub/node-socket.ts";
import { METRICS_RINGS } from "../../durable-objects/site-hub/schema.ts";
import { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import { api, connectNode, ensureSite, freshSite, registerNode, type FakeAgent } from "./support.ts";

function sample(over: Partial<Metrics> = {}): Metrics {
  return { cpuPercent: 10, memoryMb: 1000, memoryTotalMb: 4000, diskFreeMb: 60, diskTotalMb: 100, activeDirectives: 0, uptimeSeconds: 1, ...over };
}

/** One heartbeat stored on its own, as a bucket of one sample. */
function record(store: MetricsHistoryStore, nodeId: string, m: Metrics, at: number): void {
  store.add(nodeId, sampleBucket(m, at), at);
}

function hub(site: string): DurableObjectStub<SiteHub> {
  return env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
}

/** Runs `fn` against a history store on the site's own SQLite storage, with times the test chooses. */
async function withStore<T>(site: string, fn: (store: MetricsHistoryStore, sql: SqlStorage) => T): Promise<T> {
  await ensureSite(site);
  return runInDurableObject(hub(site), (_instance, state) => fn(new MetricsHistoryStore(state.storage.sql), state.storage.sql));
}

describe("metrics history", () => {
  it("keeps heartbeat metrics as one point per minute, served by GET /nodes/:id/metrics", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "m1" });
    const agent = await connectNode(site, creds);
    for (const cpuPercent of [20, 40]) {
      agent.send({ type: "heartbeat", agentId: creds.id, metrics: sample({ cpuPercent }) });
      await agent.next("heartbeat_ack");
      agent.take("heartbeat_ack");
    }
    agent.send({ type: "heartbeat", agentId: creds.id });
    await agent.next("heartbeat_ack");
    const history = MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/m1/metrics`)).json());
    expect(history).toMatchObject({ nodeId: "m1", bucketMs: METRICS_BUCKET_MS, retentionMs: METRICS_RETENTION_MS });
    const samples = history.points.reduce((s, p) => s + p.samples, 0);
    expect(samples).toBe(2);
    const cpuMax = Math.max(...history.points.map((p) => p.cpuMax));
    expect(cpuMax).toBe(40);
  });

  it("folds samples of a minute into exact averages and maxima, GPUs included", async () => {
    const site = freshSite();
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    const history = await withStore(site, (store) => {
      record(store, "n", sample({ cpuPercent: 10, memoryMb: 1000, diskFreeMb: 60 }), t0 + 1_000);
      record(store, "n", sample({ cpuPercent: 30, memoryMb: 3000, diskFreeMb: 40, gpus: [
        { name: "a", utilizationPercent: 50, memoryUsedMb: 100, memoryTotalMb: 1000 },
        { name: "b", utilizationPercent: 90, memoryUsedMb: 300, memoryTotalMb: 1000 },
      ] }), t0 + 30_000);
      record(store, "n", sample({ cpuPercent: 50 }), t0 + METRICS_BUCKET_MS + 5_000);
      record(store, "other", sample({ cpuPercent: 99 }), t0 + 2_000);
      return store.history("n", {}, t0 + 2 * METRICS_BUCKET_MS);
    });
    expect(history.points).toEqual([
      {
        at: t0,
        samples: 2,
        cpuAvg: 20,
        cpuMax: 30,
        memoryAvgMb: 2000,
        memoryMaxMb: 3000,
        memoryTotalMb: 4000,
        diskUsedAvgMb: 50,
        diskUsedMaxMb: 60,
        diskTotalMb: 100,
        gpuAvg: 70,
        gpuMax: 70,
        gpuMemoryAvgMb: 400,
        gpuMemoryTotalMb: 2000,
      },
      expect.objectContaining({ at: t0 + METRICS_BUCKET_MS, samples: 1, cpuAvg: 50, gpuAvg: null, gpuMax: null, gpuMemoryTotalMb: null }),
    ]);
  });

  it("serves only the last 24 hours and after `since`", async () => {
    const site = freshSite();
    const now = Date.UTC(2026, 0, 2, 12, 0, 0);
    const { all, recent, tomorrow } = await withStore(site, (store) => {
      record(store, "n", sample({ cpuPercent: 2 }), now - 3600_000);
      record(store, "n", sample({ cpuPercent: 3 }), now - 60_000);
      const tomorrow = now + METRICS_RETENTION_MS - 30 * 60_000;
      return {
        all: store.history("n", {}, now).points.map((p) => p.cpuAvg),
        recent: store.history("n", { since: now - 30 * 60_000 }, now).points.map((p) => p.cpuAvg),
        tomorrow: store.history("n", {}, tomorrow).points.map((p) => p.cpuAvg),
      };
    });
    expect(all).toEqual([2, 3]);
    expect(recent).toEqual([3]);
    expect(tomorrow).toEqual([3]);
  });

  it("reuses a minute's slot a day later for the new minute alone, and keeps a node's rows within its rings", async () => {
    const site = freshSite();
    const now = Date.UTC(2026, 0, 3, 12, 0, 0);
    const span = MINUTE_SLOTS * METRICS_BUCKET_MS;
    const result = await withStore(site, (store, sql) => {
      const count = (table: string) => sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE node_id = 'n'`).one().n;
      record(store, "n", sample({ cpuPercent: 10 }), now);
      record(store, "n", sample({ cpuPercent: 20 }), now + 60_000);
      const before = store.history("n", {}, now + 2 * 60_000).points.map((p) => [p.at, p.cpuAvg]);
      // The same slot, one ring later: the old minute is replaced, not added to.
      record(store, "n", sample({ cpuPercent: 70 }), now + span);
      const reused = {
        // A minute past the day after `now + 1 min`, the last minute of the old ring is out of the window too.
        day: store.history("n", {}, now + span + 61_000).points.map((p) => [p.at, p.samples, p.cpuAvg]),
        since: store.history("n", { since: now - 3600_000 }, now + span + 61_000).points.map((p) => p.at),
        minutes: count("metrics_minute_slots"),
      };
      // Three days of a minute every other minute (1,441 slots, an odd number, so every slot is written) stay in the ring.
      for (let at = now + span + 60_000; at < now + span + 3 * 24 * 3600_000; at += 2 * 60_000) record(store, "n", sample(), at);
      return { before, reused, ring: count("metrics_minute_slots"), quarters: count("metrics_quarter_slots") };
    });
    expect(result.before).toEqual([[now, 10], [now + 60_000, 20]]);
    expect(result.reused).toEqual({ day: [[now + span, 1, 70]], since: [now + span], minutes: 2 });
    expect(result.ring).toBe(MINUTE_SLOTS);
    expect(result.quarters).toBeLessThanOrEqual(QUARTER_SLOTS);
  });

  it("serves quarter hours equal before and after they are folded from the minutes a day later", async () => {
    const site = freshSite();
    const q = Date.UTC(2026, 0, 4, 12, 0, 0);
    const day = MINUTE_SLOTS * METRICS_BUCKET_MS;
    const gpus = [{ name: "a", utilizationPercent: 50, memoryUsedMb: 100, memoryTotalMb: 1000 }];
    const result = await withStore(site, (store, sql) => {
      record(store, "n", sample({ cpuPercent: 10, memoryTotalMb: 4000 }), q + 60_000);
      record(store, "n", sample({ cpuPercent: 30, memoryTotalMb: 6000, gpus }), q + 60_000 + 20_000);
      record(store, "n", sample({ cpuPercent: 50, memoryTotalMb: 5000 }), q + 14 * 60_000);
      record(store, "n", sample({ cpuPercent: 90 }), q + 15 * 60_000);
      const week = (at: number) => store.history("n", { range: "7d" }, at).points;
      const unfolded = week(q + 16 * 60_000);
      const quarters = () => sql.exec<{ quarter: number; samples: number }>("SELECT quarter, samples FROM metrics_quarter_slots WHERE node_id = 'n'").toArray();
      const none = quarters();
      // A minute a ring later lands in the slot of q + 1 min: its quarter is folded before that minute goes.
      record(store, "n", sample({ cpuPercent: 5 }), q + day + 60_000);
      const folded = quarters();
      const after = week(q + day + 2 * 60_000);
      return { unfolded, none, folded, after };
    });
    expect(result.none).toEqual([]);
    expect(result.folded).toEqual([{ quarter: q, samples: 3 }]);
    expect(result.unfolded.map((p) => [p.at, p.samples, p.cpuAvg, p.cpuMax, p.memoryTotalMb, p.gpuAvg])).toEqual([
      [q, 3, 30, 50, 6000, 50],
      [q + METRICS_COARSE_BUCKET_MS, 1, 90, 90, 4000, null],
    ]);
    expect(result.after.slice(0, 2)).toEqual(result.unfolded);
    expect(result.after.map((p) => p.cpuAvg)).toEqual([30, 90, 5]);
  });

  it("shows a node that stops and returns more than a day later none of its stale minutes", async () => {
    const site = freshSite();
    const t = Date.UTC(2026, 0, 5, 8, 0, 0);
    const back = t + 26 * 3600_000;
    const result = await withStore(site, (store) => {
      for (let i = 0; i < 60; i++) record(store, "n", sample({ cpuPercent: 10 }), t + i * 60_000);
      record(store, "n", sample({ cpuPercent: 40 }), back);
      const at = back + 30_000;
      return {
        ranges: (["1h", "6h", "24h"] as const).map((range) => store.history("n", { range }, at).points.map((p) => [p.at, p.cpuAvg])),
        old: store.history("n", { since: t }, at).points.length,
        week: store.history("n", { range: "7d" }, at).points.map((p) => [p.at, p.samples, p.cpuAvg]),
      };
    });
    for (const points of result.ranges) expect(points).toEqual([[back, 40]]);
    expect(result.old).toBe(1);
    expect(result.week).toEqual([
      [t, 15, 10],
      [t + METRICS_COARSE_BUCKET_MS, 15, 10],
      [t + 2 * METRICS_COARSE_BUCKET_MS, 15, 10],
      [t + 3 * METRICS_COARSE_BUCKET_MS, 15, 10],
      [back, 1, 40],
    ]);
  });

  it("keeps eight days of minutes exact in every range, within the rings", async () => {
    const site = freshSite();
    const start = Date.UTC(2026, 1, 1, 0, 0, 0);
    const every = 5 * 60_000;
    const end = start + 8 * 24 * 3600_000;
    const cpuAt = (at: number) => ((at - start) / every) % 97;
    const result = await withStore(site, (store, sql) => {
      for (let at = start; at < end; at += every) record(store, "n", sample({ cpuPercent: cpuAt(at) }), at);
      const count = (table: string) => sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE node_id = 'n'`).one().n;
      return { day: store.history("n", {}, end), week: store.history("n", { range: "7d" }, end), minutes: count("metrics_minute_slots"), quarters: count("metrics_quarter_slots") };
    });
    const expectedDay: [number, number][] = [];
    for (let at = start; at < end; at += every) if (at >= end - METRICS_RETENTION_MS) expectedDay.push([at, cpuAt(at)]);
    expect(result.day.points.map((p) => [p.at, p.cpuAvg])).toEqual(expectedDay);
    const expectedWeek: [number, number, number, number][] = [];
    for (let q = end - METRICS_COARSE_RETENTION_MS; q < end; q += METRICS_COARSE_BUCKET_MS) {
      const cpus = [0, 1, 2].map((i) => cpuAt(q + i * every));
      expectedWeek.push([q, 3, cpus.reduce((a, b) => a + b, 0) / 3, Math.max(...cpus)]);
    }
    expect(result.week.points.map((p) => [p.at, p.samples, p.cpuAvg, p.cpuMax])).toEqual(expectedWeek);
    expect(result.minutes).toBeLessThanOrEqual(MINUTE_SLOTS);
    expect(result.quarters).toBeLessThanOrEqual(QUARTER_SLOTS);
  });

  it("deletes the history of nodes silent for longer than the week kept, and of no other", async () => {
    const site = freshSite();
    await registerNode(site, { name: "gone" });
    await registerNode(site, { name: "here" });
    const now = Date.now();
    const result = await withStore(site, (store, sql) => {
      for (const id of ["gone", "here"]) {
        record(store, id, sample(), now - 8 * 24 * 3600_000);
        record(store, id, sample(), now - 60_000);
      }
      sql.exec("UPDATE nodes SET last_heartbeat_at = ? WHERE id = ?", now - 8 * 24 * 3600_000, "gone");
      sql.exec("UPDATE nodes SET last_heartbeat_at = ? WHERE id = ?", now - 60_000, "here");
      const deleted = store.forgetSilent(now);
      const left = sql.exec<{ node_id: string }>("SELECT DISTINCT node_id FROM metrics_minute_slots WHERE node_id IN ('gone', 'here')").toArray();
      return { deleted, left, here: store.history("here", { range: "7d" }, now).points.length };
    });
    expect(result.deleted).toBeGreaterThanOrEqual(2);
    expect(result.left).toEqual([{ node_id: "here" }]);
    expect(result.here).toBe(1);
  });

  it("serves 1 h and 6 h in minutes, and 7 days in quarter hours folded from the minutes, the latest quarter included", async () => {
    const site = freshSite();
    const now = Date.UTC(2026, 0, 10, 12, 7, 0);
    const day = 24 * 3600_000;
    const result = await withStore(site, (store) => {
      // Two samples in one quarter hour four days ago, never folded (no minute overwrote them): grouped on the fly.
      record(store, "n", sample({ cpuPercent: 10 }), now - 4 * day + 60_000);
      record(store, "n", sample({ cpuPercent: 30 }), now - 4 * day + 120_000);
      record(store, "n", sample({ cpuPercent: 40 }), now - 3 * 3600_000);
      record(store, "n", sample({ cpuPercent: 60 }), now - 60_000);
      record(store, "n", sample({ cpuPercent: 80 }), now);
      record(store, "n", sample({ cpuPercent: 100 }), now + 30_000);
      return {
        hour: store.history("n", { range: "1h" }, now + 30_000),
        six: store.history("n", { range: "6h" }, now + 30_000),
        week: store.history("n", { range: "7d" }, now + 30_000),
        topUp: store.history("n", { range: "7d", since: now }, now + 30_000),
        beyond: store.history("n", { range: "7d" }, now + METRICS_COARSE_RETENTION_MS + METRICS_COARSE_BUCKET_MS),
      };
    });
    expect(result.hour).toMatchObject({ range: "1h", bucketMs: METRICS_BUCKET_MS, windowMs: 3600_000 });
    expect(result.hour.points.map((p) => p.cpuAvg)).toEqual([60, 90]);
    expect(result.six.points.map((p) => p.cpuAvg)).toEqual([40, 60, 90]);
    expect(result.week).toMatchObject({ range: "7d", bucketMs: METRICS_COARSE_BUCKET_MS, retentionMs: METRICS_COARSE_RETENTION_MS });
    expect(result.week.points.map((p) => [p.samples, p.cpuAvg, p.cpuMax])).toEqual([
      [2, 20, 30],
      [1, 40, 40],
      [3, 80, 100],
    ]);
    expect(result.week.points.every((p) => p.at % METRICS_COARSE_BUCKET_MS === 0)).toBe(true);
    expect(result.topUp.points.map((p) => p.cpuAvg)).toEqual([80]);
    expect(result.beyond.points).toEqual([]);
  });

  it("answers 404 for an unknown node and 400 for a bad `since`", async () => {
    const site = freshSite();
    const missing = await api(`/api/sites/${site}/nodes/ghost/metrics`);
    expect(missing.status).toBe(404);
    expect(ApiError.parse(await missing.json()).error.code).toBe("node_not_found");
    await registerNode(site, { name: "real" });
    expect((await api(`/api/sites/${site}/nodes/real/metrics?since=yesterday`)).status).toBe(400);
    expect((await api(`/api/sites/${site}/nodes/real/metrics?range=30d`)).status).toBe(400);
    expect(MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/real/metrics?range=7d`)).json())).toMatchObject({ range: "7d", points: [] });
    expect(MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/real/metrics`)).json()).points).toEqual([]);
  });
});

describe("heartbeats between the once-a-minute writes", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A node connected at `t0` (the start of a minute, on the test's clock), with a heartbeat far apart enough to stay alive. */
  async function setUp(): Promise<{ site: string; id: string; agent: FakeAgent; t0: number; beat: (at: number, m?: unknown) => Promise<void> }> {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = (Math.floor(Date.now() / METRICS_BUCKET_MS) + 1) * METRICS_BUCKET_MS;
    vi.setSystemTime(t0);
    const site = freshSite();
    const creds = await registerNode(site, { name: "live" });
    const agent = await connectNode(site, creds, { heartbeatMs: 60_000 });
    const beat = async (at: number, metrics?: unknown) => {
      vi.setSystemTime(at);
      agent.send({ type: "heartbeat", agentId: creds.id, ...(metrics ? { metrics } : {}) });
      await agent.next("heartbeat_ack");
      agent.take("heartbeat_ack");
    };
    return { site, id: creds.id, agent, t0, beat };
  }

  const gpus = [
    { name: "a", utilizationPercent: 50, memoryUsedMb: 100, memoryTotalMb: 1000 },
    { name: "b", utilizationPercent: 90, memoryUsedMb: 300, memoryTotalMb: 1000 },
  ];
  const samples: [number, Metrics][] = [
    [1_000, sample({ cpuPercent: 10, memoryMb: 1000, diskFreeMb: 60 })],
    [30_000, sample({ cpuPercent: 30, memoryMb: 3000, diskFreeMb: 40, gpus })],
    [59_000, sample({ cpuPercent: 20, memoryTotalMb: 5000 })],
    [65_000, sample({ cpuPercent: 50, gpus })],
    [90_000, sample({ cpuPercent: 70 })],
  ];

  function stored(site: string, id: string) {
    return runInDurableObject(hub(site), (_hub, state) => ({
      minutes: state.storage.sql.exec<{ minute: number; samples: number }>("SELECT minute, samples FROM metrics_minute_slots WHERE node_id = ? ORDER BY minute", id).toArray(),
      row: state.storage.sql.exec<{ last_heartbeat_at: number; metrics: string | null }>("SELECT last_heartbeat_at, metrics FROM nodes WHERE id = ?", id).one(),
    }));
  }

  it("serve history equal to storing every heartbeat, the minute under way included, in every range", async () => {
    const { site, id, t0, beat } = await setUp();
    for (const [dt, m] of samples) await beat(t0 + dt, m);
    // The same samples stored one by one, as the hub did before, on another site's storage.
    const reference = await withStore(freshSite(), (store) => {
      for (const [dt, m] of samples) record(store, id, m, t0 + dt);
      return (["1h", "24h", "7d"] as const).map((range) => store.history(id, { range }, t0 + 90_000));
    });
    for (const expected of reference) {
      const served = MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/${id}/metrics?range=${expected.range}`)).json());
      expect(served).toEqual(expected);
    }
    // The first minute is stored, the second lives with the socket: both are in the answer above.
    expect((await stored(site, id)).minutes).toEqual([{ minute: t0, samples: 3 }]);
    const node = NodeView.parse(await (await api(`/api/sites/${site}/nodes/${id}`)).json());
    expect(node).toMatchObject({ lastHeartbeatAt: t0 + 90_000, metrics: { cpuPercent: 70 } });
    expect((await stored(site, id)).row.last_heartbeat_at).toBe(t0 + 65_000);
  });

  it("lose nothing when the object is woken: a new instance reads the same from the sockets' attachments", async () => {
    const { site, id, t0, beat } = await setUp();
    for (const [dt, m] of samples) await beat(t0 + dt, m);
    const live = MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/${id}/metrics`)).json());
    const woken = await runInDurableObject(hub(site), (_hub, state) => {
      // What hibernation leaves: the sockets and their attachments, and nothing of the old instance's memory.
      const fresh = new SiteHub(state, env);
      const node = fresh.getNode(id);
      const history = fresh.metricsHistory(id, { range: "24h" });
      return { node: node.ok ? node.value : null, history: history.ok ? history.value : null };
    });
    expect(woken.node).toMatchObject({ status: "connected", lastHeartbeatAt: t0 + 90_000, metrics: { cpuPercent: 70 } });
    expect(woken.history).toEqual(live);
    expect(woken.history!.points.map((p) => p.samples)).toEqual([3, 2]);
  });

  it("store the minute under way and the last heartbeat when the connection ends mid-minute", async () => {
    const { site, id, agent, t0, beat } = await setUp();
    for (const [dt, m] of samples) await beat(t0 + dt, m);
    agent.ws.close(1000, "bye");
    await vi.waitFor(async () => expect(NodeView.parse(await (await api(`/api/sites/${site}/nodes/${id}`)).json()).status).toBe("disconnected"));
    const { minutes, row } = await stored(site, id);
    expect(minutes).toEqual([
      { minute: t0, samples: 3 },
      { minute: t0 + METRICS_BUCKET_MS, samples: 2 },
    ]);
    expect(row.last_heartbeat_at).toBe(t0 + 90_000);
    expect(JSON.parse(row.metrics!)).toMatchObject({ cpuPercent: 70 });
    const history = MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/${id}/metrics`)).json());
    expect(history.points.map((p) => [p.samples, p.cpuMax])).toEqual([[3, 30], [2, 70]]);
  });

  it("store a minute that ended without a heartbeat after it from the liveness sweep", async () => {
    const { site, id, t0, beat } = await setUp();
    await beat(t0 + 1_000, sample({ cpuPercent: 40 }));
    vi.setSystemTime(t0 + METRICS_BUCKET_MS + 5_000);
    await runDurableObjectAlarm(hub(site));
    const { minutes, row } = await stored(site, id);
    expect(minutes).toEqual([{ minute: t0, samples: 1 }]);
    expect(row.last_heartbeat_at).toBe(t0 + 1_000);
    const history = MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/${id}/metrics`)).json());
    expect(history.points.map((p) => [p.at, p.samples, p.cpuMax])).toEqual([[t0, 1, 40]]);
  });

  it("refuse malformed and oversize metrics without counting them, and keep the attachment bounded for large valid ones", async () => {
    const { site, id, agent, t0, beat } = await setUp();
    await beat(t0 + 1_000, sample({ cpuPercent: 40 }));
    const wide = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `${i}`.padStart(200, "g"), utilizationPercent: 10, memoryUsedMb: 1, memoryTotalMb: 2 }));
    for (const bad of [sample({ cpuPercent: 101 }), { ...sample(), memoryMb: "lots" }, sample({ gpus: wide(65) })]) {
      vi.setSystemTime(t0 + 2_000);
      agent.send({ type: "heartbeat", agentId: id, metrics: bad });
      expect((await agent.next("error")).code).toBe("invalid_message");
      agent.take("error");
    }
    let node = NodeView.parse(await (await api(`/api/sites/${site}/nodes/${id}`)).json());
    expect(node).toMatchObject({ lastHeartbeatAt: t0 + 1_000, metrics: { cpuPercent: 40 } });
    // 64 GPUs with the longest names: valid, far larger than an attachment may hold, so they go to the row at once.
    await beat(t0 + 3_000, sample({ cpuPercent: 60, gpus: wide(64) }));
    node = NodeView.parse(await (await api(`/api/sites/${site}/nodes/${id}`)).json());
    expect(node.metrics).toMatchObject({ cpuPercent: 60, gpus: expect.arrayContaining([expect.objectContaining({ utilizationPercent: 10 })]) });
    expect(node.metrics!.gpus).toHaveLength(64);
    expect(JSON.parse((await stored(site, id)).row.metrics!).gpus).toHaveLength(64);
    const attachment = await runInDurableObject(hub(site), (_hub, state) => JSON.stringify(readState(state.getWebSockets().find((ws) => readState(ws)?.nodeId === id)!)));
    expect(attachment.length).toBeLessThan(2_048);
    const history = MetricsHistory.parse(await (await api(`/api/sites/${site}/nodes/${id}/metrics`)).json());
    expect(history.points.map((p) => [p.samples, p.cpuMax])).toEqual([[2, 60]]);
  });
});

describe("the migration to per-node rings", () => {
  const columns = `samples INTEGER NOT NULL, cpu_sum REAL NOT NULL, cpu_max REAL NOT NULL, mem_sum REAL NOT NULL,
    mem_max REAL NOT NULL, mem_total REAL NOT NULL, disk_used_sum REAL NOT NULL, disk_used_max REAL NOT NULL,
    disk_total REAL NOT NULL, gpu_samples INTEGER NOT NULL, gpu_sum REAL NOT NULL, gpu_max REAL, gpu_mem_sum REAL NOT NULL,
    gpu_mem_total REAL`;

  /** The tables as the migrations before the rings left them. */
  function oldTables(sql: SqlStorage): void {
    sql.exec(`DROP TABLE metrics_minute_slots; DROP TABLE metrics_quarter_slots;
      CREATE TABLE metrics_minutes (node_id TEXT NOT NULL, minute INTEGER NOT NULL, ${columns}, PRIMARY KEY (node_id, minute)) WITHOUT ROWID;
      CREATE INDEX metrics_by_minute ON metrics_minutes(minute);
      CREATE TABLE metrics_quarters (node_id TEXT NOT NULL, quarter INTEGER NOT NULL, ${columns}, PRIMARY KEY (node_id, quarter)) WITHOUT ROWID;
      CREATE INDEX metrics_by_quarter ON metrics_quarters(quarter);
      CREATE TABLE metrics_folded (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL);`);
  }

  function insertOld(sql: SqlStorage, table: "metrics_minutes" | "metrics_quarters", nodeId: string, at: number, cpu: number, samples = 1): void {
    const b = sampleBucket(sample({ cpuPercent: cpu }), at);
    sql.exec(
      `INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      nodeId, at, samples, b.cpu_sum * samples, b.cpu_max, b.mem_sum * samples, b.mem_max, b.mem_total, b.disk_used_sum * samples,
      b.disk_used_max, b.disk_total, b.gpu_samples, b.gpu_sum, b.gpu_max, b.gpu_mem_sum, b.gpu_mem_total,
    );
  }

  it("moves minutes and quarter hours into their slots, the latest winning a shared one, and drops the old tables", async () => {
    const site = freshSite();
    const now = Date.UTC(2026, 0, 20, 12, 3, 0);
    const minute = METRICS_BUCKET_MS;
    const q = now - 3 * 24 * 3600_000 - 3 * minute;
    const result = await withStore(site, (store, sql) => {
      oldTables(sql);
      // A minute just past retention (not pruned yet) in the slot of the current one; the quarter a week before `q` in its slot.
      insertOld(sql, "metrics_minutes", "n", now - MINUTE_SLOTS * minute, 99);
      for (const [dt, cpu] of [[-2, 20], [-1, 40], [0, 60]] as const) insertOld(sql, "metrics_minutes", "n", now + dt * minute, cpu);
      insertOld(sql, "metrics_minutes", "other", now, 77);
      insertOld(sql, "metrics_quarters", "n", q - QUARTER_SLOTS * METRICS_COARSE_BUCKET_MS, 88, 4);
      insertOld(sql, "metrics_quarters", "n", q, 30, 15);
      sql.exec("INSERT INTO metrics_folded (id, upto) VALUES (1, ?)", now - 3 * minute);
      sql.exec(METRICS_RINGS);
      const tables = sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name LIKE 'metrics%' ORDER BY name")
        .toArray()
        .map((r) => r.name);
      return {
        tables,
        day: store.history("n", {}, now + 30_000).points.map((p) => [p.at, p.cpuAvg]),
        week: store.history("n", { range: "7d" }, now + 30_000).points.map((p) => [p.at, p.samples, p.cpuAvg]),
        other: store.history("other", {}, now + 30_000).points.map((p) => p.cpuAvg),
        slots: sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM metrics_minute_slots WHERE node_id = 'n'").one().n,
      };
    });
    expect(result.tables).toEqual(["metrics_minute_slots", "metrics_quarter_slots"]);
    expect(result.day).toEqual([[now - 2 * minute, 20], [now - minute, 40], [now, 60]]);
    expect(result.week).toEqual([
      [q, 15, 30],
      [now - (now % METRICS_COARSE_BUCKET_MS), 3, 40],
    ]);
    expect(result.other).toEqual([77]);
    expect(result.slots).toBe(3);
  });
});
