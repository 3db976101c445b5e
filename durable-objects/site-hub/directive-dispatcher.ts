import type { DirectiveEvent, DirectiveListQuery, DirectiveRequest, DirectiveView, FanOutAggregate, FanOutTarget, NodeView, RunRecord } from "../../protocol/api.ts";
import { ActionName, parseActionCall, TERMINAL_STATUSES, type ActionCall as ActionCallType, type DirectiveStatus, type ErrorCode } from "../../protocol/directives.ts";
import type { HubToNodeMessage, NodeToHubMessage, ResultMessage, RunCompleteMessage, StreamChunkMessage } from "../../protocol/node-messages.ts";
import { actionTimeoutMs } from "../../protocol/action-timeouts.ts";
import { confinementRefusal, readableRoots } from "../../protocol/read-confinement.ts";
import { evaluateTier } from "../../protocol/tier-policy.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { ActivityLog } from "./activity-log.ts";
import { directiveChange, fanOutChange, lateResultChange, runEndedChange, whatRan } from "./directive-activity.ts";
import { paramsForView, type ChunkTarget, type DirectiveRecord, type DirectiveStore, type NewDirective, type Outcome } from "./directive-store.ts";
import { FanOutAnswers, type FanOutAnswer } from "./fan-out-answers.ts";
import { resolveTargets } from "./fan-out-targets.ts";
import { directiveFor, eventForConfined, type Viewer } from "./viewer-visibility.ts";
import type { EventStreams, Presenter } from "./event-streams.ts";
import type { NodeRegistry } from "./node-registry.ts";
import type { Requester } from "./requester.ts";

/** How the dispatcher reaches nodes; implemented by the connection layer. */
export interface NodeLink {
  send(nodeId: string, message: HubToNodeMessage): boolean;
  isOnline(nodeId: string): boolean;
  scheduleSweep(at: number): Promise<void>;
}

/** How long a result may wait for stream chunks still in flight before it is recorded without them. */
const CHUNK_GRACE_MS = 2_000;
/** Extra time the hub allows beyond the agent's own limit, so the agent's timeout result normally arrives first. */
const HUB_GRACE_MS = 15_000;
const DEFAULT_FILE_ACTION_TIMEOUT_MS = 60_000;
const ACTIVE: readonly DirectiveStatus[] = ["queued", "sent", "running"];

function hubTimeout(call: ActionCallType, requested: number | undefined): number {
  if (requested !== undefined) return requested;
  const own = actionTimeoutMs(call);
  return own === null ? DEFAULT_FILE_ACTION_TIMEOUT_MS : own + HUB_GRACE_MS;
}

function statusOfResult(msg: ResultMessage): DirectiveStatus {
  if (msg.success) return "done";
  switch (msg.errorCode) {
    case "cancelled":
      return "cancelled";
    case "timeout":
      return "timed_out";
    case "tier_refused":
    case "not_readable":
    case "protected":
      return "refused";
    default:
      return "failed";
  }
}

/**
 * The directives whose every stream chunk (seq 0, 1, ... in order) came in this frame before their result, and add up
 * to the result's whole output: those chunks need no rows of their own.
 */
function wholeInFrame(messages: readonly NodeToHubMessage[]): Set<string> {
  const texts = new Map<string, string[] | null>();
  const whole = new Set<string>();
  for (const m of messages) {
    if (m.type === "stream_chunk") {
      const seen = texts.get(m.directiveId) ?? [];
      if (seen !== null && m.seq === seen.length) {
        seen.push(m.chunk);
        texts.set(m.directiveId, seen);
      } else {
        texts.set(m.directiveId, null);
      }
    } else if (m.type === "result") {
      const seen = texts.get(m.directiveId) ?? [];
      if (seen !== null && !m.truncated && (m.chunks ?? 0) === seen.length && seen.join("") === m.output) whole.add(m.directiveId);
      texts.set(m.directiveId, null);
    }
  }
  return whole;
}

/** Why a node may not report on a directive, or null when it was sent to that node. */
function notYours(directiveId: string, owner: string | null, nodeId: string): string | null {
  if (owner === null) return `directive ${directiveId} does not exist`;
  return owner === nodeId ? null : `directive ${directiveId} was not sent to this node`;
}

/** What a caller other than the API may ask of a directive or fan-out. */
export interface DirectiveOptions {
  /**
   * The caller's own id for it (`d-<uuid>`, or `f-<uuid>` for a fan-out), recorded by the caller before asking:
   * asking again with an id that exists follows the existing one and never runs it a second time.
   */
  id?: string;
  /** A tool call of the AI chat: refused on machines whose "AI tools allowed" switch is off. */
  viaChat?: boolean;
}

const CALLER_DIRECTIVE_ID = /^d-[0-9a-f-]{36}$/;
const CALLER_FANOUT_ID = /^f-[0-9a-f-]{36}$/;

