import { DurableObject } from "cloudflare:workers";
import type { RiskTier } from "../../protocol/action-risk.ts";
import {
  CHAT_PING,
  type ChatEvent,
  type ChatTarget,
  type ConversationSummary,
  type ConversationView,
  type SendMessageResponse,
  type ToolCallView,
  type TurnView,
} from "../../protocol/chat.ts";
import { VERDICT_TOOL_NAME } from "../../protocol/autonomy.ts";
import { LiveCloseCode } from "../../protocol/close-codes.ts";
import { NO_LLM_KEY_HELP } from "../../protocol/llm.ts";
import type { Env } from "../../worker/env.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import { LazyTables } from "../shared/lazy-tables.ts";
import { baseUrlRefusal, llmKeyHome, openLlmKey, type UsableLlmKey } from "../shared/llm-keys.ts";
import type { SocketMatch, SocketOwner } from "../shared/user-sockets.ts";
import { viewerOwner, viewerRights } from "../site-hub/live-viewers.ts";
import type { Requester } from "../site-hub/requester.ts";
import { ChatEvents } from "./chat-events.ts";
import {
  actionsOf,
  AUTONOMY_OWNER,
  HUB_AUTHOR,
  InvestigationStore,
  type InvestigationReport,
  type InvestigationStart,
  type InvestigationState,
} from "./investigation.ts";
import { migrate } from "./schema.ts";
import { toolCallView, Transcript, type Meta } from "./transcript.ts";
import { chatActor, chatRequester, newId, publicTurn, TurnRunner, type RunnerHost } from "./turn-runner.ts";

/** The Worker forwards an authorised socket upgrade here, with who opens it in the query (see `viewerUrl`). */
export const CHAT_SOCKET_PATH = "/socket";

/** While an answer runs, an alarm this often resumes it if the object was evicted mid-way. */
const WATCHDOG_MS = 30_000;

/** Who is asking, as the Worker established and authorised them. */
export interface ChatCaller {
  /** `principalId`: the user's id, or "admin-key". */
  id: string;
  label: string;
  /** May only read inside the site's readable paths (`authorize` refused them `files.readAnywhere`). */
  confined: boolean;
}

export interface NewConversation {
  id: string;
  site: string;
  owner: ChatCaller;
  target: ChatTarget;
  title?: string;
  model?: string;
}

/**
 * One conversation of the AI chat, in its own SQLite storage: the transcript, every tool call with its directive and
 * outcome, pending confirmations, token usage. The tool loop runs here, not in a request, so a closed browser does
 * not stop it; clients attach over a hibernatable socket (or an event stream for the CLI) and get what was already
 * streamed, then the live events. The Worker authorises every call; the methods here check the conversation's state.
 */
