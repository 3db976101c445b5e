import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { inject } from "vitest";
import { AutonomyEventListResponse, AutonomyEventView, type AutonomyStatus } from "../../protocol/autonomy.ts";
import type { ProcessEvent } from "../../protocol/processes.ts";
import type { SiteSettingsPatch } from "../../protocol/site-settings.ts";
import { HOOK_CONTROL, type ReceivedHook } from "../support/webhook-receiver-control.ts";
import { BOOTSTRAP, call, expectJson, newSite } from "./accounts-support.ts";
import { mockKey, setSiteKey } from "./chat-support.ts";
import { connectNode, registerNode, type FakeAgent } from "./support.ts";

/** Helpers for the autonomy tests: a site with machines, process events from its agents, the events API, the receiver. */

export function hubObject(site: string) {
  return env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
}

export function conversationObject(site: string, id: string) {
  return env.CONVERSATION.get(env.CONVERSATION.idFromName(`${site}/${id}`));
}

export async function patchSettings(site: string, patch: SiteSettingsPatch, caller = BOOTSTRAP): Promise<Response> {
  return call(caller, `/api/sites/${site}/settings`, { method: "PATCH", body: patch });
}

export interface AutonomySite {
  site: string;
  key: string;
  agents: Record<string, FakeAgent>;
  hookPath: string;
}

/**
 * A site with connected machines (ids as given), each supervising `processes` (only a process the hub configured can
 * start an investigation), a site key on the mock LLM, autonomy on (unless the patch says otherwise) and escalation
 * to the local receiver at a path of its own, and to one email address.
 */
export async function autonomySite(machines: string[], patch: SiteSettingsPatch = {}, processes: string[] = ["api"]): Promise<AutonomySite> {
  const site = await newSite();
  const agents: Record<string, FakeAgent> = {};
  for (const id of machines) {
    const agent = await connectNode(site, await registerNode(site, { name: id, id, tier: "root" }));
    for (const name of processes) {
      const added = await call(BOOTSTRAP, `/api/sites/${site}/nodes/${id}/processes`, { body: { name, command: `/usr/local/bin/${name}` } });
      if (added.status !== 201) throw new Error(`adding ${name} on ${id}: ${added.status} ${await added.text()}`);
      await agent.next("config_update");
    }
    agent.take("config_update");
    agents[id] = agent;
  }
  const key = mockKey("auto");
  await setSiteKey(BOOTSTRAP, site, key);
  const hookPath = `/hooks/${site}`;
  const res = await patchSettings(site, { autonomyEnabled: true, escalationEmails: ["oncall@example.test"], escalationWebhookUrl: hookUrl(hookPath), ...patch });
  if (res.status !== 200) throw new Error(`settings: ${res.status} ${await res.text()}`);
  return { site, key, agents, hookPath };
}

export function hookUrl(path: string): string {
  return `http://127.0.0.1:${inject("webhookReceiverPort")}${path}`;
}

export async function hooks(path: string): Promise<ReceivedHook[]> {
  const res = await fetch(`http://127.0.0.1:${inject("webhookReceiverPort")}${HOOK_CONTROL.received}?path=${encodeURIComponent(path)}`);
  return ((await res.json()) as { hooks: ReceivedHook[] }).hooks;
}

export function processEvent(name: string, kind: ProcessEvent["kind"], extra: Partial<ProcessEvent> = {}): ProcessEvent {
  return { id: `pe-${crypto.randomUUID()}`, name, kind, at: Date.now(), pid: 4242, exitCode: 1, uptimeMs: 1_200, ...extra };
}

/** The agent reports events in one frame; resolves once the hub acknowledged them (they are decided by then). */
export async function report(agent: FakeAgent, ...events: ProcessEvent[]): Promise<void> {
  agent.send({ type: "process_events", events });
  const ack = await agent.next("process_events_ack");
  agent.take("process_events_ack");
  if (ack.ids.length !== events.length) throw new Error(`acknowledged ${ack.ids.length} of ${events.length}`);
}

export async function events(site: string, query = ""): Promise<AutonomyEventListResponse> {
  return expectJson(await call(BOOTSTRAP, `/api/sites/${site}/autonomy/events${query}`), 200, AutonomyEventListResponse);
}

export async function eventOf(site: string, id: string): Promise<AutonomyEventView> {
  return expectJson(await call(BOOTSTRAP, `/api/sites/${site}/autonomy/events/${id}`), 200, AutonomyEventView);
}

/** Polls an event until it has one of `statuses` (and its escalation settled, unless told otherwise). */
export async function settled(site: string, id: string, statuses: AutonomyStatus[], timeoutMs = 10_000): Promise<AutonomyEventView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = await eventOf(site, id);
    const channels = [e.escalation.email.status, e.escalation.webhook.status];
    if (statuses.includes(e.status) && !channels.some((s) => s === "pending" || s === "sending")) return e;
    if (Date.now() > deadline) throw new Error(`event ${id} is ${e.status} (${channels.join(", ")}), not ${statuses.join(" or ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Moves an event's next check into the past and runs the site's alarm, as if that much time had gone by. */
export async function runChecks(site: string): Promise<void> {
  const stub = hubObject(site);
  await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("UPDATE autonomy_events SET check_at = ? WHERE check_at IS NOT NULL", Date.now() - 1));
  await runInDurableObject(stub, async (_i, state) => {
    await state.storage.setAlarm(Date.now());
  });
  await runDurableObjectAlarm(stub);
}
