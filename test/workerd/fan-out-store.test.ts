import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DirectiveStore } from "../../durable-objects/site-hub/directive-store.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import { ensureSite, freshSite } from "./support.ts";

/** Runs `fn` against a fresh site's own SQLite, migrated as the hub migrates it. */
async function inSite<T>(fn: (store: DirectiveStore, sql: SqlStorage) => T): Promise<T> {
  const site = freshSite();
  await ensureSite(site);
  const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
  return runInDurableObject(stub, (_hub: SiteHub, state) => fn(new DirectiveStore(state.storage.sql), state.storage.sql));
}

function member(store: DirectiveStore, fanoutId: string, n: number): string {
  const id = `d-00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  store.insertMany([{ id, fanoutId, nodeId: `n${n}`, action: "bash", params: { command: "true" }, status: "queued", requestedBy: "test", requestedByUser: null, confineTo: null, timeoutMs: 1000 }], 1);
  return id;
}

describe("a fan-out's members in the store", () => {
  it("are pending until the last one ends, and only queued ones start, within the concurrency", async () => {
    await inSite((store) => {
      const fanoutId = "f-00000000-0000-4000-8000-000000000001";
      store.insertFanOut({ fanoutId, actor: "test", action: "bash", what: "true", total: 3, skippedOffline: 0 }, 2, 1);
      const ids = [1, 2, 3].map((n) => member(store, fanoutId, n));
      // Another fan-out's queued member is none of this one's business.
      store.insertFanOut({ fanoutId: "f-00000000-0000-4000-8000-000000000002", actor: "test", action: "bash", what: "true", total: 1, skippedOffline: 0 }, 5, 1);
      member(store, "f-00000000-0000-4000-8000-000000000002", 9);

      expect(store.hasPending(fanoutId)).toBe(true);
      expect(store.nextQueued(fanoutId).map((r) => r.view.id)).toEqual(ids.slice(0, 2));
      store.markSent(ids.slice(0, 2), 2);
      expect(store.nextQueued(fanoutId).map((r) => r.view.id)).toEqual([]);
      store.finish(ids[0]!, { status: "done" }, 3);
      expect(store.nextQueued(fanoutId).map((r) => r.view.id)).toEqual([ids[2]]);
      store.markSent([ids[2]!], 4);
      expect(store.nextQueued(fanoutId).map((r) => r.view.id)).toEqual([]);
      store.finish(ids[1]!, { status: "failed", errorCode: "exec_failed" }, 5);
      expect(store.hasPending(fanoutId)).toBe(true);
      store.finish(ids[2]!, { status: "done" }, 6);
      expect(store.hasPending(fanoutId)).toBe(false);
      expect(store.aggregate(fanoutId)).toMatchObject({ total: 3, succeeded: 2, failed: 1, pending: 0 });
      expect(store.hasPending("f-00000000-0000-4000-8000-000000000002")).toBe(true);
    });
  });

  it("are found by status through an index, so a result does not read every member", async () => {
    const plans = await inSite((_store, sql) =>
      [
        "SELECT 1 FROM directives WHERE fanout_id = ? AND status IN ('queued', 'sent', 'running') LIMIT 1",
        "SELECT COUNT(*) AS n FROM directives WHERE fanout_id = ? AND status IN ('sent', 'running')",
      ].map((q) => sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${q}`, "f-x").toArray().map((r) => r.detail).join("; ")),
    );
    for (const plan of plans) expect(plan).toContain("COVERING INDEX directives_by_fanout_status");
  });

  it("that may start are read in seq order straight off the index, with no sort of every queued member", async () => {
    const plan = await inSite((_store, sql) => {
      // The statement nextQueued runs, read from the store so the plan checked is the one used.
      let asked = "";
      const spy = { exec: (q: string, ...args: unknown[]) => ((asked = q), sql.exec(q, ...args)) } as unknown as SqlStorage;
      new DirectiveStore(spy).nextQueued("f-x");
      return sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${asked}`, "f-x").toArray().map((r) => r.detail).join("; ");
    });
    expect(plan).toMatch(/SEARCH directives USING INDEX directives_by_fanout_status \(fanout_id=\? AND status=\?\)/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it("are read, marked sent in bulk and ended by id lookups, never by walking every directive", async () => {
    const plans = await inSite((_store, sql) =>
      [
        "SELECT * FROM directives WHERE id IN (SELECT value FROM json_each(?))",
        "UPDATE directives SET status = 'sent', sent_at = ?, deadline_at = ? + timeout_ms WHERE id IN (SELECT value FROM json_each(?)) AND +status = 'queued'",
        "UPDATE directives SET status = ?, ended_at = ? WHERE id = ? AND +status IN ('queued', 'sent', 'running') RETURNING *",
      ].map((q) => sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${q}`, ...(q.startsWith("UPDATE") ? ["done", 1, "x"] : ["[]"])).toArray().map((r) => r.detail).join("; ")),
    );
    for (const plan of plans) {
      expect(plan).toMatch(/SEARCH directives USING INDEX sqlite_autoindex_directives_1 \(id=\?\)/);
      expect(plan).not.toMatch(/directives_in_flight/);
      expect(plan).not.toMatch(/SCAN directives/);
    }
  });
});