export class Conversation extends DurableObject<Env> implements RunnerHost {
  readonly transcript: Transcript;
  readonly investigation: InvestigationStore;
  readonly events: ChatEvents;
  private readonly runner: TurnRunner;
  private readonly tables: LazyTables;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tables = new LazyTables(ctx.storage, migrate);
    this.transcript = new Transcript(this.tables.sql);
    this.investigation = new InvestigationStore(this.tables.sql);
    this.events = new ChatEvents(ctx);
    this.runner = new TurnRunner(this);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(CHAT_PING, "pong"));
    // An answer that was running when the object went away carries on from what is stored.
    if (!this.tables.blank && this.transcript.latestTurn()?.status === "running") this.runner.kick();
  }

  // ---- RunnerHost ----

  hub() {
    const site = this.transcript.meta()!.site;
    return this.env.SITE_HUB.get(this.env.SITE_HUB.idFromName(site));
  }

  async resolveKey(meta: Meta): Promise<{ key: UsableLlmKey } | { missing: string }> {
    const found = await this.findKey(meta);
    if (!("key" in found)) return found;
    const refused = baseUrlRefusal(this.env, found.key.baseUrl);
    return refused ? { missing: `The ${found.key.scope} AI key cannot be used: ${refused}. Save it again with a public base URL.` } : found;
  }

  private async findKey(meta: Meta): Promise<{ key: UsableLlmKey } | { missing: string }> {
    const home = llmKeyHome(this.env);
    // An investigation has no person behind it: it runs on the site's key, never on anyone's own.
    if (meta.ownerId !== "admin-key" && !this.investigation.get()) {
      const personal = await home.personal(meta.ownerId);
      if (personal) {
        const key = await openLlmKey(this.env, "personal", meta.ownerId, personal);
        if (key) return { key };
        return { missing: "Your saved AI key can no longer be read (the hub's encryption key changed). Save it again in Account settings → AI key, or with `cortex llm set`." };
      }
    }
    const site = await home.site(meta.site);
    if (site) {
      const key = await openLlmKey(this.env, "site", meta.site, site);
      if (key) return { key };
      return { missing: "The site's AI key can no longer be read (the hub's encryption key changed). A site admin must save it again." };
    }
    return { missing: NO_LLM_KEY_HELP };
  }

  async changed(): Promise<void> {
    const summary = this.transcript.summary();
    if (summary) await this.hub().indexConversation(summary);
  }

  /** An answer ended: an investigation tells its site how, once the outcome is stored (the site asks again if this is lost). */
  async turnEnded(): Promise<void> {
    const state = this.investigationState();
    if (state.state !== "ended") return;
    try {
      await this.hub().investigationEnded(state.report);
    } catch (error) {
      console.warn(`investigation ${state.report.eventId}: the site did not take the report yet (${(error as Error).message}); it asks again`);
    }
  }

  async scheduleAlarm(): Promise<void> {
    const expiry = this.transcript.nextConfirmationExpiry();
    const running = this.transcript.latestTurn()?.status === "running" ? Date.now() + WATCHDOG_MS : null;
    const next = Math.min(expiry ?? Number.POSITIVE_INFINITY, running ?? Number.POSITIVE_INFINITY);
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
    else await this.ctx.storage.deleteAlarm();
  }

  // ---- the conversation (RPC) ----

  async create(input: NewConversation): Promise<HubResult<ConversationSummary>> {
    if (this.transcript.meta()) return fail(409, "conversation_exists", `conversation ${input.id} exists`);
    const now = Date.now();
    this.transcript.createMeta({
      id: input.id,
      site: input.site,
      ownerId: input.owner.id,
      ownerLabel: input.owner.label,
      title: input.title ?? "New conversation",
      target: input.target,
      model: input.model ?? null,
      createdAt: now,
      updatedAt: now,
    });
    await this.changed();
    return ok(this.transcript.summary()!);
  }

  /** Null for an id nobody created, answered without storing anything (a caller may name any id). */
  summary(): ConversationSummary | null {
    if (this.tables.blank) return null;
    return this.transcript.summary();
  }

  // ---- autonomous investigations (RPC from the site's SiteHub) ----

  /**
   * Starts an investigation: the conversation, its briefing as the first message, and the answer running on the site's
   * key with tools up to `toolTier`. Asked again for the same event (the site retrying after a restart), it changes
   * nothing. Without a usable site key nothing is created.
   */
  async startInvestigation(input: InvestigationStart): Promise<HubResult<ConversationSummary>> {
    // A blank object has no investigation yet; asking would create its tables before the key is known to be usable.
    const existing = this.tables.blank ? null : this.transcript.meta();
    if (existing) {
      return this.investigation.get()?.eventId === input.eventId ? ok(this.transcript.summary()!) : fail(409, "conversation_exists", `conversation ${input.id} exists`);
    }
    const now = Date.now();
    const meta: Meta = {
      id: input.id,
      site: input.site,
      ownerId: AUTONOMY_OWNER.id,
      ownerLabel: AUTONOMY_OWNER.label,
      title: input.title,
      target: { node: input.nodeId },
      model: input.model,
      createdAt: now,
      updatedAt: now,
    };
    const key = await llmKeyHome(this.env).site(input.site);
    const usable = key ? await openLlmKey(this.env, "site", input.site, key) : null;
    if (!usable) return fail(409, "no_llm_key", key ? "the site's AI key can no longer be read (the hub's encryption key changed)" : "the site has no AI key");
    const turnId = newId("r");
    const messageId = newId("m");
    this.tables.transaction(() => {
      this.transcript.createMeta(meta);
      this.investigation.create(input.eventId, input.directive);
      this.transcript.startTurn(
        { id: turnId, stepLimit: input.stepLimit, toolTier: input.toolTier, askerId: AUTONOMY_OWNER.id, askerLabel: AUTONOMY_OWNER.label, confined: false },
        now,
      );
      this.transcript.addMessage({ id: messageId, turnId, role: "user", text: input.briefing, author: HUB_AUTHOR }, now);
    });
    this.runner.useKey(turnId, usable);
    this.runner.kick();
    await this.scheduleAlarm();
    await this.changed();
    return ok(this.transcript.summary()!);
  }

  /** Where the investigation stands, for the site's checks (after a lost report, or to find one that overran). */
  investigationState(): InvestigationState {
    const meta = this.transcript.meta();
    const inv = this.investigation.get();
    const turn = this.transcript.latestTurn();
    if (!meta || !inv || !turn) return { state: "missing" };
    if (turn.status === "running" || turn.status === "waiting") return { state: "running" };
    const note = turn.status === "done" && inv.verdict ? null : this.lastNote(turn.id);
    const report: InvestigationReport = {
      eventId: inv.eventId,
      conversationId: meta.id,
      verdict: inv.verdict,
      outcome: turn.status,
      note,
      usage: this.transcript.totals(),
      actions: actionsOf(this.transcript.allToolCalls(), VERDICT_TOOL_NAME),
    };
    return { state: "ended", report };
  }

  /** The site ends an investigation that ran too long: like Stop, by the hub. */
  async stopInvestigation(reason: string): Promise<void> {
    const turn = this.transcript.latestTurn();
    if (!this.investigation.get() || !turn || (turn.status !== "running" && turn.status !== "waiting")) return;
    const meta = this.transcript.meta()!;
    this.transcript.requestStop(turn.id);
    if (turn.status === "waiting") this.transcript.setTurnStatus(turn.id, "running", Date.now());
    await this.cancelUnderWay(turn.id, chatRequester({ id: AUTONOMY_OWNER.id, label: `${AUTONOMY_OWNER.label} (${reason})`, confined: false }, meta.id));
    this.runner.interrupt();
    this.runner.kick();
  }

  private lastNote(turnId: string): string | null {
    const notes = this.transcript.messages().filter((m) => m.turnId === turnId && m.role === "note");
    return notes.at(-1)?.text ?? null;
  }

  /**
   * Whether a reader confined to the readable paths (a member's, a read or chat key) may read and continue this
   * conversation: only while every answer in it ran confined too. An unconfined answer's tool results are only
   * redacted, and the model's replies may quote them, so they are the output of unconfined directives, which such a
   * reader never gets (viewer-visibility.ts); the next answer would also hand them to the model they drive.
   */
  confinedOnly(): boolean {
    return this.transcript.confinedOnly();
  }

  view(): HubResult<ConversationView> {
    const conversation = this.transcript.summary();
    if (!conversation) return notFound();
    const turn = this.transcript.latestTurn();
    return ok({ conversation, messages: this.transcript.messages(), turn: turn ? publicTurn(turn) : null });
  }

  async update(change: { title?: string; model?: string | null; target?: ChatTarget }): Promise<HubResult<ConversationSummary>> {
    if (!this.transcript.meta()) return notFound();
    if (this.investigation.get()) return autonomous();
    // A running answer reads the target and model at each step; a change mid-answer would send its next tool calls
    // somewhere its asker never chose (a confirmed tier-2 step to every machine instead of one).
    const latest = this.transcript.latestTurn();
    if ((change.target !== undefined || change.model !== undefined) && latest && (latest.status === "running" || latest.status === "waiting")) {
      return fail(409, "answer_running", "an answer is still running in this conversation: its target and model change once it ends or is stopped");
    }
    this.transcript.updateMeta(change, Date.now());
    const conversation = this.transcript.summary()!;
    this.events.emit({ type: "conversation", conversation });
    await this.changed();
    return ok(conversation);
  }

  /** A user message starts an answer; the loop runs on after this returns. */
  async send(input: { text: string; asker: ChatCaller; toolTier: RiskTier; stepLimit: number }): Promise<HubResult<SendMessageResponse>> {
    const before = this.transcript.meta();
    if (!before) return notFound();
    const key = await this.resolveKey(before);
    // Checked after the key is looked up, with nothing awaited between the checks and the new turn: other calls run
    // while this one waits on another object, and a second message sent at once (or a deletion) must be seen.
    const meta = this.transcript.meta();
    if (!meta) return notFound();
    if (this.investigation.get()) return autonomous();
    const latest = this.transcript.latestTurn();
    if (latest && (latest.status === "running" || latest.status === "waiting")) {
      return fail(409, "answer_running", "an answer is still running in this conversation: wait for it, or stop it first");
    }
    if ("missing" in key) return fail(409, "no_llm_key", key.missing);
    const now = Date.now();
    const turnId = newId("r");
    const messageId = newId("m");
    this.transcript.startTurn(
      { id: turnId, stepLimit: input.stepLimit, toolTier: input.toolTier, askerId: input.asker.id, askerLabel: input.asker.label, confined: input.asker.confined },
      now,
    );
    this.transcript.addMessage({ id: messageId, turnId, role: "user", text: input.text, author: input.asker.label }, now);
    if (!input.asker.confined) this.closeConfinedReaders();
    if (meta.title === "New conversation") this.transcript.updateMeta({ title: titleFrom(input.text) }, now);
    this.events.emit({ type: "message", message: this.transcript.message(messageId)! });
    this.emitTurn();
    this.runner.useKey(turnId, key.key);
    this.runner.kick();
    await this.scheduleAlarm();
    await this.changed();
    return ok({ turnId, messageId });
  }

  /** Stop: the model stream is aborted, directives under way are cancelled, pending confirmations are dropped. */
  async stop(actor: ChatCaller): Promise<HubResult<TurnView>> {
    const meta = this.transcript.meta();
    if (!meta) return notFound();
    const turn = this.transcript.latestTurn();
    if (!turn || (turn.status !== "running" && turn.status !== "waiting")) return fail(409, "not_running", "no answer is running in this conversation");
    this.transcript.requestStop(turn.id);
    if (turn.status === "waiting") this.transcript.setTurnStatus(turn.id, "running", Date.now());
    await this.cancelUnderWay(turn.id, chatRequester(actor, meta.id));
    this.runner.interrupt();
    this.runner.kick();
    return ok(publicTurn(this.transcript.turn(turn.id)!));
  }

  /**
   * After the step limit: another round of model calls for the same answer. Whoever continues it is its asker from
   * now on: the tools offered, the cap and the confinement are theirs as they are now (the owner's read key, or an
   * owner demoted since, does not go on with the rights the answer started with).
   */
  async continueTurn(input: { stepLimit: number; asker: ChatCaller; toolTier: RiskTier }): Promise<HubResult<TurnView>> {
    if (!this.transcript.meta()) return notFound();
    if (this.investigation.get()) return autonomous();
    const turn = this.transcript.latestTurn();
    if (!turn || turn.status !== "step_limit") return fail(409, "cannot_continue", "only an answer paused at the step limit can be continued");
    const asker = { toolTier: input.toolTier, askerId: input.asker.id, askerLabel: input.asker.label, confined: input.asker.confined };
    this.transcript.extendTurn(turn.id, input.stepLimit, asker, Date.now());
    if (!asker.confined) this.closeConfinedReaders();
    this.emitTurn();
    await this.scheduleAlarm();
    await this.changed();
    this.runner.kick();
    return ok(publicTurn(this.transcript.turn(turn.id)!));
  }

  /**
   * Approve or deny a tier-3 tool call. The Worker lets only the conversation's owner get here; `deciderTier` is the
   * highest risk tier the decider may use now, so an owner who lost the right since cannot approve.
   */
  async decide(input: { toolCallId: string; approve: boolean; decider: ChatCaller; deciderTier: RiskTier }): Promise<HubResult<ToolCallView>> {
    const meta = this.transcript.meta();
    if (!meta) return notFound();
    if (this.investigation.get()) return autonomous();
    const call = this.transcript.toolCall(input.toolCallId);
    // Only the latest answer can wait for a decision: ending an answer closes its pending calls.
    const turn = this.transcript.latestTurn();
    if (!call || !turn) return fail(404, "tool_call_not_found", `tool call ${input.toolCallId} not found`);
    if (call.status !== "awaiting_confirmation") return fail(409, "already_decided", `tool call ${call.id} is ${call.status}, not waiting for a decision`);
    const now = Date.now();
    if (call.expiresAt !== null && call.expiresAt <= now) {
      await this.expire(now);
      return fail(409, "expired", "the confirmation expired and counts as denied");
    }
    if (input.approve && input.deciderTier < call.tier) {
      return fail(403, "action_not_allowed", `approving ${call.name} needs risk tier ${call.tier}; you may use up to tier ${input.deciderTier}`);
    }
    const who = chatActor(input.decider.label, meta.id);
    const where = targetText(call.target);
    if (input.approve) {
      this.transcript.updateToolCall(call.id, { status: "approved", decidedBy: input.decider.label, decidedAt: now });
    } else {
      const denial = "The user denied this tool call, so it was not run. Do not try to reach the same result another way; ask the user what to do instead.";
      this.transcript.updateToolCall(call.id, { status: "denied", decidedBy: input.decider.label, decidedAt: now, modelResult: denial, error: `denied by ${input.decider.label}`, endedAt: now });
    }
    await this.hub().recordChat({
      actor: who,
      level: input.approve ? "info" : "warn",
      message: `chat ${meta.id}: ${input.decider.label} ${input.approve ? "approved" : "denied"} ${call.name} on ${where}`,
      data: { conversationId: meta.id, toolCallId: call.id, tool: call.name, approved: input.approve, input: call.input },
    });
    const view = toolCallView(this.transcript.toolCall(call.id)!);
    this.events.emit({ type: input.approve ? "tool_call" : "tool_result", toolCall: view });
    this.transcript.setTurnStatus(turn.id, "running", now);
    this.emitTurn();
    await this.scheduleAlarm();
    this.runner.kick();
    return ok(view);
  }

  async remove(actor: ChatCaller): Promise<HubResult<{ deleted: true }>> {
    const meta = this.transcript.meta();
    if (!meta) return notFound();
    const investigation = this.investigation.get();
    const turn = this.transcript.latestTurn();
    if (turn && (turn.status === "running" || turn.status === "waiting")) {
      this.transcript.requestStop(turn.id);
      await this.cancelUnderWay(turn.id, chatRequester(actor, meta.id));
      this.runner.interrupt();
    }
    const hub = this.hub();
    // Told before the deletion: a site that found its investigation missing afterwards would start it again.
    if (investigation) await hub.investigationDeleted(investigation.eventId, actor.label);
    this.events.emit({ type: "deleted" });
    this.events.closeAll(1000, "conversation deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.tables.forget();
    await hub.unindexConversation(meta.id);
    return ok({ deleted: true });
  }

  /** The conversation's events for the Worker to relay as server-sent events: the replay, then live. */
  openEvents(owner: SocketOwner | null, confined: boolean): HubResult<ReadableStream<Uint8Array>> {
    if (!this.transcript.meta()) return notFound();
    return ok(this.events.openStream({ owner, confined }, this.replay()));
  }

  /** An unconfined answer starts: confined readers may not follow it (see `confinedOnly`). */
  private closeConfinedReaders(): void {
    this.events.closeConfined(LiveCloseCode.ACCESS_CHANGED, "an answer with unconfined tools started");
  }

  /**
   * Closes the sockets and event streams of a person, a session or an API key whose access ended (signed out,
   * revoked, removed from the site, demoted), as every holder of people's sockets does (`socket-holders.ts`).
   */
  closeUserSockets(match: SocketMatch, code: number, reason: string): number {
    return this.events.closeMatching(match, code, reason);
  }

  // ---- sockets (hibernation API) ----

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== CHAT_SOCKET_PATH) return new Response("not found", { status: 404 });
    if (this.tables.blank || !this.transcript.meta()) return new Response("conversation not found", { status: 404 });
    return this.events.acceptSocket({ owner: viewerOwner(url), confined: viewerRights(url).confined }, this.replay());
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Clients only listen (and ping, which the runtime answers); everything else goes through the HTTP API.
    const reply: ChatEvent = { type: "error", code: "listen_only", message: `this socket only carries events; send "${CHAT_PING}" to keep it open and use the HTTP API to act` };
    if (message !== CHAT_PING) ws.send(JSON.stringify(reply));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  override async alarm(): Promise<void> {
    await this.expire(Date.now());
    const turn = this.transcript.latestTurn();
    if (turn?.status === "running" && !this.runner.busy) this.runner.kick();
    await this.scheduleAlarm();
    // The alarm event stays open while the answer it woke runs, so nothing depends on work outliving its event.
    await this.runner.idle();
  }

  /** Confirmations nobody decided in time count as denied. */
  private async expire(now: number): Promise<void> {
    const meta = this.transcript.meta();
    const expired = this.transcript.expiredConfirmations(now);
    if (!meta || !expired.length) return;
    for (const call of expired) {
      const text = "Nobody approved this tool call within 10 minutes, so it was not run (it counts as denied).";
      this.transcript.updateToolCall(call.id, { status: "expired", decidedBy: "nobody (expired)", decidedAt: now, modelResult: text, error: "expired: nobody decided in time", endedAt: now });
      this.events.emit({ type: "tool_result", toolCall: toolCallView(this.transcript.toolCall(call.id)!) });
      await this.hub().recordChat({
        actor: null,
        level: "warn",
        message: `chat ${meta.id}: ${call.name} on ${targetText(call.target)} expired without a decision and counts as denied`,
        data: { conversationId: meta.id, toolCallId: call.id, tool: call.name },
      });
    }
    const turn = this.transcript.latestTurn();
    if (turn?.status === "waiting") {
      this.transcript.setTurnStatus(turn.id, "running", now);
      this.emitTurn();
      this.runner.kick();
    }
  }

  /** Cancels the directives and fan-outs the answer's tool calls are waiting on. */
  private async cancelUnderWay(turnId: string, requester: Requester): Promise<void> {
    for (const call of this.transcript.unresolvedOf(turnId)) {
      if (call.status !== "running") continue;
      if (call.directiveId) await this.hub().cancelDirective(call.directiveId, requester);
      if (call.fanoutId) await this.hub().cancelFanOut(call.fanoutId, requester.actor);
    }
  }

  private emitTurn(): void {
    const turn = this.transcript.latestTurn();
    if (turn) this.events.emit({ type: "turn", turn: publicTurn(turn) });
  }

  /** What an attaching client gets first: the header, the transcript, and the text streamed so far. */
  private replay(): ChatEvent[] {
    const conversation = this.transcript.summary()!;
    const turn = this.transcript.latestTurn();
    const messages = this.transcript.messages();
    return [
      { type: "snapshot", conversation, turn: turn ? publicTurn(turn) : null, messages: messages.length },
      ...messages.map((message): ChatEvent => ({ type: "message", message })),
      { type: "synced", partial: this.runner.partial ? { ...this.runner.partial } : null },
    ];
  }
}

function notFound<T>(): HubResult<T> {
  return fail(404, "conversation_not_found", "conversation not found");
}

/** Nobody writes in an investigation: it has no user, and its tools were settled when it started. */
function autonomous<T>(): HubResult<T> {
  return fail(409, "autonomous", "this is an autonomous investigation: it takes no messages, continues or decisions (read it, stop it or delete it)");
}

function titleFrom(text: string): string {
  const line = text.split("\n")[0]!.replace(/[\u0000-\u001f\u007f]/g, " ").trim();
  return line.length > 80 ? `${line.slice(0, 77)}…` : line || "New conversation";
}

function targetText(target: ToolCallView["target"]): string {
  if ("node" in target) return `machine ${target.node}`;
  if ("all" in target) return target.machines === null ? "every online machine" : `all ${target.machines} online machine(s)`;
  return "the hub";
}
