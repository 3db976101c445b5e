import { describe, expect, it } from "vitest";
import { BOOTSTRAP, call, expectJson } from "./accounts-support.ts";
import { AlertmanagerResponse } from "../../protocol/autonomy.ts";
import { recorded, release, script } from "./chat-support.ts";
import { autonomySite, events, hooks, patchSettings, processEvent, report, settled } from "./autonomy-support.ts";
import { registerNode } from "./support.ts";

/** A model answer that never ends (until released): keeps an investigation running. */
const HANGING = { text: "Looking.", hang: true } as const;

describe("the guards of autonomous investigations", () => {
  it("are off by default: a crash is recorded as skipped (disabled) and no model is called", async () => {
    const { site, key, agents } = await autonomySite(["web-1"], { autonomyEnabled: false });
    await report(agents["web-1"]!, processEvent("api", "crashed"));
    const [only] = (await events(site)).events;
    expect(only).toMatchObject({ status: "skipped", skipReason: "disabled", nodeId: "web-1", subject: "api", trigger: "crashed", conversationId: null });
    expect(only!.reason).toContain("off on this site");
    expect(await recorded(key)).toEqual([]);
  });

  it("skip a machine whose AI tools are off, and only that machine", async () => {
    const { site, key, agents } = await autonomySite(["web-1", "web-2"]);
    await script(key, HANGING);
    const off = await call(BOOTSTRAP, `/api/sites/${site}/nodes/web-1`, { method: "PATCH", body: { aiToolsAllowed: false } });
    expect(off.status).toBe(200);
    await report(agents["web-1"]!, processEvent("api", "crashed"));
    await report(agents["web-2"]!, processEvent("api", "crashed"));
    const list = (await events(site)).events;
    expect(list.find((e) => e.nodeId === "web-1")).toMatchObject({ status: "skipped", skipReason: "disabled", reason: "AI tools are turned off on machine web-1" });
    expect(list.find((e) => e.nodeId === "web-2")).toMatchObject({ status: "investigating" });
    await release(key);
  });

  it("investigate the same machine and process once within the cooldown; another process or machine is its own", async () => {
    const { site, key, agents } = await autonomySite(["web-1", "web-2"], {}, ["api", "worker"]);
    await script(key, HANGING, HANGING, HANGING);
    const first = processEvent("api", "crashed");
    await report(agents["web-1"]!, first);
    await report(agents["web-1"]!, processEvent("api", "start_failed"));
    await report(agents["web-1"]!, processEvent("worker", "crashed"));
    await report(agents["web-2"]!, processEvent("api", "crashed"));
    const list = (await events(site)).events.reverse();
    expect(list.map((e) => [e.nodeId, e.subject, e.status, e.skipReason])).toEqual([
      ["web-1", "api", "investigating", null],
      ["web-1", "api", "skipped", "cooldown"],
      ["web-1", "worker", "investigating", null],
      ["web-2", "api", "investigating", null],
    ]);
    expect(list[1]!.reason).toContain(`${list[0]!.id} (investigating) is within the 15-minute cooldown`);
    await release(key);
  });

  it("skip the fourth of four crashes that arrive together as busy: the decision is atomic", async () => {
    const { site, key, agents } = await autonomySite(["web-1", "web-2", "web-3", "web-4"], {}, ["svc-0", "svc-1", "svc-2", "svc-3"]);
    await script(key, HANGING, HANGING, HANGING, HANGING);
    // Four machines report at the same moment, each on its own socket.
    await Promise.all(Object.values(agents).map((agent, i) => report(agent, processEvent(`svc-${i}`, "crashed"))));
    const list = (await events(site)).events;
    expect(list.filter((e) => e.status === "investigating")).toHaveLength(3);
    const skipped = list.filter((e) => e.status === "skipped");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ skipReason: "busy", reason: "3 investigations are running, the most this site allows at once" });
    expect((await events(site)).active).toBe(3);
    await release(key);
  });

  it("decide the events of one frame in order against the same limit", async () => {
    const { site, key, agents } = await autonomySite(["web-1"], { autonomyMaxActive: 2 }, ["a", "b", "c"]);
    await script(key, HANGING, HANGING, HANGING);
    await report(agents["web-1"]!, processEvent("a", "crashed"), processEvent("b", "crashed"), processEvent("c", "crashed"));
    const list = (await events(site)).events.reverse();
    expect(list.map((e) => [e.subject, e.status, e.skipReason])).toEqual([
      ["a", "investigating", null],
      ["b", "investigating", null],
      ["c", "skipped", "busy"],
    ]);
    await release(key);
  });

  it("ignore a crash of a process the hub never configured: an agent cannot invent subjects to get past the cooldown", async () => {
    const { site, key, agents } = await autonomySite(["web-1"]);
    await script(key, HANGING);
    await report(agents["web-1"]!, processEvent("made-up-1", "crashed"), processEvent("made-up-2", "gave_up"));
    expect((await events(site)).events).toEqual([]);
    expect(await recorded(key)).toEqual([]);
    await release(key);
  });

  it("reject a replayed process event: the agent's repeat is acknowledged and changes nothing", async () => {
    const { site, key, agents } = await autonomySite(["web-1"]);
    await script(key, HANGING);
    const crash = processEvent("api", "crashed");
    await report(agents["web-1"]!, crash);
    await report(agents["web-1"]!, crash);
    const list = (await events(site)).events;
    expect(list).toHaveLength(1);
    expect(list[0]!.eventKey).toBe(`web-1/${crash.id}`);
    // The investigation's first model call hangs until released: one call while it hangs, one investigation. (It
    // reaches the model in its own time; checked at once, the count raced it.)
    await expect.poll(async () => (await recorded(key)).length, { timeout: 5_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect((await recorded(key)).length).toBe(1);
    await release(key);
  });

  it("escalate a crash loop (give-up) when autonomy is off, without a model call", async () => {
    const { site, key, agents, hookPath } = await autonomySite(["web-1"], { autonomyEnabled: false });
    await report(agents["web-1"]!, processEvent("api", "gave_up", { reason: "5 relaunch(es) within 300 s" }));
    const [e] = (await events(site)).events;
    const done = await settled(site, e!.id, ["escalated"]);
    expect(done.reason).toBe("the process gave up after repeated crashes and autonomous investigations are off on this site");
    expect(done.escalation.webhook.status).toBe("sent");
    expect(done.escalation.email.status).toBe("sent");
    expect(await hooks(hookPath)).toHaveLength(1);
    expect(await recorded(key)).toEqual([]);
  });

  it("escalate at once, without a model call, for a machine that is offline", async () => {
    const { site, key, hookPath } = await autonomySite([]);
    await registerNode(site, { name: "db-1", id: "db-1", tier: "root" });
    const token = await expectJson(await call(BOOTSTRAP, `/api/sites/${site}/alerts/alertmanager/token`, { method: "POST" }), 201, { parse: (v: unknown) => v as { token: string } });
    const alert = { status: "firing", labels: { alertname: "HighLoad", cortex_node: "db-1" }, annotations: { summary: "load is high" }, startsAt: new Date().toISOString(), fingerprint: "0a1b2c3d4e5f6a7b" };
    const res = await call({ kind: "bearer", key: token.token }, `/api/sites/${site}/alerts/alertmanager`, { body: { version: "4", alerts: [alert] } });
    const [outcome] = (await expectJson(res, 200, AlertmanagerResponse)).alerts;
    expect(outcome).toMatchObject({ nodeId: "db-1", outcome: "escalated", reason: "machine db-1 is offline, so it cannot be investigated" });
    const done = await settled(site, outcome!.eventId!, ["escalated"]);
    expect(done.conversationId).toBeNull();
    expect(await recorded(key)).toEqual([]);
    const [hook] = await hooks(hookPath);
    expect((hook!.body as { text: string }).text).toContain("db-1");
  });

  it("fail and escalate, without a model call, when the site has no AI key", async () => {
    const { site, key, agents, hookPath } = await autonomySite(["web-1"]);
    expect((await call(BOOTSTRAP, `/api/sites/${site}/llm-key`, { method: "DELETE" })).status).toBe(200);
    await report(agents["web-1"]!, processEvent("api", "crashed"));
    const [e] = (await events(site)).events;
    const done = await settled(site, e!.id, ["failed"]);
    expect(done.reason).toContain("no AI key");
    expect(await hooks(hookPath)).toHaveLength(1);
    expect(await recorded(key)).toEqual([]);
  });

  it("count a give-up after an investigation of the same process as a crash loop to escalate, not a cooldown skip", async () => {
    const { site, key, agents, hookPath } = await autonomySite(["web-1"]);
    await script(key, HANGING);
    await report(agents["web-1"]!, processEvent("api", "crashed"));
    await report(agents["web-1"]!, processEvent("api", "crashed"));
    await report(agents["web-1"]!, processEvent("api", "gave_up"));
    const list = (await events(site)).events.reverse();
    expect(list.map((e) => [e.trigger, e.status, e.skipReason])).toEqual([
      ["crashed", "investigating", null],
      ["crashed", "skipped", "cooldown"],
      ["gave_up", "escalated", null],
    ]);
    await settled(site, list[2]!.id, ["escalated"]);
    expect(await hooks(hookPath)).toHaveLength(1);
    expect((await recorded(key)).length).toBe(1);
    await release(key);
  });

});