/** What the requester's own stream shows: everything, unless they may only read (then redacted, see visibility). */
function presenterFor(requester: Requester): Presenter | undefined {
  return requester.confined ? eventForConfined : undefined;
}

/**
 * Whether the node's agent can run this action. Our agents list the actions they know in `capabilities`; one built
 * before an action existed would drop the directive as an invalid message and leave it to time out, so it is
 * refused here at once. A list that names no action at all (an agent that reports capabilities another way) says
 * nothing either way, and the directive is sent.
 */
function knowsAction(node: NodeView, action: string): boolean {
  const known = node.capabilities.filter((c) => (ActionName.options as readonly string[]).includes(c));
  return known.length === 0 || known.includes(action);
}

/** A directive just recorded: whether it waits to be sent, or was settled at admission (refused, offline). */
interface Admitted {
  queued: boolean;
  /** The record as admission wrote it, so sending it reads nothing again. */
  rec: DirectiveRecord;
}

/** The message that gives a recorded directive to its node. */
function directiveMessage({ view, params, confineTo }: DirectiveRecord): HubToNodeMessage {
  return {
    type: "directive",
    id: view.id,
    sessionId: view.fanoutId ?? view.id,
    action: view.action,
    params,
    stream: true,
    timeoutMs: view.timeoutMs,
    ...(confineTo ? { confineTo } : {}),
  };
}

/** Why a directive could not be given to its node. */
function offlineError(nodeId: string): string {
  return `node ${nodeId} is not connected`;
}

/** How a directive ends that could not be given to its node. */
function offline(nodeId: string): Outcome {
  return { status: "failed", errorCode: "offline", error: offlineError(nodeId) };
}

function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/**
 * Directives from request to outcome: validation, the hub-side tier check, sending, streaming, timeouts, cancel,
 * fan-out with a concurrency limit, and the effect of a node dropping. Nothing here ever re-sends a directive.
 */
export class DirectiveDispatcher {
  /** Callers of fanOutToEnd, answered when their fan-out ends. */
  private readonly answers = new FanOutAnswers();
  /**
   * For each fan-out started since this object woke and still running, what its members' activity entries say the
   * same way: what ran (the redacted one-line description, the same for all of them) and each machine's name as its
   * first entry gave it, so a member's end writes its entry without redacting the same params again or looking its
   * node's name up; and how many members may still be queued (never fewer than really are: members are queued only
   * at admission), so once none is, a member's end asks the store for no more. Dropped when the fan-out ends; after a
   * restart a member's end works all of it out from the store, as a single directive's does.
   */
  private readonly fanOutsHere = new Map<string, { what: string; names: ReadonlyMap<string, string>; queued: number }>();
  /**
   * The same words for each single directive sent since this object woke and not yet ended: its end writes its entry
   * from them. Dropped at the end; after a restart the end works them out from the store.
   */
  private readonly singlesHere = new Map<string, { what: string; name: string }>();

  constructor(
    private readonly store: DirectiveStore,
    private readonly registry: NodeRegistry,
    private readonly activity: ActivityLog,
    private readonly streams: EventStreams,
    private readonly link: NodeLink,
    /** The site's readable paths as they are now, for callers who may only read. */
    private readonly readablePaths: () => readonly string[],
    /** Told of every directive's end, whoever ended it (roost deployments follow their machines through it). */
    private readonly onEnded: (view: DirectiveView) => void = () => undefined,
  ) {}

  async runOne(
    nodeId: string,
    req: DirectiveRequest,
    requester: Requester,
    options: DirectiveOptions = {},
  ): Promise<HubResult<{ directiveId: string; stream: ReadableStream<Uint8Array> }>> {
    if (options.id !== undefined) {
      if (!CALLER_DIRECTIVE_ID.test(options.id)) return fail(400, "invalid_directive_id", "a directive id is d-<uuid>");
      const existing = this.store.get(options.id, false);
      if (existing) {
        if (existing.view.nodeId !== nodeId) return fail(409, "directive_exists", `directive ${options.id} exists on another node`);
        return ok({ directiveId: options.id, stream: this.follow(options.id, requester) });
      }
    }
    return this.startOne(nodeId, req, requester, options, (id) => ({ directiveId: id, stream: this.streams.open(id, presenterFor(requester)) }));
  }

  /**
   * One directive for a caller that wants only its end (a JSON answer): its last event as the requester may see it,
   * with no event stream. Admission, recording and sending are runOne's.
   */
  async runToEnd(nodeId: string, req: DirectiveRequest, requester: Requester): Promise<HubResult<DirectiveEvent | null>> {
    const started = await this.startOne(nodeId, req, requester, {}, (id) => this.streams.waitForEnd(id, presenterFor(requester)));
    return started.ok ? ok(await started.value) : started;
  }

