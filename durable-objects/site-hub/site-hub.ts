import { DurableObject } from "cloudflare:workers";
import type {
  ActivityPage,
  ActivityQuery,
  DirectiveListQuery,
  DirectiveListResponse,
  DirectiveRequest,
  DirectiveView,
  FanOutAggregate,
  FanOutTarget,
  NodeView,
} from "../../protocol/api.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { LiveCloseCode } from "../../protocol/live-messages.ts";
import { PING_FRAME, PONG_FRAME } from "../../protocol/limits.ts";
import type { MetricsHistory, MetricsHistoryQuery } from "../../protocol/metrics-history.ts";
import type { SiteSettings, SiteSettingsPatch } from "../../protocol/site-settings.ts";
import type { ProcessEventsMessage } from "../../protocol/node-messages.ts";
import type { ProcessEvent, ProcessListResponse, ProcessOperation, ProcessPatch, ProcessSpec, ProcessView } from "../../protocol/processes.ts";
import type { z } from "zod";
import { formatNodeToken, tokenPrefix } from "../../protocol/node-token.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import type { Env } from "../../worker/env.ts";
import { DIRECTORY_NAME } from "../directory/directory.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import { randomHex, sha256Hex } from "../shared/secrets.ts";
import { closeMatchingSockets, type SocketMatch } from "../shared/user-sockets.ts";
import { ActivityLog } from "./activity-log.ts";
import { DirectiveDispatcher } from "./directive-dispatcher.ts";
import { DirectiveStore } from "./directive-store.ts";
import { activityFor, directiveFor, type Viewer } from "./directive-visibility.ts";
import { EventStreams } from "./event-streams.ts";
import { isViewer, LiveViewers, VIEWER_PATH, viewerOwner } from "./live-viewers.ts";
import { MetricsHistoryStore } from "./metrics-history.ts";
import { NodeActivityQuota } from "./node-activity-quota.ts";
import { NodeConnections } from "./node-connections.ts";
import { idFromName } from "./node-ids.ts";
import { NodeRegistry } from "./node-registry.ts";
import { processEventActivity } from "./process-activity.ts";
import { ProcessStore } from "./process-store.ts";
import type { Requester } from "./requester.ts";
import { migrate, SITE_ACCESS_VERSION } from "./schema.ts";
import { SiteAccess, type LegacySite, type SiteAccessInfo, type SiteMember } from "./site-access.ts";
import { SiteProcesses } from "./site-processes.ts";
import { SiteSettingsStore } from "./site-settings-store.ts";

export interface IssuedToken {
  node: NodeView;
  token: string;
}

export interface NodeRegistration {
  name: string;
  id?: string;
  group?: string;
  tier: CapabilityTier;
}

/**
 * One per site: the site's nodes, their live sockets, directives and activity log, all in the object's own
 * SQLite storage. The Worker authenticates and authorises; every method here trusts its caller's identity
 * (passed as `actor` for the record) but validates the state it is asked to change.
 */
