import type { HubToNodeMessage } from "../../protocol/node-messages.ts";
import {
  launchText,
  MAX_PROCESSES_PER_NODE,
  patchedSpec,
  type ProcessEvent,
  type ProcessListResponse,
  type ProcessPatch,
  type ProcessSpec,
  type ProcessView,
  type SupervisionStatus,
} from "../../protocol/processes.ts";
import { redactedMark, redactText } from "../../protocol/redaction.ts";
import { evaluateProcess } from "../../protocol/tier-policy.ts";
import type { NodeView } from "../../protocol/api.ts";
import type { z } from "zod";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { ActivityLog } from "./activity-log.ts";
import { processStatusFor, type Viewer } from "./viewer-visibility.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { ProcessStore, type StoredProcess } from "./process-store.ts";
import { statusAfterEvent } from "./process-status.ts";

export interface ProcessHooks {
  /** Sends a frame to a node's live connection; false when it has none. */
  send(nodeId: string, message: HubToNodeMessage): boolean;
  /** A node's processes changed (configuration, status or an event): tell whoever watches. */
  changed(nodeId: string): void;
  /** Every new process event, once: duplicates never reach it. */
  onProcessEvent(nodeId: string, event: ProcessEvent): void;
}

/** How the command line reads in the activity log and in refusals. */
export function commandText(spec: Pick<ProcessSpec, "command" | "args" | "shell">): string {
  return spec.shell ? `sh -c ${JSON.stringify(spec.command)}` : [spec.command, ...spec.args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

/**
 * What a reader who may only read (a member, a read or chat key) sees of a process: arguments through the redactor
 * and no environment value at all, since environments are where services keep their passwords and keys.
 */
function redactedSpec(spec: ProcessSpec): ProcessSpec {
  const env = Object.fromEntries(Object.keys(spec.env).map((name) => [name, redactedMark("environment value")]));
  return { ...spec, command: redactText(spec.command), args: redactedArgs(spec.args), env };
}

/**
 * Each argument through the redactor, alone and after the one before it, so that the value of `--password x`, which
 * is only a secret because of its option, is hidden too.
 */
function redactedArgs(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    const own = redactText(arg);
    if (own !== arg || i === 0) return own;
    const pair = `${args[i - 1]} ${arg}`;
    return redactText(pair).endsWith(` ${arg}`) ? arg : redactedMark("secret option");
  });
}

/**
 * The hub's side of process supervision for one site: every machine's list of processes, validated against the
 * machine's tier by the one policy, versioned as a whole and pushed to the agent (on every connect and each change);
 * and the events agents report, recorded once each and handed to `onProcessEvent`.
 */
export class SiteProcesses {
  constructor(
    private readonly store: ProcessStore,
    private readonly registry: NodeRegistry,
    private readonly activity: ActivityLog,
    private readonly hooks: ProcessHooks,
  ) {}

  list(nodeId: string, viewer: Viewer): HubResult<ProcessListResponse> {
    const node = this.node(nodeId);
    if (!node.ok) return node;
    const report = this.store.supervision(nodeId);
    const statuses = new Map(report?.status.processes.map((p) => [p.name, p]) ?? []);
    const processes: ProcessView[] = this.store.list(nodeId).map((p) => ({
      name: p.spec.name,
      spec: viewer.confined ? redactedSpec(p.spec) : p.spec,
      status: statuses.has(p.spec.name) ? processStatusFor(statuses.get(p.spec.name)!, viewer) : null,
      updatedAt: p.updatedAt,
      updatedBy: p.updatedBy,
    }));
    return ok({
      nodeId,
      configVersion: this.store.version(nodeId),
      appliedVersion: report?.status.configVersion ?? null,
      reportedAt: report?.reportedAt ?? null,
      timeZone: report?.status.timeZone ?? null,
      processes,
      redacted: viewer.confined,
    });
  }

  get(nodeId: string, name: string): HubResult<StoredProcess> {
    const node = this.node(nodeId);
    if (!node.ok) return node;
    const found = this.store.get(nodeId, name);
    return found ? ok(found) : fail(404, "process_not_found", `no process ${name} on node ${nodeId}`);
  }

  add(nodeId: string, spec: ProcessSpec, actor: string): HubResult<ProcessView> {
    const node = this.node(nodeId);
    if (!node.ok) return node;
    if (this.store.get(nodeId, spec.name)) return fail(409, "process_exists", `node ${nodeId} already has a process named ${spec.name}`);
    if (this.store.count(nodeId) >= MAX_PROCESSES_PER_NODE) return fail(409, "too_many_processes", `node ${nodeId} already supervises ${MAX_PROCESSES_PER_NODE} processes, the most allowed`);
    const refused = this.refusal(node.value, spec);
    if (refused) return refused;
    this.store.put(nodeId, spec, actor, Date.now());
    this.changedConfig(nodeId, `process ${spec.name} added on node ${nodeId} by ${actor}: ${commandText(spec)} (${launchText(spec)})`, actor, { process: spec.name, change: "added" });
    return this.view(nodeId, spec.name);
  }