  /** Admits, records and sends one directive, with `listen` attached to it before anything can end it. */
  private async startOne<T>(nodeId: string, req: DirectiveRequest, requester: Requester, options: DirectiveOptions, listen: (id: string) => T): Promise<HubResult<T>> {
    const node = this.registry.get(nodeId)?.view;
    if (!node || node.status === "deregistered") return fail(404, "node_not_found", `node ${nodeId} not found`);
    const call = this.parseCall(req);
    if (!call.ok) return call;
    // A single directive outside the readable paths is a plain refusal: nothing is recorded, nothing is sent.
    const refusal = requester.confined ? confinementRefusal(call.value, this.confinement(node)) : null;
    if (refusal) return fail(403, "not_readable", refusal);
    const id = options.id ?? newId("d");
    const listener = listen(id);
    try {
      await this.sendOne(id, node, call.value, req, requester, options);
    } catch (error) {
      // Nothing will end what failed to start: its listener is let go here rather than kept for ever.
      this.streams.end(id);
      throw error;
    }
    return ok(listener);
  }

  /**
   * Sends a directive whose id the caller chose and whose end it learns through `onEnded`, with no event stream:
   * how a roost deployment starts each machine. An admission refusal (offline, tier) ends it before this returns.
   */
  async runDetached(id: string, nodeId: string, req: DirectiveRequest, requester: Requester): Promise<HubResult<true>> {
    const node = this.registry.get(nodeId)?.view;
    if (!node || node.status === "deregistered") return fail(404, "node_not_found", `node ${nodeId} not found`);
    const call = this.parseCall(req);
    if (!call.ok) return call;
    await this.sendOne(id, node, call.value, req, requester, {});
    return ok(true);
  }

  async fanOut(
    req: DirectiveRequest & { target: FanOutTarget; concurrency: number },
    requester: Requester,
    options: DirectiveOptions = {},
  ): Promise<HubResult<{ fanoutId: string; stream: ReadableStream<Uint8Array> }>> {
    if (options.id !== undefined) {
      if (!CALLER_FANOUT_ID.test(options.id)) return fail(400, "invalid_fanout_id", "a fan-out id is f-<uuid>");
      if (this.store.fanOutExists(options.id)) return ok({ fanoutId: options.id, stream: this.followFanOut(options.id, requester) });
    }
    return this.startFanOut(req, requester, options, (fanoutId) => ({ fanoutId, stream: this.streams.open(fanoutId, presenterFor(requester)) }));
  }

  /**
   * A fan-out for a caller that wants only its outcome (a JSON answer): every member's result as the requester may
   * see it and the aggregate, returned whole when it ends, with no event stream. Admission and sending are fanOut's.
   */
  async fanOutToEnd(req: DirectiveRequest & { target: FanOutTarget; concurrency: number }, requester: Requester): Promise<HubResult<FanOutAnswer>> {
    const started = await this.startFanOut(req, requester, {}, (fanoutId) => this.answers.wait(fanoutId, presenterFor(requester)), (members, params) =>
      FanOutAnswers.fitsAnswer(members, paramsForView(params))
        ? null
        : fail(413, "answer_too_large", `a fan-out to ${members} nodes with these params is too large to answer as one JSON document; ask for its events (Accept: text/event-stream)`),
    );
    return started.ok ? ok(await started.value) : started;
  }

  /** Admits, records and starts a fan-out, with `listen` attached to it before anything can end it. */
  private async startFanOut<T>(
    req: DirectiveRequest & { target: FanOutTarget; concurrency: number },
    requester: Requester,
    options: DirectiveOptions,
    listen: (fanoutId: string) => T,
    refuse?: (members: number, params: Record<string, unknown>) => HubResult<never> | null,
  ): Promise<HubResult<T>> {
    const actor = requester.actor;
    const call = this.parseCall(req);
    if (!call.ok) return call;
    const resolved = this.resolveTargets(req.target);
    if (!resolved.ok) return resolved;
    const { targets, skippedOffline } = resolved.value;
    const refused = refuse?.(targets.length, call.value.params as Record<string, unknown>);
    if (refused) return refused;
    const fanoutId = options.id ?? newId("f");
    const fanOut = {
      fanoutId,
      actor,
      action: call.value.action,
      what: whatRan(call.value.action, call.value.params as Record<string, unknown>),
      total: targets.length,
      skippedOffline,
    };
    this.store.insertFanOut(fanOut, req.concurrency, Date.now());
    const here = { what: fanOut.what, names: new Map(targets.map((n) => [n.id, n.name])), queued: targets.length };
    this.fanOutsHere.set(fanoutId, here);
    const listener = listen(fanoutId);
    this.activity.append({ kind: "directive", actor, fanoutId, ...fanOutChange(fanOut, null) });
    const admitted = this.admit(targets.map((node) => ({ id: newId("d"), fanoutId, node })), call.value, req, requester, options);
    here.queued = admitted.filter((a) => a.queued).length;
    this.afterAdmit(admitted);
    this.pump(fanoutId);
    this.finishFanOutIfDone(fanoutId);
    return ok(listener);
  }

