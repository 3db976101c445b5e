import { DurableObject } from "cloudflare:workers";
import type { ConversationListResponse, ConversationSummary } from "../../protocol/chat.ts";
import type {
  ActivityPage,
  ActivityQuery,
  DirectiveListQuery,
  DirectiveListResponse,
  DirectiveRequest,
  DirectiveView,
  FanOutAggregate,
  FanOutTarget,
  FanOutResponse,
  NodeView,
  RunRecord,
} from "../../protocol/api.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { HUB_ONLY_ACTIONS } from "../../protocol/directives.ts";
import { DEFAULT_SITE } from "../../protocol/identifiers.ts";
import { LiveCloseCode } from "../../protocol/live-messages.ts";
import { PING_FRAME, PONG_FRAME } from "../../protocol/limits.ts";
import type { MetricsHistory, MetricsHistoryQuery } from "../../protocol/metrics-history.ts";
import {
  ADMIN_ONLY_SETTINGS,
  redactedWebhookUrl,
  type AlertmanagerPayload,
  type AlertmanagerResponse,
  type AlertTokenView,
  type AutonomyEventListQuery,
  type AutonomyEventListResponse,
  type AutonomyEventView,
  type CreatedAlertToken,
} from "../../protocol/autonomy.ts";
import type {
  CommitRequest,
  DeploymentEvent,
  DeploymentKind,
  DeploymentListQuery,
  DeploymentSpec,
  DeploymentView,
  RoostView,
  VersionView,
} from "../../protocol/roost-api.ts";
import type { ManifestEntry } from "../../protocol/roost-manifest.ts";
import type { SiteSettings, SiteSettingsPatch } from "../../protocol/site-settings.ts";
import { isLoopbackWebhook } from "../../protocol/webhook-url.ts";
import type { ProcessEventsMessage } from "../../protocol/node-messages.ts";
import type { ProcessEvent, ProcessListResponse, ProcessOperation, ProcessPatch, ProcessSpec, ProcessView } from "../../protocol/processes.ts";
import type { z } from "zod";
import { formatNodeToken, tokenPrefix } from "../../protocol/node-token.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import type { Env } from "../../worker/env.ts";
import { DIRECTORY_NAME } from "../directory/directory.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import { LazyTables } from "../shared/lazy-tables.ts";
import { LlmKeyRows, type StoredLlmKey } from "../shared/llm-key-rows.ts";
import { randomHex, sha256Hex } from "../shared/secrets.ts";
import type { InvestigationReport } from "../conversation/investigation.ts";
import { closeSocketsAt } from "../shared/socket-holders.ts";
import { closeMatchingSockets, type SocketHolder, type SocketMatch } from "../shared/user-sockets.ts";
import { ActivityLog, type ActivityReader } from "./activity-log.ts";
import { AlertTokens } from "./autonomy/alert-tokens.ts";
import { Autonomy } from "./autonomy/autonomy.ts";
import { AutonomyStore } from "./autonomy/autonomy-store.ts";
import { Escalator } from "./autonomy/escalator.ts";
import { processTrigger } from "./autonomy/triggers.ts";
import { ConversationIndex } from "./conversation-index.ts";
import { DirectiveDispatcher, type DirectiveOptions } from "./directive-dispatcher.ts";
import { DirectiveStore } from "./directive-store.ts";
import { activityFor, directiveFor, runFor, type Viewer } from "./viewer-visibility.ts";
import { deploymentEventFor, deploymentFor } from "./roost-visibility.ts";
import { EventStreams } from "./event-streams.ts";
import { LiveViewers, VIEWER_PATH, viewerOwner, viewerRights } from "./live-viewers.ts";
import { MetricsHistoryStore } from "./metrics-history.ts";
import { NodeActivityQuota } from "./node-activity-quota.ts";
import { NodeConnections } from "./node-connections.ts";
import { idFromName } from "./node-ids.ts";
import { NodeRegistry, type MachineFilter } from "./node-registry.ts";
import { liveState, nodeStateOf } from "./node-socket.ts";
import { processEventActivity } from "./process-activity.ts";
import { ProcessStore } from "./process-store.ts";
import type { Requester } from "./requester.ts";
import { DeploymentStore } from "./roost-deployment-store.ts";
import { RoostDeployments } from "./roost-deployments.ts";
import { RoostVersions } from "./roost-versions.ts";
import { migrate, SITE_ACCESS_VERSION } from "./schema.ts";
import { ACCESS_CHANGED, SiteAccess, type LegacySite, type SiteAccessInfo, type SiteMember } from "./site-access.ts";
import { SiteProcesses } from "./site-processes.ts";
import { SiteFacts } from "./site-facts.ts";
import { SiteSettingsStore } from "./site-settings-store.ts";
import { checkNodeToken, INVALID_NODE_TOKEN } from "./token-check.ts";

