import type { DirectiveRequest, DirectiveView, FanOutTarget, NodeView } from "../../protocol/api.ts";
import type { ActionName } from "../../protocol/directives.ts";
import type { DirectiveProgressMessage } from "../../protocol/node-messages.ts";
import { NODE_IN_PATH, type DeploymentEvent, type DeploymentKind, type DeploymentListQuery, type DeploymentSpec, type DeploymentState, type DeploymentView } from "../../protocol/roost-api.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { ActivityLog } from "./activity-log.ts";
import { EventStreams, type Presenter } from "./event-streams.ts";
import { resolveTargets } from "./fan-out-targets.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { DeploymentStore, LIVE_STATES, type DeploymentRecord, type NewTarget } from "./roost-deployment-store.ts";
import type { Requester } from "./requester.ts";
import type { RoostVersions } from "./roost-versions.ts";

/** How deployments reach machines: the site's directive machinery. */
export interface DeploymentLink {
  isOnline(nodeId: string): boolean;
  /** Sends a directive with a chosen id; its end comes back through `directiveEnded`. */
  start(directiveId: string, nodeId: string, req: DirectiveRequest, requester: Requester): Promise<HubResult<true>>;
}

const ACTION_OF: Record<DeploymentKind, ActionName> = { deploy: "roost.deploy", rollback: "roost.activate" };
const DEPLOYMENT_ACTIONS: ReadonlySet<string> = new Set(Object.values(ACTION_OF));
/** States in which no machine starts any more and the stream ends once the running ones are done. */
const FINAL_STATES: readonly DeploymentState[] = ["completed", "aborted"];

function share(part: number, whole: number): number {
  return whole === 0 ? 0 : (part / whole) * 100;
}

function percent(value: number): string {
  return `${Math.round(value * 10) / 10}%`;
}

/**
 * Roost deployments: one directive per machine, in two waves. The canary (the first share of the targets, online
 * machines first, at least one) goes alone; when it ends with enough successes the rest follow, as many at a time
 * as the concurrency allows; whenever too large a share of the machines tried so far has failed, nothing further
 * starts. A person may promote or abort at any time. Machines offline at their turn either wait for their next
 * connection (catch-up) or are skipped. Every change is stored first, then streamed to whoever watches.
 */
export class RoostDeployments {
  private readonly streams = new EventStreams<DeploymentEvent>();
  private readonly pumping = new Set<string>();
  private readonly pumpAgain = new Set<string>();

  constructor(
    private readonly store: DeploymentStore,
    private readonly versions: RoostVersions,
    private readonly registry: NodeRegistry,
    private readonly activity: ActivityLog,
    private readonly link: DeploymentLink,
  ) {}

  async create(
    kind: DeploymentKind,
    roost: string,
    spec: DeploymentSpec,
    requester: Requester,
    watch: boolean,
  ): Promise<HubResult<{ deploymentId: string; stream: ReadableStream<Uint8Array> | null }>> {
    const actor = requester.actor;
    const version = this.versions.version(roost, spec.version);
    if (!version.ok) return version;
    const targets = this.resolve(spec.target);
    if (!targets.ok) return targets;
    const nodes = targets.value;

    const id = `r-${crypto.randomUUID()}`;
    const canarySize = spec.canaryPercent > 0 ? Math.min(nodes.length, Math.max(1, Math.ceil((nodes.length * spec.canaryPercent) / 100))) : 0;
    // Online machines make the better canary: an offline one can tell nothing about the version.
    const ordered = [...nodes.filter((n) => this.link.isOnline(n.id)), ...nodes.filter((n) => !this.link.isOnline(n.id))];
    const canary = new Set(ordered.slice(0, canarySize).map((n) => n.id));
    const rows: NewTarget[] = [...ordered.filter((n) => canary.has(n.id)), ...ordered.filter((n) => !canary.has(n.id))].map((n) => ({
      nodeId: n.id,
      wave: canary.has(n.id) ? "canary" : "rest",
      status: "pending",
    }));
    const { version: _v, target: _t, path, ...options } = spec;
    const now = Date.now();
    this.store.insert(
      { id, kind, roost, version: spec.version, path, spec: { ...options, manifestSha256: version.value.manifestSha256, requestedByUser: requester.userId }, state: canarySize > 0 ? "canary" : "rolling", requestedBy: actor },
      rows,
      now,
    );
    this.activity.append({
      kind: "deployment",
      actor,
      message: `${kind === "deploy" ? "deployment" : "rollback"} ${id}: roost ${roost}@${spec.version} to ${nodes.length} machine(s) at ${path} by ${actor}${canarySize ? `, canary of ${canarySize}` : ", no canary"}`,
      data: { deploymentId: id, roost, version: spec.version, machines: nodes.length, canary: canarySize },
    });
    this.supersede(id, roost, path, nodes.map((n) => n.id), now);
    const stream = watch ? this.streams.open(id, undefined, [{ event: "snapshot", deployment: this.store.view(id, true)! }]) : null;
    await this.pump(id);
    return ok({ deploymentId: id, stream });
  }