  run(nodeId: string, runId: string): HubResult<RunRecord> {
    const rec = this.store.runRecord(nodeId, runId);
    return rec ? ok(rec) : fail(404, "run_not_found", `the hub knows no run ${runId} on node ${nodeId}`);
  }

  /** The events of a directive that exists: its result at once when it has ended, else its live events. */
  private follow(id: string, requester: Requester): ReadableStream<Uint8Array> {
    const rec = this.store.get(id)!;
    const present = presenterFor(requester);
    if (!ACTIVE.includes(rec.view.status)) return this.streams.replay([{ event: "result", directive: rec.view }], present);
    return this.streams.open(id, present);
  }

  /** The events of a fan-out that exists: the results of its finished members, then live ones and the aggregate. */
  private followFanOut(fanoutId: string, requester: Requester): ReadableStream<Uint8Array> {
    const ended = this.store
      .memberIds(fanoutId, TERMINAL_STATUSES)
      .map((id): DirectiveEvent => ({ event: "result", directive: this.store.get(id)!.view }));
    const { pending, ...aggregate } = this.store.aggregate(fanoutId);
    const present = presenterFor(requester);
    if (pending === 0) return this.streams.replay([...ended, { event: "aggregate", aggregate }], present);
    return this.streams.open(fanoutId, present, ended);
  }

  get(id: string): HubResult<DirectiveRecord> {
    const rec = this.store.get(id);
    return rec ? ok(rec) : fail(404, "directive_not_found", `directive ${id} not found`);
  }

  list(q: DirectiveListQuery, viewer: Viewer) {
    const { records, nextBefore } = this.store.list(q);
    return { directives: records.map((r) => directiveFor(r, viewer)), nextBefore };
  }

  fanOutStatus(fanoutId: string): HubResult<FanOutAggregate> {
    if (!this.store.fanOutExists(fanoutId)) return fail(404, "fanout_not_found", `fan-out ${fanoutId} not found`);
    const { pending: _pending, ...agg } = this.store.aggregate(fanoutId);
    return ok(agg);
  }

  cancel(id: string, actor: string): HubResult<true> {
    const rec = this.store.get(id, false);
    if (!rec) return fail(404, "directive_not_found", `directive ${id} not found`);
    if (!ACTIVE.includes(rec.view.status)) return fail(409, "already_finished", `directive ${id} already ended as ${rec.view.status}`);
    this.stop(id, rec.view.nodeId, rec.view.status, { status: "cancelled", errorCode: "cancelled", error: `cancelled by ${actor}` }, actor);
    return ok(true);
  }

  cancelFanOut(fanoutId: string, actor: string): HubResult<FanOutAggregate> {
    if (!this.store.fanOutExists(fanoutId)) return fail(404, "fanout_not_found", `fan-out ${fanoutId} not found`);
    // Queued members first, so finishing a running one cannot start a queued one mid-cancel.
    for (const status of ["queued", "sent", "running"] as const) {
      for (const id of this.store.memberIds(fanoutId, [status])) {
        const nodeId = this.store.nodeOf(id)!;
        this.stop(id, nodeId, status, { status: "cancelled", errorCode: "cancelled", error: `cancelled by ${actor}` }, actor);
      }
    }
    return this.fanOutStatus(fanoutId);
  }

  /**
   * A node's report about work. A node may report only on directives that were sent to it: a report about any
   * other (unknown, or another node's) changes nothing and comes back as the reason it was refused.
   */
  onWorkMessage(nodeId: string, msg: NodeToHubMessage): string | null {
    switch (msg.type) {
      case "directive_ack":
      case "stream_chunk":
      case "result":
        return this.onWorkMessages(nodeId, [msg])[0] ?? null;
      case "run_complete":
        return this.runComplete(nodeId, msg);
      default:
        return null;
    }
  }

  /**
   * The acks, chunks and results of one frame, in order and in one turn, so they are written in one commit. Each
   * directive is read once for the frame and its counters and start are written once (with its end when the frame
   * carries its result). A directive whose every chunk came with its result in this frame is recorded with the
   * result's output, which holds the same text, and no chunk rows. Listeners get what the frame changed as one write.
   */
  onWorkMessages(nodeId: string, messages: readonly NodeToHubMessage[]): string[] {
    return this.streams.coalesce(() => this.workMessages(nodeId, messages));
  }

  private workMessages(nodeId: string, messages: readonly NodeToHubMessage[]): string[] {
    const targets = new Map<string, ChunkTarget | null>();
    const whole = wholeInFrame(messages);
    const refusals: string[] = [];
    for (const msg of messages) {
      if (msg.type !== "directive_ack" && msg.type !== "stream_chunk" && msg.type !== "result") continue;
      let target = targets.get(msg.directiveId);
      if (target === undefined) targets.set(msg.directiveId, (target = this.store.chunkTarget(msg.directiveId)));
      const refused = notYours(msg.directiveId, target?.nodeId ?? null, nodeId);
      if (refused !== null || !target) {
        refusals.push(refused ?? `directive ${msg.directiveId} does not exist`);
        continue;
      }
      if (msg.type === "directive_ack") this.start(target);
      else if (msg.type === "stream_chunk") this.chunk(target, msg, whole.has(target.id));
      else this.result(target, msg, whole.has(target.id));
    }
    for (const target of targets.values()) if (target) this.store.flushChunks(target);
    return refusals;
  }