/** The site's LLM key is the one row of its table. */
const SITE_KEY_OWNER = "site";

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
  private readonly storage: LazyTables;
  private readonly siteAccess: SiteAccess;
  /** The activity log for entries a node causes by itself, within its hourly quota. */
  private readonly nodeActivity: NodeActivityQuota;
  private readonly processes: SiteProcesses;
  private readonly roosts: RoostVersions;
  private readonly deployments: RoostDeployments;
  private readonly siteKey: LlmKeyRows;
  private readonly conversations: ConversationIndex;
  private readonly facts: SiteFacts;
  private readonly alertTokens: AlertTokens;
  private readonly autonomy: Autonomy;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.storage = new LazyTables(ctx.storage, migrate);
    const sql = this.storage.sql;
    this.siteAccess = new SiteAccess(sql, {
      legacy: (site) => env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME)).legacySite(site),
      accessChanged: async (userId, holders) => {
        const match = { userId };
        closeMatchingSockets(ctx, match, LiveCloseCode.ACCESS_CHANGED, "access changed");
        await Promise.all(
          holders.map((holder) =>
            closeSocketsAt(env, holder, match, LiveCloseCode.ACCESS_CHANGED, "access changed").catch((err: unknown) =>
              console.error("could not close live sockets", holder.kind, holder.name, err instanceof Error ? err.message : String(err)),
            ),
          ),
        );
      },
    });
    // An object whose storage predates sites keeping their own members learns them from the Directory.
    const before = this.storage.versionAtWake;
    if (before > 0 && before < SITE_ACCESS_VERSION) this.siteAccess.markPending();
    this.registry = new NodeRegistry(
      sql,
      (id) => this.viewers.nodeChanged(id),
      (connId) => liveState(ctx, connId),
    );
    this.viewers = new LiveViewers(ctx, this.registry);
    this.metrics = new MetricsHistoryStore(sql);
    this.activity = new ActivityLog(sql, (stored) => this.viewers.activityChanged(stored));
    this.settings = new SiteSettingsStore(sql);
    this.siteKey = new LlmKeyRows(sql, "site_llm_key");
    this.conversations = new ConversationIndex(sql);
    this.facts = new SiteFacts(sql);
    this.alertTokens = new AlertTokens(sql);
    const autonomyStore = new AutonomyStore(sql);
    const escalator = new Escalator(
      autonomyStore,
      this.activity,
      {
        email: env.ESCALATION_EMAIL,
        from: env.CORTEX_EMAIL_FROM ?? "cortex-hub@localhost",
        allowLoopbackWebhooks: env.CORTEX_ALLOW_LOOPBACK_WEBHOOKS === "1",
        publicUrl: () => env.CORTEX_PUBLIC_URL?.replace(/\/+$/, "") ?? this.facts.get("origin"),
      },
      () => this.site,
    );
    this.autonomy = new Autonomy(autonomyStore, this.activity, escalator, {
      site: () => this.site,
      settings: () => this.settings.get(),
      node: (id) => this.registry.get(id)?.view ?? null,
      nodes: () => this.registry.list().map((r) => r.view),
      isOnline: (id) => this.connections.socketOf(id) !== null,
      hasSiteKey: () => this.siteKey.get(SITE_KEY_OWNER) !== null,
      conversation: (id) => env.CONVERSATION.get(env.CONVERSATION.idFromName(`${this.site}/${id}`)),
      transaction: (fn) => this.storage.transaction(fn),
      scheduleCheck: (at) => this.connections.scheduleSweep(at),
      background: (work) =>
        ctx.waitUntil(work.catch((error: unknown) => console.error("autonomy:", error instanceof Error ? (error.stack ?? error.message) : String(error)))),
    });
    const store = new DirectiveStore(sql);
    const processStore = new ProcessStore(sql);
    const streams = new EventStreams();
    // The dispatcher and the connections need each other; the closures break the construction cycle.
    this.nodeActivity = new NodeActivityQuota(sql, this.activity);
    this.connections = new NodeConnections(ctx, this.registry, this.nodeActivity, {
      siteExists: () => {
        if (this.storage.blank) return false;
        // The runtime may wake an object without its name (seen after a restart, for an agent's socket): one with
        // tables is then taken for a site, as before this check, rather than refusing every node of a real one.
        const name = ctx.id.name;
        return name === undefined || this.siteAccess.known(name);
      },
      onWorkMessage: (nodeId, msg) => {
        if (msg.type === "process_events") return this.processEventsFrom(nodeId, msg);
        if (msg.type === "directive_progress") return this.deployments.progress(nodeId, msg);
        return this.directives.onWorkMessage(nodeId, msg);
      },
      onWorkMessages: (nodeId, messages) => {
        const refused: string[] = [];
        for (const msg of messages) {
          const why = msg.type === "directive_progress" ? this.deployments.progress(nodeId, msg) : null;
          if (why) refused.push(why);
        }
        return [...refused, ...this.directives.onWorkMessages(nodeId, messages.filter((m) => m.type !== "directive_progress"))];
      },
      onNodeGone: (nodeId, reason) => this.directives.onNodeGone(nodeId, reason),
      nextDeadline: () => earliest(this.directives.nextDeadline(), this.autonomy.nextCheck()),
      onMinute: (nodeId, minute, now) => this.metrics.add(nodeId, minute, now),
      writeHeartbeat: (nodeId, at, metrics) => this.registry.recordHeartbeat(nodeId, metrics, at, processStore.takeUnwritten(nodeId)),
      onRegistered: (nodeId) => {
        this.processes.pushConfig(nodeId);
        this.deployments.nodeConnected(nodeId);
      },
      onSupervision: (nodeId, status, at) => {
        const due = this.processes.reported(nodeId, status, at);
        this.viewers.processesReported(nodeId, () => this.processes.live(nodeId));
        return due;
      },
      onBeat: (beat) => this.viewers.heartbeat(beat),
      onLiveChange: (nodeId) => this.viewers.nodeChanged(nodeId),
    });
    this.processes = new SiteProcesses(processStore, this.registry, this.activity, {
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
      (view) => this.deployments.directiveEnded(view),
    );
    this.roosts = new RoostVersions(sql, env.ROOST, this.activity);
    this.deployments = new RoostDeployments(new DeploymentStore(sql), this.roosts, this.registry, this.activity, {
      isOnline: (nodeId) => this.connections.socketOf(nodeId) !== null,
      start: (directiveId, nodeId, req, requester) => this.directives.runDetached(directiveId, nodeId, req, requester),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    if (this.storage.blank) return;
    this.connections.reconcileAfterRestart();
    this.autonomy.recoverAfterRestart();
  }

  /** The site's id: the name this object is addressed by. */
  private get site(): string {
    const name = this.ctx.id.name;
    if (!name) throw new Error("a SiteHub must be addressed by its site's name");
    return name;
  }

  // ---- agent and dashboard sockets (hibernation API) ----

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === VIEWER_PATH) return this.viewers.accept(viewerOwner(url), viewerRights(url));
    return this.connections.accept(request);
  }

  // ---- who may reach the site (RPC; see SiteAccess) ----

  /** Whether the site exists and the caller's role on it: read by every authorised request on the site. */
  access(site: string, userId: string | null): Promise<SiteAccessInfo> {
    // Any signed-in caller may name any site; a name nobody created is answered without storing anything.
    if (this.storage.blank && site !== DEFAULT_SITE) return Promise.resolve({ exists: false, role: null, version: this.siteAccess.version });
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

  /** Notes that another object of the site (a conversation) holds a live socket of this person. */
  noteSocketHolder(userId: string, holder: SocketHolder): void {
    this.siteAccess.noteHolder(userId, holder, Date.now());
  }

  /** Closes the dashboards' live sockets of a person, a session or an API key (signed out, removed, demoted). */
  closeUserSockets(match: SocketMatch, code: number, reason: string): number {
    return closeMatchingSockets(this.ctx, match, code, reason);
  }

  /** A dashboard viewer's messages are ignored: it only listens. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const state = nodeStateOf(ws);
    if (state) await this.connections.message(ws, state, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    if (!nodeStateOf(ws)) return this.viewers.closed(ws, code, reason);
    this.connections.closed(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    if (!nodeStateOf(ws)) return this.viewers.closed(ws, 1006, "socket error");
    this.connections.closed(ws, 1006, "socket error");
  }

  override async alarm(): Promise<void> {
    this.connections.alarmRunning();
    this.directives.expireOverdue(Date.now());
    await this.autonomy.sweep(Date.now());
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

  /** A page of the machines a filter matches, by name, and how many match (the chat's machine list). */
  findNodes(filter: MachineFilter, limit: number): { total: number; nodes: NodeView[] } {
    const { total, records } = this.registry.find(filter, limit);
    return { total, nodes: records.map((r) => r.view) };
  }

  /** How many of the site's machines are connected now. */
  onlineNodeCount(): number {
    return this.registry.connectedCount();
  }

  /** Which of the site's machines are connected now (a chat call to every machine is pinned to these). */
  onlineNodeIds(): string[] {
    return this.registry.connectedIds();
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

  /** The per-machine "AI tools allowed" switch: off refuses every chat tool call to the machine. */
  setAiTools(id: string, allowed: boolean, actor: string): HubResult<NodeView> {
    const rec = this.registry.get(id);
    if (!rec || rec.view.status === "deregistered") return fail(404, "node_not_found", `node ${id} not found`);
    if (rec.view.aiToolsAllowed !== allowed) {
      this.registry.setAiTools(id, allowed);
      this.activity.append({ kind: "chat", actor, nodeId: id, message: `AI tools ${allowed ? "allowed" : "turned off"} on node ${id} by ${actor}` });
    }
    return ok(this.registry.get(id)!.view);
  }

  metricsHistory(id: string, query: MetricsHistoryQuery): HubResult<MetricsHistory> {
    if (!this.registry.exists(id)) return fail(404, "node_not_found", `node ${id} not found`);
    const connId = this.registry.get(id)?.connId;
    return ok(this.metrics.history(id, query, Date.now(), connId ? (liveState(this.ctx, connId)?.minute ?? null) : null));
  }

  /** The page `reader` may see: access events only for admins and their subject, agent-written text redacted for the confined. */
  queryActivity(query: ActivityQuery, reader: ActivityReader): ActivityPage {
    const page = this.activity.query(query, reader);
    return { ...page, entries: page.entries.map((e) => activityFor(e, reader)) };
  }

  /**
   * Access events that concern this site (sign-ins of its people, keys, invites, members, roles), recorded by the
   * Directory. Only the site's admins and the person an event is about (`subject`) read them.
   */
  recordAccess(entry: { level?: "info" | "warn"; actor: string | null; message: string; data?: Record<string, unknown>; subject?: string | null }): void {
    this.activity.append({ kind: "access", audience: "admins", ...entry });
  }

  // ---- settings (RPC) ----

  getSettings(): SiteSettings {
    return this.settings.get();
  }

  /**
   * Applies an admin's validated change and records every setting it changed in the activity log (which every member
   * reads, so a webhook URL is logged without its path). `origin` is the hub's address as the admin reached it, kept
   * for links in escalations when CORTEX_PUBLIC_URL is not set.
   */
  updateSettings(patch: SiteSettingsPatch, actor: string, origin?: string): HubResult<SiteSettings> {
    if (patch.escalationWebhookUrl && isLoopbackWebhook(patch.escalationWebhookUrl) && this.env.CORTEX_ALLOW_LOOPBACK_WEBHOOKS !== "1") {
      return fail(400, "invalid_webhook_url", "webhook URL must use https to a public host (this hub does not allow loopback webhooks)");
    }
    const changes = this.settings.update(patch, actor, Date.now());
    if (origin) this.facts.set("origin", origin);
    for (const change of changes) {
      const shown = (v: unknown) => (ADMIN_ONLY_SETTINGS.includes(change.name as (typeof ADMIN_ONLY_SETTINGS)[number]) && typeof v === "string" ? redactedWebhookUrl(v) : v);
      this.activity.append({
        kind: "settings",
        actor,
        message: `setting ${change.name} changed by ${actor} from ${JSON.stringify(shown(change.from))} to ${JSON.stringify(shown(change.to))}`,
        data: { setting: change.name, from: shown(change.from), to: shown(change.to) },
      });
      if (change.name === "autonomyMaxTier" && change.to === 3) {
        this.activity.append({
          kind: "autonomy",
          level: "warn",
          actor,
          message: `autonomous investigations may now use risk tier 3 (shell commands, file writes, reboots) without anyone's confirmation: raised by ${actor}`,
          data: { setting: change.name, from: change.from, to: change.to },
        });
      }
    }
    return ok(this.settings.get());
  }

  // ---- autonomous investigations (RPC) ----

  /** The Conversation of an investigation reports how it ended. */
  investigationEnded(report: InvestigationReport): Promise<HubResult<{ status: string }>> {
    return this.autonomy.ended(report);
  }

  /** Someone deleted an investigation's conversation: it failed, and is never started again. */
  investigationDeleted(eventId: string, by: string): Promise<void> {
    return this.autonomy.deleted(eventId, by);
  }

  autonomyEvents(query: AutonomyEventListQuery, viewer: Viewer): AutonomyEventListResponse {
    return this.autonomy.list(query, viewer);
  }

  autonomyEvent(id: string, viewer: Viewer): HubResult<AutonomyEventView> {
    return this.autonomy.get(id, viewer);
  }

  /** A notification from the site's Alertmanager (its token already checked): each alert through the guards. */
  alertmanager(payload: AlertmanagerPayload): HubResult<AlertmanagerResponse> {
    const outcomes = this.autonomy.alerts(payload);
    return outcomes.ok ? ok({ alerts: outcomes.value }) : outcomes;
  }

  alertToken(): AlertTokenView {
    return this.alertTokens.view();
  }

  /** Makes the site's Alertmanager token, replacing the one before (which stops working at once). */
  async rotateAlertToken(actor: string): Promise<CreatedAlertToken> {
    const replaced = this.alertTokens.view().configured;
    const created = await this.alertTokens.create(this.site, actor, Date.now());
    this.activity.append({ kind: "autonomy", actor, message: `Alertmanager token ${replaced ? "rotated" : "created"} by ${actor} (${created.view.prefix})` });
    return created;
  }

  removeAlertToken(actor: string): HubResult<AlertTokenView> {
    if (!this.alertTokens.remove()) return fail(404, "no_alert_token", "this site has no Alertmanager token");
    this.activity.append({ kind: "autonomy", actor, message: `Alertmanager token removed by ${actor}` });
    return ok(this.alertTokens.view());
  }

  checkAlertToken(token: string): Promise<boolean> {
    if (this.storage.blank) return Promise.resolve(false);
    return this.alertTokens.matches(token);
  }

  /** What the AI chat did on this site that is not a directive: confirmations, denials, hub-side tools. */
  recordChat(entry: { actor: string | null; nodeId?: string | null; level?: "info" | "warn"; message: string; data?: Record<string, unknown> }): void {
    this.activity.append({ kind: "chat", ...entry });
  }

  // ---- the AI chat: the site's LLM key and the index of its conversations (RPC) ----

  siteLlmKey(): StoredLlmKey | null {
    return this.siteKey.get(SITE_KEY_OWNER);
  }

  setSiteLlmKey(key: StoredLlmKey, actor: string): void {
    this.siteKey.put(SITE_KEY_OWNER, key);
    // Where the key goes is said in the log every admin reads: a base URL is how one admin could send the others' key elsewhere.
    const destination = key.baseUrl === null ? "the provider's own API" : new URL(key.baseUrl).host;
    this.activity.append({ kind: "chat", actor, message: `site ${key.provider} key saved by ${actor} (…${key.last4}, model ${key.model}, sent to ${destination})` });
  }

  clearSiteLlmKey(actor: string): boolean {
    const removed = this.siteKey.remove(SITE_KEY_OWNER);
    if (removed) this.activity.append({ kind: "chat", actor, message: `site LLM key removed by ${actor}` });
    return removed;
  }

  indexConversation(summary: ConversationSummary): void {
    this.conversations.put(summary);
  }

  unindexConversation(id: string): void {
    this.conversations.remove(id);
  }

  listConversations(query: { ownerId: string | null; before?: number; limit: number }): ConversationListResponse {
    return this.conversations.list(query);
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
    // Only a process the hub configured can start an investigation: an agent cannot invent subjects to get past the
    // cooldown (and page people once per made-up name).
    const trigger = this.processes.get(nodeId, event.name).ok ? processTrigger(nodeId, event) : null;
    if (trigger) this.autonomy.consider(trigger);
  }

  // ---- directives (RPC) ----

  /**
   * Runs one action on one node for `requester`, who may be confined to the site's readable paths. `options` is for
   * callers inside the hub (the chat): their own directive id, and the AI tools switch.
   */
  async runDirective(
    nodeId: string,
    req: DirectiveRequest,
    requester: Requester,
    options: DirectiveOptions = {},
  ): Promise<HubResult<{ directiveId: string; stream: ReadableStream<Uint8Array> }>> {
    return hubOnly(req) ?? this.directives.runOne(nodeId, req, requester, options);
  }

  /**
   * runDirective for an API caller that waits for the outcome as one JSON answer: the directive's view once it has
   * ended (null if it ended without one), returned whole over RPC instead of as an event stream to be parsed.
   * `accessVersion`: the version of the `access` answer the caller was authorised with, when it kept one from an
   * earlier request instead of asking (see worker/auth/site-access-cache.ts); nothing is done if it has changed.
   */
  async runDirectiveToEnd(nodeId: string, req: DirectiveRequest, requester: Requester, accessVersion: string | null = null): Promise<HubResult<DirectiveView | null>> {
    // The caller was authorised with an answer of `access` it kept: it holds only if nothing changed since.
    if (accessVersion !== null && accessVersion !== this.siteAccess.version) return fail(409, ACCESS_CHANGED, "the site's members changed; authorise again");
    const refused = hubOnly(req);
    if (refused) return refused;
    const ended = await this.directives.runToEnd(nodeId, req, requester);
    return ended.ok ? ok(ended.value?.event === "result" ? ended.value.directive : null) : ended;
  }

  async fanOut(
    req: DirectiveRequest & { target: FanOutTarget; concurrency: number },
    requester: Requester,
    options: DirectiveOptions = {},
  ): Promise<HubResult<{ fanoutId: string; stream: ReadableStream<Uint8Array> }>> {
    return hubOnly(req) ?? this.directives.fanOut(req, requester, options);
  }

  /**
   * fanOut for an API caller that waits for the outcome as one JSON answer: the members' results as the requester may
   * see them and the aggregate, returned whole over RPC when the fan-out ends instead of as an event stream.
   */
  async fanOutToEnd(req: DirectiveRequest & { target: FanOutTarget; concurrency: number }, requester: Requester): Promise<HubResult<FanOutResponse>> {
    return hubOnly(req) ?? this.directives.fanOutToEnd(req, requester);
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

  getRun(nodeId: string, runId: string, viewer: Viewer): HubResult<RunRecord> {
    if (!this.registry.exists(nodeId)) return fail(404, "node_not_found", `node ${nodeId} not found`);
    const run = this.directives.run(nodeId, runId);
    return run.ok ? ok(runFor(run.value, viewer)) : run;
  }

  getFanOut(id: string): HubResult<FanOutAggregate> {
    return this.directives.fanOutStatus(id);
  }

  cancelFanOut(id: string, actor: string): HubResult<FanOutAggregate> {
    return this.directives.cancelFanOut(id, actor);
  }

  // ---- roost (RPC) ----

  roostMissing(hashes: string[]): string[] {
    return this.roosts.missing(hashes);
  }

  roostHasChunk(hash: string): boolean {
    return this.roosts.hasChunk(hash);
  }

  /** Called by the Worker once a chunk's bytes are verified and in R2. */
  roostRecordChunk(hash: string, size: number): boolean {
    return this.roosts.recordChunk(hash, size);
  }

  roostCommit(site: string, roost: string, input: CommitRequest & { files: ManifestEntry[] }, actor: string): Promise<HubResult<VersionView>> {
    return this.roosts.commit(site, roost, input, actor);
  }

  roostList(): RoostView[] {
    return this.roosts.listRoosts();
  }

  roostVersions(roost: string): HubResult<VersionView[]> {
    return this.roosts.listVersions(roost);
  }

  roostVersion(roost: string, version: number): HubResult<VersionView> {
    return this.roosts.version(roost, version);
  }

  roostDeploy(
    kind: DeploymentKind,
    roost: string,
    spec: DeploymentSpec,
    requester: Requester,
    watch: boolean,
  ): Promise<HubResult<{ deploymentId: string; stream: ReadableStream<Uint8Array> | null }>> {
    return this.deployments.create(kind, roost, spec, requester, watch);
  }

  roostDeployment(id: string, viewer: Viewer): HubResult<DeploymentView> {
    const view = this.deployments.view(id);
    return view.ok ? ok(deploymentFor(view.value, viewer)) : view;
  }

  roostDeployments(query: DeploymentListQuery, viewer: Viewer): DeploymentView[] {
    return this.deployments.list(query).map((view) => deploymentFor(view, viewer));
  }

  roostFollow(id: string, viewer: Viewer): HubResult<ReadableStream<Uint8Array>> {
    return this.deployments.follow(id, (event: DeploymentEvent) => deploymentEventFor(event, viewer));
  }

  roostPromote(id: string, actor: string): Promise<HubResult<DeploymentView>> {
    return this.deployments.promote(id, actor);
  }

  roostAbort(id: string, actor: string): HubResult<DeploymentView> {
    return this.deployments.abort(id, actor);
  }

  /**
   * Whether the node holding `token` may download a manifest or a chunk: only one of a version that a deployment
   * has sent to that very node. 401 for a bad token, 403 for anything else the node was not sent.
   */
  async roostNodeAccess(token: string, what: { hash: string } | { roost: string; version: number }): Promise<HubResult<{ nodeId: string; manifestSha256?: string }>> {
    const check = this.storage.blank ? INVALID_NODE_TOKEN : await checkNodeToken(this.registry, token);
    if (!check.ok) return fail(check.status, check.code, check.message);
    const nodeId = check.record.view.id;
    if ("hash" in what) {
      return this.deployments.nodeMayFetchChunk(nodeId, what.hash)
        ? ok({ nodeId })
        : fail(403, "not_deployed", `chunk ${what.hash} is not part of any version deployed to node ${nodeId}`);
    }
    const version = this.roosts.version(what.roost, what.version);
    if (!version.ok || !this.deployments.nodeMayFetchManifest(nodeId, what.roost, what.version)) {
      return fail(403, "not_deployed", `${what.roost}@${what.version} has not been deployed to node ${nodeId}`);
    }
    return ok({ nodeId, manifestSha256: version.value.manifestSha256 });
  }
}

/** Roost actions go out only as part of a deployment, which decides what the node may download. */
function hubOnly(req: DirectiveRequest): HubResult<never> | null {
  if (!HUB_ONLY_ACTIONS.has(req.action)) return null;
  return fail(400, "hub_only_action", `${req.action} is sent by roost deployments only; use cortex roost deploy (POST /roost/...)`);
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}