  view(id: string): HubResult<DeploymentView> {
    const view = this.store.view(id, true);
    return view ? ok(view) : fail(404, "deployment_not_found", `deployment ${id} not found`);
  }

  list(q: DeploymentListQuery): DeploymentView[] {
    return this.store.list(q);
  }

  /** The deployment's events from now on, after a snapshot; a deployment already over gets its snapshot and end. */
  follow(id: string, present: Presenter<DeploymentEvent>): HubResult<ReadableStream<Uint8Array>> {
    const view = this.store.view(id, true);
    if (!view) return fail(404, "deployment_not_found", `deployment ${id} not found`);
    const stream = this.streams.open(id, present, [{ event: "snapshot", deployment: view }]);
    if (this.over(view)) this.streams.end(id, { event: "end", deployment: view });
    return ok(stream);
  }

  async promote(id: string, actor: string): Promise<HubResult<DeploymentView>> {
    const rec = this.store.record(id);
    if (!rec) return fail(404, "deployment_not_found", `deployment ${id} not found`);
    if (rec.state !== "canary" && rec.state !== "held") return fail(409, "not_promotable", `deployment ${id} is ${rec.state}; only a canary or a held deployment can be promoted`);
    this.setState(rec, "rolling", null);
    this.activity.append({ kind: "deployment", actor, message: `deployment ${id} promoted by ${actor}: the rest of the machines follow`, data: { deploymentId: id } });
    await this.pump(id);
    return this.view(id);
  }

  abort(id: string, actor: string): HubResult<DeploymentView> {
    const rec = this.store.record(id);
    if (!rec) return fail(404, "deployment_not_found", `deployment ${id} not found`);
    if (rec.state === "aborted") return fail(409, "already_aborted", `deployment ${id} is already aborted`);
    const counts = this.store.counts(id);
    if (rec.state === "completed" && counts.waiting + counts.pending === 0) return fail(409, "already_completed", `deployment ${id} has completed`);
    this.stop(rec, `aborted by ${actor}`);
    this.activity.append({ kind: "deployment", level: "warn", actor, message: `deployment ${id} aborted by ${actor}`, data: { deploymentId: id } });
    return this.view(id);
  }

  /** Called for every directive's end; acts on those a deployment sent (only its own actions need a look). */
  directiveEnded(directive: DirectiveView): void {
    if (!DEPLOYMENT_ACTIONS.has(directive.action)) return;
    const target = this.store.byDirective(directive.id);
    if (!target) return;
    const rec = this.store.record(target.deploymentId)!;
    const current = this.store.target(rec.id, target.nodeId);
    if (current?.status !== "running") return;
    const succeeded = directive.status === "done";
    const error = succeeded ? null : (directive.error ?? `ended ${directive.status}`);
    this.store.setStatus(rec.id, target.nodeId, succeeded ? "done" : "failed", error, Date.now());
    this.emitTarget(rec.id, target.nodeId);
    const data = directive.data?.kind === "roost" ? directive.data : null;
    this.activity.append({
      kind: "deployment",
      level: succeeded ? "info" : "warn",
      nodeId: target.nodeId,
      actor: rec.requestedBy,
      message: succeeded
        ? `roost ${rec.roost}@${rec.version} on ${target.nodeId}: done${data ? ` (${data.downloadedChunks} chunk(s), ${data.downloadedBytes} bytes downloaded)` : ""}`
        : `roost ${rec.roost}@${rec.version} on ${target.nodeId}: failed: ${error}`,
      data: { deploymentId: rec.id, directiveId: directive.id, status: directive.status },
    });
    this.evaluate(rec.id);
    void this.pump(rec.id);
  }