  onNodeGone(nodeId: string, reason: string): void {
    for (const id of this.store.inFlightOn(nodeId)) {
      this.complete(id, nodeId, { status: "lost", errorCode: "lost", error: `node ${nodeId} dropped while the directive ran (${reason})` });
    }
  }

  /**
   * Ends directives whose hub-side deadline has passed, telling the agent to stop them too. A directive whose result
   * was waiting for late chunks is recorded with that result and whatever output arrived.
   */
  expireOverdue(now: number): void {
    for (const id of this.store.overdue(now)) {
      const nodeId = this.store.nodeOf(id)!;
      const deferred = this.store.deferredResult(id);
      if (deferred) {
        const missing = deferred.result.chunks - deferred.received;
        this.complete(id, nodeId, { ...deferred.result, truncated: true, error: deferred.result.error ?? `${missing} output chunk(s) never arrived` });
        continue;
      }
      this.link.send(nodeId, { type: "cancel", directiveId: id });
      this.complete(id, nodeId, { status: "timed_out", errorCode: "timeout", error: "the hub's time limit for this directive passed" });
    }
  }

  nextDeadline(): number | null {
    return this.store.nextDeadline();
  }

  private parseCall(req: DirectiveRequest): HubResult<ActionCallType> {
    const parsed = parseActionCall({ action: req.action, params: req.params });
    if (parsed.success) return ok(parsed.data);
    const issue = parsed.error.issues[0];
    return fail(400, "invalid_params", `invalid params for ${req.action}: ${issue?.path.join(".") || "params"}: ${issue?.message ?? "invalid"}`);
  }

  /**
   * The nodes a fan-out goes to. "All" means every node online now; the ones offline are not asked, only counted
   * (`skippedOffline`), while a group or a list names its nodes, so an offline one among them is a member that failed.
   */
  private resolveTargets(target: FanOutTarget): HubResult<{ targets: NodeView[]; skippedOffline: number }> {
    let skippedOffline = 0;
    const resolved = resolveTargets(this.registry, target, (all) => {
      const online = all.filter((n) => this.link.isOnline(n.id));
      skippedOffline = all.length - online.length;
      return ok(online);
    });
    return resolved.ok ? ok({ targets: resolved.value, skippedOffline }) : resolved;
  }

  /** The folders a confined caller may read on this node. */
  private confinement(node: NodeView): string[] {
    return readableRoots(this.readablePaths(), node.sandboxRoot);
  }

  /**
   * Records a fan-out's members and settles at once what can be settled without the node:
   * offline, refused by tier, outside the readable paths of a caller who may only read. Whatever their number, the
   * rows, the read back and their activity entries are one statement each.
   */
  private admit(
    members: readonly { id: string; fanoutId: string | null; node: NodeView }[],
    call: ActionCallType,
    req: DirectiveRequest,
    requester: Requester,
    options: DirectiveOptions,
  ): Admitted[] {
    const actor = requester.actor;
    const now = Date.now();
    this.store.insertMany(
      members.map(({ id, fanoutId, node }) => this.admission(id, fanoutId, node, call, req, requester, options)),
      now,
    );
    const names = new Map(members.map(({ node }) => [node.id, node.name]));
    const what = whatRan(call.action, call.params as Record<string, unknown>);
    const records = this.store.getMany(members.map((m) => m.id), true);
    this.activity.appendMany(
      records.map(({ view }) => ({ kind: "directive", actor, nodeId: view.nodeId, directiveId: view.id, fanoutId: view.fanoutId, ...directiveChange(view, names.get(view.nodeId)!, what) })),
      now,
    );
    return records.map((rec) => ({ rec, queued: rec.view.status === "queued" }));
  }