export class SiteHub extends DurableObject<Env> {
  private readonly registry: NodeRegistry;
  private readonly activity: ActivityLog;
  private readonly connections: NodeConnections;
  private readonly directives: DirectiveDispatcher;
  private readonly viewers: LiveViewers;
  private readonly metrics: MetricsHistoryStore;
  private readonly settings: SiteSettingsStore;
  private readonly siteAccess: SiteAccess;
  /** The activity log for entries a node causes by itself, within its hourly quota. */
  private readonly nodeActivity: NodeActivityQuota;
  private readonly processes: SiteProcesses;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const before = ctx.storage.transactionSync(() => migrate(ctx.storage.sql));
    this.siteAccess = new SiteAccess(ctx.storage.sql, {
      legacy: (site) => env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME)).legacySite(site),
      accessChanged: (userId) => closeMatchingSockets(ctx, { userId }, LiveCloseCode.ACCESS_CHANGED, "access changed"),
    });
    // An object whose storage predates sites keeping their own members learns them from the Directory.
    if (before > 0 && before < SITE_ACCESS_VERSION) this.siteAccess.markPending();
    this.registry = new NodeRegistry(ctx.storage.sql, (id) => this.viewers.nodeChanged(id));
    this.viewers = new LiveViewers(ctx, this.registry);
    this.metrics = new MetricsHistoryStore(ctx.storage.sql);
    this.activity = new ActivityLog(ctx.storage.sql);
    this.settings = new SiteSettingsStore(ctx.storage.sql);
    const store = new DirectiveStore(ctx.storage.sql);
    const streams = new EventStreams();
    // The dispatcher and the connections need each other; the closures break the construction cycle.
    this.nodeActivity = new NodeActivityQuota(ctx.storage.sql, this.activity);
    this.connections = new NodeConnections(ctx, this.registry, this.nodeActivity, {
      onWorkMessage: (nodeId, msg) => (msg.type === "process_events" ? this.processEventsFrom(nodeId, msg) : this.directives.onWorkMessage(nodeId, msg)),
      onNodeGone: (nodeId, reason) => this.directives.onNodeGone(nodeId, reason),
      nextDeadline: () => this.directives.nextDeadline(),
      onMetrics: (nodeId, metrics, at) => this.metrics.record(nodeId, metrics, at),
      onRegistered: (nodeId) => this.processes.pushConfig(nodeId),
      onSupervision: (nodeId) => this.viewers.processesChanged(nodeId, this.processes.live(nodeId)),
    });
    this.processes = new SiteProcesses(new ProcessStore(ctx.storage.sql), this.registry, this.activity, {
      send: (nodeId, msg) => this.connections.send(nodeId, msg),
      changed: (nodeId) => this.viewers.processesChanged(nodeId, this.processes.live(nodeId)),
      onProcessEvent: (nodeId, event) => this.onProcessEvent(nodeId, event),
    });
    this.directives = new DirectiveDispatcher(
      store,
      this.registry,
      this.activity,
      streams,
      {
        send: (nodeId, msg) => this.connections.send(nodeId, msg),
        isOnline: (nodeId) => this.connections.socketOf(nodeId) !== null,
        scheduleSweep: (at) => this.connections.scheduleSweep(at),
      },
      () => this.settings.get().readablePaths,
    );
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.connections.reconcileAfterRestart();
  }

  // ---- agent and dashboard sockets (hibernation API) ----

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === VIEWER_PATH) return this.viewers.accept(viewerOwner(url));
    return this.connections.accept(request);
  }

  // ---- who may reach the site (RPC; see SiteAccess) ----

  /** Whether the site exists and the caller's role on it: read by every authorised request on the site. */
  access(site: string, userId: string | null): Promise<SiteAccessInfo> {
    return this.siteAccess.access(site, userId);
  }

  siteCreated(site: string, createdAt: number): Promise<void> {
    return this.siteAccess.created(site, createdAt);
  }

  setMember(site: string, member: SiteMember): Promise<void> {
    return this.siteAccess.setMember(site, member);
  }

  removeMember(site: string, userId: string): Promise<void> {
    return this.siteAccess.removeMember(site, userId);
  }

  importSite(site: string, createdAt: number, members: SiteMember[]): void {
    const legacy: LegacySite = { createdAt, members };
    this.siteAccess.import(site, legacy);
  }

  /** Closes the dashboards' live sockets of a person, a session or an API key (signed out, removed, demoted). */
  closeUserSockets(match: SocketMatch, code: number, reason: string): number {
    return closeMatchingSockets(this.ctx, match, code, reason);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (isViewer(this.ctx, ws)) return;
    await this.connections.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    if (isViewer(this.ctx, ws)) return this.viewers.closed(ws, code, reason);
    this.connections.closed(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    if (isViewer(this.ctx, ws)) return this.viewers.closed(ws, 1006, "socket error");
    this.connections.closed(ws, 1006, "socket error");
  }

  override async alarm(): Promise<void> {
    this.directives.expireOverdue(Date.now());
    await this.connections.sweep();
  }

  // ---- nodes (RPC) ----

  async registerNode(input: NodeRegistration, actor: string): Promise<HubResult<IssuedToken>> {
    if (input.id) {
      const existing = this.registry.get(input.id);
      if (existing && existing.view.status !== "deregistered") return fail(409, "node_exists", `node ${input.id} is already registered`);
    }
    const id = input.id ?? idFromName(input.name, (candidate) => this.registry.exists(candidate));
    const token = formatNodeToken(id, randomHex(32));
    const hash = await sha256Hex(token);
    // Re-checked after the await: another registration may have taken the id meanwhile.
    const existing = this.registry.get(id);
    if (existing && existing.view.status !== "deregistered") return fail(409, "node_exists", `node ${id} is already registered`);
    this.registry.upsert(
      { id, name: input.name, group: input.group ?? null, tier: input.tier, tokenHash: hash, tokenPrefix: tokenPrefix(token) },
      Date.now(),
    );
    this.activity.append({
      kind: "node",
      actor,
      nodeId: id,
      message: `node ${id} ${existing ? "re-registered" : "registered"} by ${actor} (tier ${input.tier}${input.group ? `, group ${input.group}` : ""})`,
    });
    return ok({ node: this.registry.get(id)!.view, token });
  }

  listNodes(): NodeView[] {
    return this.registry.list().map((r) => r.view);
  }

  getNode(id: string): HubResult<NodeView> {
    const rec = this.registry.get(id);
    return rec ? ok(rec.view) : fail(404, "node_not_found", `node ${id} not found`);
  }

  deregisterNode(id: string, actor: string): HubResult<NodeView> {
    const rec = this.registry.get(id);
    if (!rec) return fail(404, "node_not_found", `node ${id} not found`);
    if (rec.view.status === "deregistered") return fail(409, "already_deregistered", `node ${id} is already deregistered`);
    this.connections.evict(id, CloseCode.DEREGISTERED, `deregistered by ${actor}`);
    this.registry.markDeregistered(id, Date.now());
    this.activity.append({ kind: "node", actor, nodeId: id, message: `node ${id} deregistered by ${actor}` });
    return ok(this.registry.get(id)!.view);
  }

  async rekeyNode(id: string, actor: string): Promise<HubResult<IssuedToken>> {
    const token = formatNodeToken(id, randomHex(32));
    const hash = await sha256Hex(token);
    const rec = this.registry.get(id);
    if (!rec) return fail(404, "node_not_found", `node ${id} not found`);
    if (rec.view.status === "deregistered") return fail(410, "deregistered", `node ${id} is deregistered; register it again`);
    this.registry.setToken(id, hash, tokenPrefix(token));
    this.connections.evict(id, CloseCode.TOKEN_ROTATED, `token rotated by ${actor}`);
    this.activity.append({ kind: "node", actor, nodeId: id, message: `token of node ${id} rotated by ${actor}` });
    return ok({ node: this.registry.get(id)!.view, token });
  }

  metricsHistory(id: string, query: MetricsHistoryQuery): HubResult<MetricsHistory> {
    if (!this.registry.exists(id)) return fail(404, "node_not_found", `node ${id} not found`);
    return ok(this.metrics.history(id, query.since, Date.now()));
  }

  queryActivity(query: ActivityQuery, viewer: Viewer): ActivityPage {
    const page = this.activity.query(query);
    return { ...page, entries: page.entries.map((e) => activityFor(e, viewer)) };
  }

  /** Access events of this site (invites, members, roles), recorded by the Directory. */
  recordAccess(entry: { actor: string | null; message: string; data?: Record<string, unknown> }): void {
    this.activity.append({ kind: "access", ...entry });
  }

  // ---- settings (RPC) ----

  getSettings(): SiteSettings {
    return this.settings.get();
  }

  /** Applies an admin's validated change and records every setting it changed in the activity log. */
  updateSettings(patch: SiteSettingsPatch, actor: string): SiteSettings {
    const changes = this.settings.update(patch, actor, Date.now());
    for (const change of changes) {
      this.activity.append({
        kind: "settings",
        actor,
        message: `setting ${change.name} changed by ${actor} from ${JSON.stringify(change.from)} to ${JSON.stringify(change.to)}`,
        data: { setting: change.name, from: change.from, to: change.to },
      });
    }
    return this.settings.get();
  }

  // ---- supervised processes (RPC): the routes, the CLI (through them) and the chat's hub tools call these ----

  listProcesses(nodeId: string, viewer: Viewer): HubResult<ProcessListResponse> {
    return this.processes.list(nodeId, viewer);
  }

  /** Adds a process to a node's list (validated whole, and against the node's tier) and sends the agent the new list. */
  addProcess(nodeId: string, spec: ProcessSpec, actor: string): HubResult<ProcessView> {
    return this.processes.add(nodeId, spec, actor);
  }

  updateProcess(nodeId: string, name: string, patch: z.output<typeof ProcessPatch>, actor: string): HubResult<ProcessView> {
    return this.processes.update(nodeId, name, patch, actor);
  }

  removeProcess(nodeId: string, name: string, actor: string): HubResult<{ name: string; removed: true }> {
    return this.processes.remove(nodeId, name, actor);
  }

  /**
   * Starts, stops or restarts a configured process, as a directive to its agent (recorded and tier-checked like any
   * other). The stream ends with the directive's result; its data holds the process's state afterwards.
   */
  async controlProcess(
    nodeId: string,
    name: string,
    operation: ProcessOperation,
    requester: Requester,
  ): Promise<HubResult<{ directiveId: string; stream: ReadableStream<Uint8Array> }>> {
    const found = this.processes.get(nodeId, name);
    if (!found.ok) return found;
    // A stop may wait out the process's grace period before SIGKILL; the directive may take that long and a bit.
    const timeoutMs = (operation === "start" ? 0 : found.value.spec.stopGraceSeconds * 1000) + 60_000;
    return this.directives.runOne(nodeId, { action: `supervised.${operation}`, params: { name }, timeoutMs }, requester);
  }

  /** The last lines of a process's log on its machine, read by a directive to its agent. */
  async processLogs(nodeId: string, name: string, lines: number, requester: Requester): Promise<HubResult<{ directiveId: string; stream: ReadableStream<Uint8Array> }>> {
    const found = this.processes.get(nodeId, name);
    if (!found.ok) return found;
    return this.directives.runOne(nodeId, { action: "supervised.logs", params: { name, lines } }, requester);
  }

  private processEventsFrom(nodeId: string, msg: ProcessEventsMessage): null {
    const ids = this.processes.received(nodeId, msg.events);
    this.connections.send(nodeId, { type: "process_events_ack", ids });
    return null;
  }

  /**
   * THE hook for process events: called once for each event an agent reports (repeats are dropped by id before it),
   * in the order they happened, after the event is recorded. It writes the activity log entry; the live dashboards
   * are updated once per batch. Autonomous investigations of crashes, failed starts and give-ups start here.
   */
  private onProcessEvent(nodeId: string, event: ProcessEvent): void {
    // Reported by the node itself, so written within the node's hourly quota like its connection's entries.
    this.nodeActivity.append(processEventActivity(nodeId, event));
  }

  // ---- directives (RPC) ----

  /** Runs one action on one node for `requester`, who may be confined to the site's readable paths. */
  runDirective(
    nodeId: string,
    req: DirectiveRequest,
    requester: Requester,
  ): Promise<HubResult<{ directiveId: string; stream: ReadableStream<Uint8Array> }>> {
    return this.directives.runOne(nodeId, req, requester);
  }

  fanOut(
    req: DirectiveRequest & { target: FanOutTarget; concurrency: number },
    requester: Requester,
  ): Promise<HubResult<{ fanoutId: string; stream: ReadableStream<Uint8Array> }>> {
    return this.directives.fanOut(req, requester);
  }

  getDirective(id: string, viewer: Viewer): HubResult<DirectiveView> {
    const rec = this.directives.get(id);
    return rec.ok ? ok(directiveFor(rec.value, viewer)) : rec;
  }

  listDirectives(query: DirectiveListQuery, viewer: Viewer): DirectiveListResponse {
    return this.directives.list(query, viewer);
  }

  cancelDirective(id: string, requester: Requester): HubResult<DirectiveView> {
    const done = this.directives.cancel(id, requester.actor);
    return done.ok ? this.getDirective(id, requester) : done;
  }

  getFanOut(id: string): HubResult<FanOutAggregate> {
    return this.directives.fanOutStatus(id);
  }

  cancelFanOut(id: string, actor: string): HubResult<FanOutAggregate> {
    return this.directives.cancelFanOut(id, actor);
  }
}