  /**
   * A machine's progress on the directive a deployment sent it; the answer is why it was refused, or null. A report
   * that arrives after the directive ended is too late to mean anything and changes nothing.
   */
  progress(nodeId: string, msg: DirectiveProgressMessage): string | null {
    const target = this.store.byDirective(msg.directiveId);
    if (!target) return `directive ${msg.directiveId} was not sent by a deployment`;
    if (target.nodeId !== nodeId) return `directive ${msg.directiveId} was not sent to this node`;
    if (this.store.setProgress(target.deploymentId, nodeId, msg.progress)) this.emitTarget(target.deploymentId, nodeId);
    return null;
  }

  /** A machine connected: deployments waiting for it may start it now. */
  nodeConnected(nodeId: string): void {
    for (const id of this.store.waitingOn(nodeId)) {
      this.store.setStatus(id, nodeId, "pending", null, Date.now());
      this.emitTarget(id, nodeId);
      void this.pump(id);
    }
  }

  /** Whether a node may download this chunk: only as part of a version a deployment sent it. */
  nodeMayFetchChunk(nodeId: string, hash: string): boolean {
    return this.store.nodeHasChunk(nodeId, hash);
  }

  nodeMayFetchManifest(nodeId: string, roost: string, version: number): boolean {
    return this.store.nodeHasVersion(nodeId, roost, version);
  }

  /** A deployment to `all` means every registered machine, offline ones too: they may catch up later. */
  private resolve(target: FanOutTarget): HubResult<NodeView[]> {
    return resolveTargets(this.registry, target, (all) => (all.length ? ok(all) : fail(404, "no_nodes", "the site has no registered machines")));
  }

  private supersede(id: string, roost: string, path: string, nodes: string[], now: number): void {
    const touched = new Set<string>();
    for (const old of this.store.supersededBy(id, roost, path, nodes)) {
      this.store.setStatus(old.deploymentId, old.nodeId, "skipped", `replaced by deployment ${id}`, now);
      this.emitTarget(old.deploymentId, old.nodeId);
      touched.add(old.deploymentId);
    }
    for (const old of touched) this.evaluate(old);
  }

  /** Starts as many machines as the deployment's state, wave and concurrency allow; never two pumps at once. */
  private async pump(id: string): Promise<void> {
    if (this.pumping.has(id)) {
      this.pumpAgain.add(id);
      return;
    }
    this.pumping.add(id);
    try {
      do {
        this.pumpAgain.delete(id);
        await this.pumpOnce(id);
      } while (this.pumpAgain.has(id));
    } finally {
      this.pumping.delete(id);
    }
  }

  private async pumpOnce(id: string): Promise<void> {
    const rec = this.store.record(id);
    if (!rec || rec.state === "held" || rec.state === "aborted") return;
    const waves = rec.state === "canary" ? (["canary"] as const) : (["canary", "rest"] as const);
    let room = rec.spec.concurrency - this.store.counts(id).running;
    for (const nodeId of this.store.targetsIn(id, ["pending"], waves)) {
      if (room <= 0) break;
      // A target started or stopped by something that ran meanwhile (an end, an abort) is left alone.
      const current = this.store.record(id)!;
      if (current.state === "aborted" || current.state === "held") break;
      if (!this.link.isOnline(nodeId)) {
        this.store.setStatus(id, nodeId, rec.spec.catchUp ? "waiting" : "skipped", rec.spec.catchUp ? null : "offline when its turn came", Date.now());
        this.emitTarget(id, nodeId);
        continue;
      }
      const capabilities = this.registry.get(nodeId)?.view.capabilities ?? [];
      if (!capabilities.includes(ACTION_OF[rec.kind])) {
        this.store.setStatus(id, nodeId, "failed", `the agent on ${nodeId} cannot do ${ACTION_OF[rec.kind]}; update it`, Date.now());
        this.emitTarget(id, nodeId);
        continue;
      }
      const directiveId = `d-${crypto.randomUUID()}`;
      this.store.started(id, nodeId, directiveId, Date.now());
      this.emitTarget(id, nodeId);
      room -= 1;
      // Every machine's directive is the requester's own, as if they had sent it: their history, their name.
      const requester: Requester = { actor: rec.requestedBy, userId: rec.spec.requestedByUser, confined: false };
      const started = await this.link.start(directiveId, nodeId, this.request(rec, nodeId), requester);
      if (!started.ok) {
        this.store.setStatus(id, nodeId, "failed", started.error.message, Date.now());
        this.emitTarget(id, nodeId);
      }
    }
    this.evaluate(id);
  }