  /** A directive's row as admitted: queued for its node, or already settled with the reason. */
  private admission(
    id: string,
    fanoutId: string | null,
    node: NodeView,
    call: ActionCallType,
    req: DirectiveRequest,
    requester: Requester,
    options: DirectiveOptions,
  ): NewDirective {
    const confineTo = requester.confined ? this.confinement(node) : null;
    const base = {
      id,
      fanoutId,
      nodeId: node.id,
      action: call.action,
      params: call.params as Record<string, unknown>,
      requestedBy: requester.actor,
      requestedByUser: requester.userId,
      confineTo,
      timeoutMs: hubTimeout(call, req.timeoutMs),
    };
    const refusal = confineTo ? confinementRefusal(call, confineTo) : null;
    if (options.viaChat && !node.aiToolsAllowed) return { ...base, status: "refused", errorCode: "ai_tools_off", error: `AI tools are turned off on node ${node.id}` };
    if (refusal) return { ...base, status: "refused", errorCode: "not_readable", error: refusal };
    if (!this.link.isOnline(node.id)) return { ...base, status: "failed", errorCode: "offline", error: offlineError(node.id) };
    if (!knowsAction(node, call.action)) {
      const error = `the agent on ${node.id} (version ${node.version ?? "unknown"}) does not know ${call.action}; update it to use it`;
      return { ...base, status: "failed", errorCode: "unsupported", error };
    }
    const decision = evaluateTier(node.runningTier ?? node.tier, call, node.sandboxRoot ? { sandboxRoot: node.sandboxRoot } : {});
    if (!decision.allowed) return { ...base, status: "refused", errorCode: "tier_refused", error: decision.reason };
    return { ...base, status: "queued" };
  }

  /** Reports the members of a fan-out settled at admission; the others wait for `pump`. */
  private afterAdmit(admitted: readonly Admitted[]): void {
    for (const { rec, queued } of admitted) if (!queued) this.publishEnd(rec.view);
  }

  /**
   * Admits, records and sends one directive (not a fan-out's member) in one turn. One that may go is recorded as
   * sent and sent at once: one row written, no update. Should the send fail (the socket went away), it is ended as
   * offline before the turn ends, so no other turn, listener or activity entry ever sees it as sent; its entry is
   * written once, with its state after the send. Nothing is ever sent that is not recorded first.
   */
  private async sendOne(id: string, node: NodeView, call: ActionCallType, req: DirectiveRequest, requester: Requester, options: DirectiveOptions): Promise<void> {
    const now = Date.now();
    const row = this.admission(id, null, node, call, req, requester, options);
    const queued = row.status === "queued";
    let rec = this.store.insertOne(row, now, queued ? now : null);
    const delivered = queued && this.link.send(node.id, directiveMessage(rec));
    if (queued && !delivered) rec = this.store.unsent(id, offlineError(node.id), now);
    const what = whatRan(call.action, call.params as Record<string, unknown>);
    this.activity.append({ kind: "directive", actor: requester.actor, nodeId: node.id, directiveId: id, fanoutId: null, ...directiveChange(rec.view, node.name, what) }, now);
    if (!delivered) {
      this.publishEnd(rec.view);
      return;
    }
    this.singlesHere.set(id, { what, name: node.name });
    this.emitStatus(id, node.id, "sent", null);
    await this.link.scheduleSweep(now + rec.view.timeoutMs);
  }

  /**
   * Sends queued directives, as just read, to their nodes; returns the earliest of their hub-side deadlines. They
   * are marked sent in one statement before anything else can run: no other turn sees them still queued.
   */
  private dispatch(records: readonly DirectiveRecord[]): number {
    const now = Date.now();
    const sent: { id: string; nodeId: string; fanoutId: string | null; deadline: number }[] = [];
    const unsent: { id: string; nodeId: string }[] = [];
    for (const rec of records) {
      const { view } = rec;
      if (view.status !== "queued") continue;
      const delivered = this.link.send(view.nodeId, directiveMessage(rec));
      if (delivered) sent.push({ id: view.id, nodeId: view.nodeId, fanoutId: view.fanoutId, deadline: now + view.timeoutMs });
      else unsent.push({ id: view.id, nodeId: view.nodeId });
    }
    this.store.markSent(sent.map((d) => d.id), now);
    let earliest = Number.POSITIVE_INFINITY;
    for (const { id, nodeId, fanoutId, deadline } of sent) {
      this.emitStatus(id, nodeId, "sent", fanoutId);
      earliest = Math.min(earliest, deadline);
    }
    for (const { id, nodeId } of unsent) this.complete(id, nodeId, offline(nodeId));
    return earliest;
  }

  /** Starts as many queued members of a fan-out as its concurrency allows. */
  private pump(fanoutId: string): void {
    const here = this.fanOutsHere.get(fanoutId);
    if (here?.queued === 0) return;
    const next = this.store.nextQueued(fanoutId);
    if (here) here.queued -= next.length;
    // Once: a member that could not be sent ends in `complete`, which pumps again for the slot it left.
    const earliest = this.dispatch(next);
    if (Number.isFinite(earliest)) void this.link.scheduleSweep(earliest);
  }

  /** The node started the directive (its ack, or its first chunk): running, written with the frame's other changes. */
  private start(target: ChunkTarget): void {
    if (this.store.startInMemory(target, Date.now())) this.emit(target.id, { event: "status", directiveId: target.id, nodeId: target.nodeId, status: "running" }, target.fanoutId);
  }

