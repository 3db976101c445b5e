import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../protocol/api.ts";
import type { Metrics } from "../../protocol/metrics.ts";
import {
  METRICS_BUCKET_MS,
  METRICS_COARSE_BUCKET_MS,
  METRICS_COARSE_RETENTION_MS,
  METRICS_RETENTION_MS,
  MetricsHistory,
} from "../../protocol/metrics-history.ts";
import { MetricsHistoryStore, sampleBucket, withSample, type MinuteBucket } from "../../durable-objects/site-hub/metrics-history.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import { api, connectNode, freshSite, registerNode } from "./support.ts";

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

  it("prunes buckets past the retention window while recording, at most every ten minutes", async () => {
    const site = freshSite();
    const now = Date.UTC(2026, 0, 3, 12, 0, 0);
    const counts = await withStore(site, (store, sql) => {
      const count = () => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM metrics_minutes WHERE node_id = 'n'").one().n;
      record(store, "n", sample(), now);
      record(store, "n", sample(), now - METRICS_RETENTION_MS - 3600_000);
      const withOld = count();
      record(store, "n", sample(), now + 5 * 60_000);
      const beforeInterval = count();
      record(store, "n", sample(), now + 11 * 60_000);
      const afterInterval = count();
      const explicit = store.prune(now + 2 * METRICS_RETENTION_MS);
      return { withOld, beforeInterval, afterInterval, explicit, left: count() };
    });
    expect(counts).toEqual({ withOld: 2, beforeInterval: 3, afterInterval: 3, explicit: 3, left: 0 });
  });

  it("serves 1 h and 6 h in minutes, and 7 days in quarter hours folded from the minutes, the latest quarter included", async () => {
    const site = freshSite();
    const now = Date.UTC(2026, 0, 10, 12, 7, 0);
    const day = 24 * 3600_000;
    const result = await withStore(site, (store) => {
      // Two samples in one quarter hour four days ago, folded when the store prunes; two in the current quarter.
      record(store, "n", sample({ cpuPercent: 10 }), now - 4 * day + 60_000);
      record(store, "n", sample({ cpuPercent: 30 }), now - 4 * day + 120_000);
      store.prune(now - 4 * day + 3600_000);
      record(store, "n", sample({ cpuPercent: 40 }), now - 3 * 3600_000);
      record(store, "n", sample({ cpuPercent: 60 }), now - 60_000);
      record(store, "n", sample({ cpuPercent: 80 }), now);
      store.prune(now);
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