  private request(rec: DeploymentRecord, nodeId: string): DirectiveRequest {
    const { spec } = rec;
    return {
      action: ACTION_OF[rec.kind],
      params: {
        deploymentId: rec.id,
        roost: rec.roost,
        version: rec.version,
        manifestSha256: spec.manifestSha256,
        // Node ids are a safe alphabet (no '/', no '.'), so the substitution cannot add a path component of its own.
        path: rec.path.replaceAll(NODE_IN_PATH, nodeId),
        keep: spec.keep,
        ...(spec.after ? { after: spec.after } : {}),
        afterTimeoutMs: spec.afterTimeoutMs,
        timeoutMs: spec.timeoutMs,
      },
    };
  }

  /** Applies the canary and failure rules to the deployment as it is now. */
  private evaluate(id: string): void {
    const rec = this.store.record(id);
    if (!rec) return;
    const c = this.store.counts(id);
    const attempted = c.done + c.failed;
    const failedShare = share(c.failed, attempted);
    if (LIVE_STATES.includes(rec.state) && c.failed > 0 && failedShare > rec.spec.abortAbovePercent) {
      const reason = `${c.failed} of ${attempted} machine(s) failed (${percent(failedShare)}, more than ${percent(rec.spec.abortAbovePercent)})`;
      this.stop(rec, reason);
      this.activity.append({ kind: "deployment", level: "error", message: `deployment ${id} stopped: ${reason}`, data: { deploymentId: id } });
    } else if (rec.state === "canary" && this.store.targetsIn(id, ["pending", "running"], ["canary"]).length === 0) {
      const tried = c.canaryDone + c.canaryFailed;
      const passed = share(c.canaryDone, tried);
      if (tried > 0 && passed >= rec.spec.promoteAtPercent) {
        this.setState(rec, "rolling", null);
        this.activity.append({ kind: "deployment", message: `deployment ${id}: canary passed (${c.canaryDone} of ${tried}); the rest follow`, data: { deploymentId: id } });
        void this.pump(id);
      } else {
        const reason =
          tried === 0
            ? "no canary machine could be reached; promote or abort"
            : `the canary succeeded on ${c.canaryDone} of ${tried} (${percent(passed)}, below ${percent(rec.spec.promoteAtPercent)}); promote or abort`;
        this.setState(rec, "held", reason);
        this.activity.append({ kind: "deployment", level: "warn", message: `deployment ${id} held: ${reason}`, data: { deploymentId: id } });
      }
    } else if ((rec.state === "rolling" || rec.state === "completed") && c.pending === 0 && c.running === 0) {
      if (rec.state === "rolling") {
        this.setState(rec, "completed", c.waiting ? `${c.waiting} machine(s) will get it when they connect` : null);
        this.activity.append({
          kind: "deployment",
          message: `deployment ${id} completed: ${c.done} done, ${c.failed} failed, ${c.skipped} skipped${c.waiting ? `, ${c.waiting} waiting to connect` : ""}`,
          data: { deploymentId: id },
        });
      } else {
        this.store.touch(id, Date.now());
      }
    }
    this.maybeEnd(id);
  }

  private stop(rec: DeploymentRecord, reason: string): void {
    const now = Date.now();
    for (const nodeId of this.store.skipUnstarted(rec.id, `deployment stopped: ${reason}`, now)) this.emitTarget(rec.id, nodeId);
    this.setState(rec, "aborted", reason);
    this.maybeEnd(rec.id);
  }

  private setState(rec: DeploymentRecord, state: DeploymentState, reason: string | null): void {
    this.store.setState(rec.id, state, reason, Date.now());
    rec.state = state;
    if (!this.streams.has(rec.id)) return;
    const { targets: _targets, ...deployment } = this.store.view(rec.id, false)!;
    this.streams.emit(rec.id, { event: "state", deployment });
  }

  private emitTarget(deploymentId: string, nodeId: string): void {
    if (!this.streams.has(deploymentId)) return;
    const target = this.store.target(deploymentId, nodeId);
    if (target) this.streams.emit(deploymentId, { event: "target", deploymentId, target });
  }

  private over(view: DeploymentView): boolean {
    return FINAL_STATES.includes(view.state) && view.counts.running === 0;
  }

  private maybeEnd(id: string): void {
    if (!this.streams.has(id)) return;
    const view = this.store.view(id, true)!;
    if (this.over(view)) this.streams.end(id, { event: "end", deployment: view });
  }
}