  /** The hot path of streaming: one read of the directive per frame serves the ownership check, the fan-out and the held result. */
  private chunk(target: ChunkTarget, msg: StreamChunkMessage, whole: boolean): void {
    if (target.status !== "sent" && target.status !== "running") return;
    this.start(target);
    if (!whole && !this.store.appendChunk(target, msg.seq, msg.chunk)) return;
    const event: DirectiveEvent = { event: "chunk", directiveId: target.id, nodeId: target.nodeId, seq: msg.seq, chunk: msg.chunk, stream: msg.stream };
    this.emit(target.id, event, target.fanoutId);
    if (target.pending && target.chunksReceived >= target.pending.chunks) this.end(target, target.pending);
  }

  private result(target: ChunkTarget, msg: ResultMessage, whole: boolean): void {
    if (target.status === "lost") {
      this.lateResult(target.nodeId, msg);
      return;
    }
    // A result says the node started it, like a chunk does: its ack may be handled after it.
    this.start(target);
    const outcome: Outcome = {
      status: statusOfResult(msg),
      exitCode: msg.exitCode ?? null,
      signal: msg.signal ?? null,
      output: msg.output,
      truncated: msg.truncated ?? false,
      error: msg.error ?? null,
      errorCode: (msg.errorCode ?? (msg.success ? null : "exec_failed")) as ErrorCode | null,
      data: msg.data,
    };
    // A result can overtake its last chunks; wait briefly for them rather than record an incomplete output.
    if (!whole && msg.chunks !== undefined && target.chunksReceived < msg.chunks && (target.status === "sent" || target.status === "running")) {
      const until = Date.now() + CHUNK_GRACE_MS;
      this.store.flushChunks(target);
      target.pending = { ...outcome, chunks: msg.chunks };
      this.store.deferResult(target.id, target.pending, until);
      void this.link.scheduleSweep(until);
      return;
    }
    this.end(target, outcome);
  }

  /** Ends a directive from the messages of a frame: what they changed and its end, written together. */
  private end(target: ChunkTarget, outcome: Outcome): void {
    const startedAt = target.unwritten.startedAt;
    target.unwritten.startedAt = null;
    this.store.flushChunks(target);
    if (!this.complete(target.id, target.nodeId, outcome, null, startedAt)) return;
    target.status = outcome.status;
    target.pending = null;
  }

  /** The agent finished a directive the hub had already given up as lost: keep what it did, beside the record. */
  private lateResult(nodeId: string, msg: ResultMessage): void {
    const kept = this.store.recordLateResult(msg.directiveId, {
      receivedAt: Date.now(),
      success: msg.success,
      exitCode: msg.exitCode ?? null,
      output: msg.output,
      truncated: msg.truncated ?? false,
      error: msg.error ?? null,
      errorCode: msg.errorCode ?? null,
    });
    if (!kept) return;
    const rec = this.store.get(msg.directiveId, false)!;
    const change = lateResultChange(rec.view, this.nodeName(nodeId), this.whatOf(rec), msg);
    if (this.activity.updateDirective(msg.directiveId, change)) return;
    this.activity.append({ kind: "directive", actor: rec.view.requestedBy, nodeId, directiveId: msg.directiveId, fanoutId: rec.view.fanoutId, ...change });
  }

  /**
   * A long run ended. It is recorded only for a `run.launch` directive that was sent to this node, once per launch
   * (so one node stores at most one run report per launch it was asked for, with a bounded tail). A refused report
   * is acknowledged all the same: nothing will ever accept it, and an agent would otherwise repeat it forever.
   */
  private runComplete(nodeId: string, msg: RunCompleteMessage): string | null {
    const refused = this.runRefusal(nodeId, msg);
    if (refused) {
      this.link.send(nodeId, { type: "run_complete_ack", runId: msg.runId });
      return refused;
    }
    const fresh = this.store.recordRun(
      {
        runId: msg.runId,
        nodeId,
        directiveId: msg.directiveId,
        state: msg.state,
        exitCode: msg.exitCode,
        reason: msg.reason ?? null,
        outputTail: msg.outputTail,
        startedAt: msg.startedAt,
        endedAt: msg.endedAt,
      },
      Date.now(),
    );
    if (fresh) this.logRunEnd(nodeId, msg);
    this.link.send(nodeId, { type: "run_complete_ack", runId: msg.runId });
    return null;
  }

  private runRefusal(nodeId: string, msg: RunCompleteMessage): string | null {
    const launch = this.store.launchOf(msg.directiveId);
    const refused = notYours(msg.directiveId, launch?.nodeId ?? null, nodeId);
    if (refused || !launch) return refused;
    if (launch.action !== "run.launch") return `directive ${msg.directiveId} is a ${launch.action}, which launches no run`;
    if (launch.runId !== null && launch.runId !== msg.runId) return `directive ${msg.directiveId} launched run ${launch.runId}, not ${msg.runId}`;
    const reported = this.store.runOfDirective(nodeId, msg.directiveId);
    if (reported !== null && reported !== msg.runId) return `directive ${msg.directiveId} already reported run ${reported}`;
    return null;
  }