  update(nodeId: string, name: string, patch: z.output<typeof ProcessPatch>, actor: string): HubResult<ProcessView> {
    const current = this.get(nodeId, name);
    if (!current.ok) return current;
    const merged = patchedSpec(current.value.spec, patch);
    if (!merged.success) {
      const issue = merged.error.issues[0];
      return fail(400, "invalid_process", `${issue?.path.join(".") || "process"}: ${issue?.message ?? "invalid"}`);
    }
    const refused = this.refusal(this.registry.get(nodeId)!.view, merged.data);
    if (refused) return refused;
    if (JSON.stringify(merged.data) === JSON.stringify(current.value.spec)) return this.view(nodeId, name);
    this.store.put(nodeId, merged.data, actor, Date.now());
    const fields = Object.keys(patch).sort();
    this.changedConfig(nodeId, `process ${name} on node ${nodeId} changed by ${actor} (${fields.join(", ")}): ${commandText(merged.data)} (${launchText(merged.data)})`, actor, { process: name, change: "updated", fields });
    return this.view(nodeId, name);
  }

  remove(nodeId: string, name: string, actor: string): HubResult<{ name: string; removed: true }> {
    const current = this.get(nodeId, name);
    if (!current.ok) return current;
    this.store.remove(nodeId, name);
    this.changedConfig(nodeId, `process ${name} removed from node ${nodeId} by ${actor}`, actor, { process: name, change: "removed" });
    return ok({ name, removed: true });
  }

  /** Sends the node its list, if it ever had one; on every (re)connect and after each change. */
  pushConfig(nodeId: string): void {
    const config = this.store.config(nodeId);
    if (config) this.hooks.send(nodeId, { type: "config_update", processes: config });
  }

  /**
   * Events from an agent: each recorded once by id, the new ones handed to `onProcessEvent` in order. Returns every id
   * to acknowledge, repeats included, since the agent must stop sending those too.
   */
  received(nodeId: string, events: readonly ProcessEvent[]): string[] {
    const now = Date.now();
    let status = this.store.supervision(nodeId)?.status ?? null;
    let fresh = 0;
    for (const event of events) {
      if (!this.store.recordEvent(nodeId, event, now)) continue;
      fresh += 1;
      if (status) status = statusAfterEvent(status, event);
      this.hooks.onProcessEvent(nodeId, event);
    }
    if (fresh > 0) {
      if (status) this.store.saveSupervision(nodeId, status);
      this.hooks.changed(nodeId);
    }
    return events.map((e) => e.id);
  }

  /**
   * A heartbeat's report of the node's processes, kept without any process the node was not given: a node may write
   * any names into it, and those would reach every dashboard. True when the node's row must be written now.
   */
  reported(nodeId: string, status: SupervisionStatus, at: number): boolean {
    const names = this.store.names(nodeId);
    return this.store.report(nodeId, { ...status, processes: status.processes.filter((p) => names.has(p.name)) }, at);
  }

  /** What the live dashboard gets for a node. */
  live(nodeId: string): { configVersion: number; supervision: SupervisionStatus | null } {
    return { configVersion: this.store.version(nodeId), supervision: this.store.supervision(nodeId)?.status ?? null };
  }

  private node(nodeId: string): HubResult<NodeView> {
    const rec = this.registry.get(nodeId);
    return rec && rec.view.status !== "deregistered" ? ok(rec.view) : fail(404, "node_not_found", `node ${nodeId} not found`);
  }

  /**
   * The tier's verdict, as far as the hub can know it: the agent's running tier (or the registered one) and the
   * sandbox it reported. The agent checks again with the paths resolved on disk before each start.
   */
  private refusal(node: NodeView, spec: ProcessSpec): HubResult<never> | null {
    const tier = node.runningTier ?? node.tier;
    const decision = evaluateProcess(tier, spec, node.sandboxRoot ? { sandboxRoot: node.sandboxRoot } : {});
    return decision.allowed ? null : fail(403, "tier_refused", `node ${node.id} (tier ${tier}) may not supervise this: ${decision.reason}`);
  }

  private changedConfig(nodeId: string, message: string, actor: string, data: Record<string, unknown>): void {
    const version = this.store.bumpVersion(nodeId, Date.now());
    this.activity.append({ kind: "process", actor, nodeId, message, data: { ...data, configVersion: version } });
    this.pushConfig(nodeId);
    this.hooks.changed(nodeId);
  }

  private view(nodeId: string, name: string): HubResult<ProcessView> {
    const stored = this.store.get(nodeId, name)!;
    const status = this.store.supervision(nodeId)?.status.processes.find((p) => p.name === name) ?? null;
    return ok({ name, spec: stored.spec, status, updatedAt: stored.updatedAt, updatedBy: stored.updatedBy });
  }
}