  /**
   * A long run ended on its machine: its launch directive's entry tells how (the run may end days after the launch);
   * a launch whose entry is gone, or unknown to this hub, gets an entry of its own.
   */
  private logRunEnd(nodeId: string, msg: RunCompleteMessage): void {
    const launch = this.store.nodeOf(msg.directiveId) === nodeId ? this.store.get(msg.directiveId, false) : null;
    if (launch) {
      const change = runEndedChange(launch.view, this.nodeName(nodeId), this.whatOf(launch), msg);
      if (this.activity.updateDirective(msg.directiveId, change)) return;
      this.activity.append({ kind: "directive", actor: launch.view.requestedBy, nodeId, directiveId: msg.directiveId, ...change });
      return;
    }
    const exit = msg.exitCode !== null ? ` (exit ${msg.exitCode})` : "";
    this.activity.append({
      kind: "directive",
      level: msg.state === "done" || msg.state === "cancelled" ? "info" : "warn",
      nodeId,
      message: `run ${msg.runId} on ${this.nodeName(nodeId)} ended ${msg.state}${exit}${msg.reason ? `: ${msg.reason}` : ""}`,
      data: { runId: msg.runId, directiveId: msg.directiveId, runState: msg.state, runExitCode: msg.exitCode },
    });
  }

  private nodeName(nodeId: string): string {
    return this.registry.nameOf(nodeId) ?? nodeId;
  }

  /** What a directive ran, from its params as stored (whole, so the redactor sees every secret before it is cut). */
  private whatOf(rec: DirectiveRecord): string {
    return whatRan(rec.view.action, rec.params);
  }

  /** Stops a directive on the hub's side, telling the agent when it may be running there. */
  private stop(id: string, nodeId: string, status: DirectiveStatus, outcome: Outcome, cancelledBy: string | null = null): void {
    if (status === "sent" || status === "running") this.link.send(nodeId, { type: "cancel", directiveId: id });
    this.complete(id, nodeId, outcome, cancelledBy);
  }

  /** Records a directive's end unless it already ended; returns whether this call ended it. */
  private complete(id: string, nodeId: string, outcome: Outcome, cancelledBy: string | null = null, startedAt: number | null = null): boolean {
    const rec = this.store.finish(id, outcome, Date.now(), startedAt);
    if (!rec) return false;
    const view = rec.view;
    const words = view.fanoutId !== null ? this.fanOutsHere.get(view.fanoutId) : undefined;
    const single = this.singlesHere.get(id);
    this.singlesHere.delete(id);
    const name = single?.name ?? words?.names.get(nodeId) ?? this.nodeName(nodeId);
    const change = directiveChange(view, name, single?.what ?? words?.what ?? this.whatOf(rec), cancelledBy);
    if (!this.activity.updateDirective(id, change)) {
      this.activity.append({ kind: "directive", actor: view.requestedBy, nodeId, directiveId: id, fanoutId: view.fanoutId, ...change });
    }
    this.publishEnd(view);
    if (view.fanoutId) {
      this.pump(view.fanoutId);
      this.finishFanOutIfDone(view.fanoutId);
    }
    return true;
  }

  private publishEnd(view: DirectiveView): void {
    const event: DirectiveEvent = { event: "result", directive: view };
    this.streams.end(view.id, event);
    if (view.fanoutId) {
      this.streams.emit(view.fanoutId, event);
      this.answers.result(view.fanoutId, event);
    }
    this.onEnded(view);
  }

  /** Called after every member's end: the aggregate is counted once, when the last one has ended. */
  private finishFanOutIfDone(fanoutId: string): void {
    if (this.store.hasPending(fanoutId)) return;
    const { pending: _pending, ...aggregate } = this.store.aggregate(fanoutId);
    this.fanOutsHere.delete(fanoutId);
    this.logFanOutEnd(fanoutId, aggregate);
    if (this.streams.has(fanoutId)) this.streams.end(fanoutId, { event: "aggregate", aggregate });
    this.answers.end(fanoutId, aggregate);
  }

  /** Whether a caller still waits for this fan-out's JSON answer. */
  answerAwaited(fanoutId: string): boolean {
    return this.answers.has(fanoutId);
  }

  private logFanOutEnd(fanoutId: string, aggregate: FanOutAggregate): void {
    const fanOut = this.store.fanOut(fanoutId);
    if (fanOut) this.activity.updateFanOut(fanoutId, fanOutChange(fanOut, aggregate));
  }

  private emitStatus(id: string, nodeId: string, status: DirectiveStatus, fanoutId: string | null): void {
    this.emit(id, { event: "status", directiveId: id, nodeId, status }, fanoutId);
  }

  private emit(id: string, event: DirectiveEvent, fanoutId = this.store.fanoutOf(id)): void {
    this.streams.emit(id, event);
    if (fanoutId) this.streams.emit(fanoutId, event);
  }
}
