import type { RiskTier } from "../../protocol/action-risk.ts";
import type { NodeView } from "../../protocol/api.ts";
import { Verdict, VERDICT_TOOL, VERDICT_TOOL_NAME } from "../../protocol/autonomy.ts";
import { CONFIRMATION_TIMEOUT_MS, type ChatEvent, type NoteKind, type TurnStatus } from "../../protocol/chat.ts";
import { costMicroUsd } from "../../protocol/llm.ts";
import { TOOL_CATALOG, TOOL_NAMES } from "../../protocol/tools/catalog.ts";
import { prepareToolCall, toolsToOffer, type PreparedToolCall, type ToolRun } from "../../protocol/tools/offer.ts";
import { toolInputSchema } from "../../protocol/tools/provider-schemas.ts";
import { needsConfirmation, toolTier, type Tool } from "../../protocol/tools/tool.ts";
import type { HubResult } from "../shared/hub-result.ts";
import type { UsableLlmKey } from "../shared/llm-keys.ts";
import { isProcessTool, runProcessTool, type ProcessToolHub } from "../site-hub/process-tools.ts";
import type { MachineFilter } from "../site-hub/node-registry.ts";
import type { Requester } from "../site-hub/requester.ts";
import type { SiteHub } from "../site-hub/site-hub.ts";
import type { ChatEvents } from "./chat-events.ts";
import { runHubTool } from "./hub-tools.ts";
import type { ModelClient, ModelReply, ModelRequest } from "./model/model-client.ts";
import { modelClientFor } from "./model/model-factory.ts";
import { classify, DEFAULT_RETRY_BUDGET, explain, nextDelay } from "./model/provider-errors.ts";
import { AUTONOMY_OWNER, HUB_AUTHOR, VERDICT_REMINDER, VERDICT_REMINDERS, type InvestigationStore } from "./investigation.ts";
import { modelMessages } from "./model-transcript.ts";
import { investigationPrompt, systemPrompt, type PromptContext } from "./system-prompt.ts";
import { notRun, runOnAll, runOnNode, type ToolOutcome } from "./tool-runner.ts";
import { toolCallView, type Meta, type ToolCallRecord, type ToolTarget, type Transcript, type TurnRecord } from "./transcript.ts";

/** Tokens a model may write in one call. */
const MAX_OUTPUT_TOKENS = 4_096;
/**
 * A tool call's input, as JSON, at most: room for the largest input a tool takes (write_file's content), and well
 * under what one stored row may hold. A model server under someone's control may send any size.
 */
const MAX_TOOL_INPUT_BYTES = 1_500_000;

/** What the runner needs from the conversation object around it. */
export interface RunnerHost {
  readonly transcript: Transcript;
  /** The investigation this conversation is, if it is an autonomous one. */
  readonly investigation: InvestigationStore;
  readonly events: ChatEvents;
  hub(): DurableObjectStub<SiteHub>;
  /** The key this conversation's owner chats with (personal, else the site's), or why there is none. */
  resolveKey(meta: Meta): Promise<{ key: UsableLlmKey } | { missing: string }>;
  /** The conversation's summary changed (usage, status, update time): refresh the site's index. */
  changed(): Promise<void>;
  scheduleAlarm(): Promise<void>;
  /** An answer ended (its status and note are stored). */
  turnEnded(): Promise<void>;
}

export function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** How a tool call's directives name who asked: the person, and the conversation it came from. */
export function chatActor(label: string, conversationId: string): string {
  return `${label} via chat ${conversationId}`;
}

/** Who the site sees asking for a tool call: the asker, through the conversation, confined as the asker is. */
export function chatRequester(caller: { id: string; label: string; confined: boolean }, conversationId: string): Requester {
  const nobody = caller.id === "admin-key" || caller.id === AUTONOMY_OWNER.id;
  return { actor: chatActor(caller.label, conversationId), userId: nobody ? null : caller.id, confined: caller.confined };
}

function isAgentTool(tool: Tool): boolean {
  return tool.runs.on === "agent";
}

/** The machine a hub-side tool acts on (the process tools name one), or null when it reads the site's records. */
function machineOf(run: ToolRun): string | null {
  return run.on === "hub" && isProcessTool(run.handler) ? String(run.input.machine) : null;
}

/** What the model is told of a tool call that ended without running, by why the answer ended. */
const UNRUN: Partial<Record<TurnStatus, string>> = {
  stopped: "Not run: the user stopped the answer.",
  error: "Not run: the answer ended with an error.",
};

/**
 * The tool loop of one conversation, run inside its object (never in a request), as a state machine over what is
 * stored: every step it takes is written before the next begins, so a restarted object picks up where the stored
 * state says and nothing is done twice. A model call in progress at a restart is made again (it changes nothing);
 * a tool call in progress is followed by its recorded directive id, never sent again.
 */
export class TurnRunner {
  private loop: Promise<void> | null = null;
  private again = false;
  private model: AbortController | null = null;
  private wakeFromPause: (() => void) | null = null;
  private cachedKey: { turnId: string; key: UsableLlmKey; client: ModelClient } | null = null;
  /** The text of the model call under way, for clients that attach in the middle of it. */
  partial: { messageId: string; text: string } | null = null;

  constructor(private readonly host: RunnerHost) {}

  get busy(): boolean {
    return this.loop !== null;
  }

  /** Resolves when the loop has stopped (paused for a decision, or the answer ended). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Makes the loop look at the stored state again, starting it if it is not running. */
  kick(): void {
    if (this.loop) {
      this.again = true;
      return;
    }
    this.loop = (async () => {
      do {
        this.again = false;
        await this.advance();
      } while (this.again);
    })()
      .catch((error: unknown) => this.crashed(error))
      .finally(() => {
        this.loop = null;
      });
  }

  /** Stop: abort the model stream and any back-off pause; the loop then sees the stop request. */
  interrupt(): void {
    this.model?.abort();
    this.wakeFromPause?.();
  }

  private get t(): Transcript {
    return this.host.transcript;
  }

  private emit(event: ChatEvent): void {
    this.host.events.emit(event);
  }

  private emitCall(type: "tool_call" | "tool_result" | "confirmation", id: string): void {
    const rec = this.t.toolCall(id);
    if (rec) this.emit({ type, toolCall: toolCallView(rec) });
  }

  private async advance(): Promise<void> {
    for (;;) {
      const meta = this.t.meta();
      const turn = this.t.latestTurn();
      if (!meta || !turn || turn.status !== "running") return;
      if (turn.stopRequested) return this.finish(turn, "stopped", { kind: "stopped", text: "Stopped." });

      // An investigation ends with its verdict; tool calls the model asked for after it are not run.
      if (this.host.investigation.get()?.verdict) return this.finish(turn, "done", null);
      const investigation = this.host.investigation.get() !== null;
      const pending = this.t.unresolvedOf(turn.id);
      if (pending.length) {
        for (const call of pending) {
          // Before each call, not each reply: one reply may hold many calls, and the first may run for minutes.
          if (investigation && !(await this.withinAutonomySettings(turn))) return;
          if ((await this.resolve(call, turn, meta)) === "wait") {
            this.t.setTurnStatus(turn.id, "waiting", Date.now());
            this.emitTurn(turn.id);
            await this.host.scheduleAlarm();
            await this.host.changed();
            return;
          }
          if (this.t.turn(turn.id)?.stopRequested || this.host.investigation.get()?.verdict) break;
        }
        continue;
      }
      if (turn.stepsUsed >= turn.stepLimit) {
        return this.finish(turn, "step_limit", {
          kind: "step_limit",
          text: `Paused after ${turn.stepsUsed} model calls, the limit for one message on this site. Continue to let the assistant go on.`,
        });
      }
      if (investigation && !(await this.withinAutonomySettings(turn))) return;
      if (!(await this.modelStep(turn, meta))) return;
    }
  }

  /**
   * An investigation runs under the site's autonomy settings as they are now, not as they were when it started:
   * turning autonomy off stops it, and a lowered maximum tier caps its next tool call and model step. False when it
   * was stopped. The settings are read before every tool call and model call, since nobody is watching an
   * investigation to stop it by hand.
   */
  private async withinAutonomySettings(turn: TurnRecord): Promise<boolean> {
    const settings = await this.host.hub().getSettings();
    if (!settings.autonomyEnabled) {
      await this.finish(turn, "stopped", { kind: "stopped", text: "Stopped: autonomous investigations were turned off on this site." });
      return false;
    }
    if (settings.autonomyMaxTier < turn.toolTier) {
      this.t.lowerTurnTier(turn.id, settings.autonomyMaxTier);
      turn.toolTier = settings.autonomyMaxTier;
      this.emitTurn(turn.id);
    }
    return true;
  }

  // ---- tool calls ----

  private prepare(call: ToolCallRecord, turn: TurnRecord): PreparedToolCall {
    return prepareToolCall(call.name, call.input, { riskCap: turn.toolTier as RiskTier });
  }

  /** Moves a tool call on by one state; "wait" when it needs a person's decision first. */
  private async resolve(call: ToolCallRecord, turn: TurnRecord, meta: Meta): Promise<"wait" | "next"> {
    if (call.status === "awaiting_confirmation") return "wait";
    const investigation = this.host.investigation.get() !== null;
    if (investigation && call.name === VERDICT_TOOL_NAME) {
      this.verdict(call);
      return "next";
    }
    const prepared = this.prepare(call, turn);
    if (!prepared.ok) {
      await this.refuse(call, prepared.message, turn, meta, prepared.code !== "invalid_input");
      return "next";
    }
    // Checked before asking anyone and again before running (the switch may be turned off in between).
    const offLimits = await this.machineRefusal(prepared.run, meta);
    if (offLimits) {
      this.store(call.id, notRun("refused", offLimits));
      return "next";
    }
    if (call.status === "proposed") {
      const { target, nodeIds } = await this.targetOf(prepared, call, meta);
      // An investigation has nobody to ask: it is offered tier 3 only when the site's maxTier is 3, and then it runs.
      if (needsConfirmation(prepared.tool) && !investigation) {
        this.t.updateToolCall(call.id, { status: "awaiting_confirmation", target, nodeIds, expiresAt: Date.now() + CONFIRMATION_TIMEOUT_MS });
        this.emitCall("confirmation", call.id);
        return "wait";
      }
      this.t.updateToolCall(call.id, { status: "approved", target, nodeIds });
      if (needsConfirmation(prepared.tool)) {
        await this.host.hub().recordChat({
          actor: chatActor(turn.askerLabel, meta.id),
          level: "warn",
          message: `chat ${meta.id}: autonomous investigation runs tier-3 tool ${call.name} without confirmation (the site's maximum tier is 3)`,
          data: { conversationId: meta.id, tool: call.name, input: call.input },
        });
      }
    }
    await this.execute(this.t.toolCall(call.id)!, prepared, turn, meta);
    return "next";
  }

  /** The investigation's verdict: checked against its schema; an invalid one is refused so the model can fix it. */
  private verdict(call: ToolCallRecord): void {
    const parsed = Verdict.safeParse(call.input);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
      return this.store(call.id, notRun("refused", `invalid verdict (${issues}); call ${VERDICT_TOOL_NAME} again with resolved, summary and actions`));
    }
    this.host.investigation.setVerdict(parsed.data);
    this.store(call.id, { status: "done", modelResult: "Verdict recorded; the investigation ends here.", results: [], error: null });
  }

  private async refuse(call: ToolCallRecord, reason: string, turn: TurnRecord, meta: Meta, audit: boolean): Promise<void> {
    this.store(call.id, notRun("refused", reason));
    if (audit) {
      // A model naming a tool it was not offered is worth a line in the site's log: it may be a prompt injection.
      await this.host.hub().recordChat({
        actor: chatActor(turn.askerLabel, meta.id),
        level: "warn",
        message: `chat ${meta.id}: the model asked for tool ${call.name.slice(0, 64)}, which was not offered; refused without running`,
        data: { conversationId: meta.id, tool: call.name.slice(0, 64) },
      });
    }
  }

  /**
   * Why a hub-side tool that acts on a machine (the process tools name one) may not act on this one: a single-machine
   * conversation reaches only its machine, and the machine's "AI tools allowed" switch holds as for agent tools.
   */
  private async machineRefusal(run: ToolRun, meta: Meta): Promise<string | null> {
    const machine = machineOf(run);
    if (machine === null) return null;
    if ("node" in meta.target && meta.target.node !== machine) return `this conversation is about machine ${meta.target.node}; ${machine} is outside it`;
    const node = (await this.host.hub().getNode(machine)) as HubResult<NodeView>;
    return node.ok && !node.value.aiToolsAllowed ? `AI tools are turned off on node ${machine}` : null;
  }

  /**
   * Where a tool call will run, as the confirmation card and the transcript show it. A call to every machine is
   * pinned to the machines online now, the ones the card counts: one that connects before the approval is not in it.
   */
  private async targetOf(prepared: Extract<PreparedToolCall, { ok: true }>, call: ToolCallRecord, meta: Meta): Promise<{ target: ToolTarget; nodeIds: string[] | null }> {
    const machine = machineOf(prepared.run);
    if (machine !== null) return { target: { node: machine }, nodeIds: null };
    const tool = prepared.tool;
    if (!isAgentTool(tool)) return { target: { hub: true }, nodeIds: null };
    if ("node" in call.target) return { target: call.target, nodeIds: null };
    if ("node" in meta.target) return { target: { node: meta.target.node }, nodeIds: null };
    const nodeIds = await this.host.hub().onlineNodeIds();
    return { target: { all: true, machines: nodeIds.length }, nodeIds };
  }

  private store(id: string, outcome: ToolOutcome): void {
    this.t.updateToolCall(id, { status: outcome.status, modelResult: outcome.modelResult, results: outcome.results, error: outcome.error, endedAt: Date.now() });
    this.emitCall("tool_result", id);
  }

  private async execute(call: ToolCallRecord, prepared: Extract<PreparedToolCall, { ok: true }>, turn: TurnRecord, meta: Meta): Promise<void> {
    const requester = chatRequester({ id: turn.askerId, label: turn.askerLabel, confined: turn.confined }, meta.id);
    const actor = requester.actor;
    const stopped = () => this.t.turn(turn.id)?.stopRequested === true;
    const hub = this.host.hub();
    if (prepared.run.on === "hub") {
      this.t.updateToolCall(call.id, { status: "running", startedAt: Date.now() });
      this.emitCall("tool_call", call.id);
      const { handler, input } = prepared.run;
      let outcome: { ok: boolean; text: string };
      if (isProcessTool(handler)) {
        // The stub's methods are the SiteHub's, their results wrapped for RPC: the same values the tools read.
        outcome = await runProcessTool(handler, hub as unknown as ProcessToolHub, input, requester);
      } else {
        const records = {
          // The model never reads other people's access events (sign-ins, failed attempts, keys): only the asker's own.
          activity: (q: Parameters<SiteHub["queryActivity"]>[0]) => hub.queryActivity(q, { ...requester, audit: false }),
          machines: async (filter: MachineFilter, limit: number) => (await hub.findNodes(filter, limit)) as { total: number; nodes: NodeView[] },
        };
        outcome = { ok: true, text: await runHubTool(handler, records, input, Date.now()) };
      }
      await hub.recordChat({ actor, message: `chat ${meta.id}: ${call.name} answered by the hub`, data: { conversationId: meta.id, tool: call.name } });
      this.store(call.id, { status: outcome.ok ? "done" : "failed", modelResult: outcome.text, results: [], error: outcome.ok ? null : outcome.text });
      return;
    }
    const action = prepared.run.call;
    let target = call.target;
    if (call.status !== "running") {
      // The directive's id is stored before the directive is asked for: after a restart the same id is followed.
      if ("node" in target) {
        this.t.updateToolCall(call.id, { status: "running", directiveId: newId("d"), startedAt: Date.now() });
      } else {
        const nodeIds = call.nodeIds ?? (await hub.onlineNodeIds());
        if (nodeIds.length === 0) return this.store(call.id, notRun("refused", "no machine of the site is online; nothing was run"));
        target = { all: true, machines: nodeIds.length };
        this.t.updateToolCall(call.id, { status: "running", target, nodeIds, fanoutId: newId("f"), startedAt: Date.now() });
      }
      this.emitCall("tool_call", call.id);
    }
    const running = this.t.toolCall(call.id)!;
    const outcome =
      "node" in target
        ? await runOnNode(hub, target.node, action, running.directiveId!, requester, stopped)
        : await runOnAll(hub, action, running.nodeIds ?? (await hub.onlineNodeIds()), running.fanoutId!, requester, stopped);
    this.store(call.id, outcome);
  }

  // ---- model calls ----

  /**
   * The key (and a client for it) an answer uses, looked up once per answer and kept in memory only: a key changed
   * meanwhile applies from the next message.
   */
  useKey(turnId: string, key: UsableLlmKey): { key: UsableLlmKey; client: ModelClient } {
    this.cachedKey = { turnId, key, client: modelClientFor(key) };
    this.t.setKeySource(turnId, key.scope);
    return this.cachedKey;
  }

  private async key(turn: TurnRecord, meta: Meta): Promise<{ key: UsableLlmKey; client: ModelClient } | string> {
    if (this.cachedKey?.turnId === turn.id) return this.cachedKey;
    const found = await this.host.resolveKey(meta);
    if ("missing" in found) return found.missing;
    return this.useKey(turn.id, found.key);
  }

  /** What the prompt says of the target: a count for the whole site, the one machine's row otherwise, never every row. */
  private async promptMachines(target: Meta["target"]): Promise<PromptContext["machines"]> {
    const hub = this.host.hub();
    if ("all" in target) return { online: await hub.onlineNodeCount() };
    const found = await hub.getNode(target.node);
    return { node: found.ok ? (found.value as NodeView) : null };
  }

  /** One model call, retried while the provider is busy; false when the turn ended instead. */
  private async modelStep(turn: TurnRecord, meta: Meta): Promise<boolean> {
    const found = await this.key(turn, meta);
    if (typeof found === "string") {
      await this.finish(turn, "error", { kind: "error", text: found });
      return false;
    }
    const { key, client } = found;
    const model = meta.model ?? key.model;
    const machines = await this.promptMachines(meta.target);
    const investigation = this.host.investigation.get();
    const tools = toolsToOffer({ riskCap: turn.toolTier as RiskTier, ...(investigation ? { maxTier: turn.toolTier as RiskTier } : {}) });
    const offered = investigation ? [...tools, VERDICT_TOOL] : tools;
    const context = { site: meta.site, target: meta.target, machines, toolTier: turn.toolTier, now: Date.now() };
    const request: ModelRequest = {
      model,
      system: investigation ? investigationPrompt({ ...context, directive: investigation.directive }) : systemPrompt(context),
      messages: modelMessages(this.t),
      tools: offered.map((tool) => ({ name: tool.name, description: tool.description, inputSchema: toolInputSchema(tool) })),
      maxTokens: MAX_OUTPUT_TOKENS,
    };
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      const messageId = newId("m");
      this.partial = { messageId, text: "" };
      this.emit({ type: "step", turnId: turn.id, messageId, model, provider: key.provider });
      const controller = new AbortController();
      this.model = controller;
      let reply: ModelReply;
      try {
        reply = await client.complete(
          request,
          (delta) => {
            if (this.partial?.messageId !== messageId) return;
            this.partial.text += delta;
            this.emit({ type: "text", messageId, delta });
          },
          controller.signal,
        );
      } catch (error) {
        const failure = classify(error, key.apiKey);
        const streamed = this.partial?.text ?? "";
        this.partial = null;
        // The conversation was deleted meanwhile: there is nothing left to write to.
        if (!this.t.turn(turn.id)) return false;
        if (failure.kind === "aborted" || this.t.turn(turn.id)?.stopRequested) {
          // What was already shown stays in the transcript; the tool calls the model had begun are dropped.
          if (streamed) {
            this.t.addMessage({ id: messageId, turnId: turn.id, role: "assistant", text: streamed, model, provider: key.provider }, Date.now());
            this.emitMessage(messageId);
          }
          await this.finish(this.t.turn(turn.id)!, "stopped", { kind: "stopped", text: "Stopped." });
          return false;
        }
        if (streamed) this.emit({ type: "step_reset", messageId, reason: failure.detail });
        const delay = nextDelay(failure, attempt, waited, DEFAULT_RETRY_BUDGET);
        if (delay === null) {
          await this.finish(turn, "error", { kind: "error", text: explain(failure, key.provider, model, key.scope, attempt) });
          return false;
        }
        this.emit({ type: "retry", attempt, waitMs: delay, reason: `${failure.status ?? "network"}: ${failure.detail}`.slice(0, 300) });
        await this.pause(delay);
        waited += delay;
        continue;
      } finally {
        this.model = null;
      }
      // Outside the try: a failure to record the reply is the hub's, not the provider's, and is never retried (a
      // second call would record the model's tool calls twice).
      this.partial = null;
      await this.recordReply(turn, messageId, model, key, reply);
      return true;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeFromPause = () => {
        this.wakeFromPause = null;
        done();
      };
    });
  }

  private async recordReply(turn: TurnRecord, messageId: string, model: string, key: UsableLlmKey, reply: ModelReply): Promise<void> {
    const now = Date.now();
    const usage = { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens, costMicroUsd: costMicroUsd(key.provider, model, reply.inputTokens, reply.outputTokens) };
    const meta = this.t.meta()!;
    this.t.countStep(turn.id);
    this.t.addMessage({ id: messageId, turnId: turn.id, role: "assistant", text: reply.text, model, provider: key.provider, usage }, now);
    const investigation = this.host.investigation.get();
    reply.toolCalls.forEach((call, position) => {
      const catalogued = TOOL_NAMES.includes(call.name as (typeof TOOL_NAMES)[number]) ? TOOL_CATALOG[call.name as (typeof TOOL_NAMES)[number]] : null;
      const verdict = investigation !== null && call.name === VERDICT_TOOL_NAME;
      const tool = catalogued ?? (verdict ? { tier: 1 as const, runs: { on: "hub" as const } } : null);
      const target: ToolTarget = tool && tool.runs.on === "hub" ? { hub: true } : "node" in meta.target ? { node: meta.target.node } : { all: true, machines: null };
      const size = call.input === null ? 0 : new TextEncoder().encode(JSON.stringify(call.input)).length;
      const invalid =
        call.input === null
          ? `the input was not a JSON object: ${call.rawInput.slice(0, 200)}`
          : size > MAX_TOOL_INPUT_BYTES
            ? `the input is too large (${size} bytes of JSON; at most ${MAX_TOOL_INPUT_BYTES})`
            : null;
      this.t.addToolCall(
        {
          id: newId("t"),
          messageId,
          position,
          providerCallId: call.id,
          name: call.name.slice(0, 200),
          input: invalid ? {} : call.input!,
          tier: tool ? toolTier(tool) : 3,
          runsOn: tool && tool.runs.on === "hub" ? "hub" : "agent",
          target,
          status: invalid ? "refused" : "proposed",
          error: invalid,
          modelResult: invalid ? `Not run: ${invalid}` : null,
        },
        now,
      );
    });
    this.emitMessage(messageId);
    this.emit({ type: "usage", messageId, model, usage, total: this.t.totals() });
    await this.host.changed();
    if (!reply.toolCalls.length) {
      if (investigation && !investigation.verdict && investigation.reminders < VERDICT_REMINDERS && this.t.turn(turn.id)!.stepsUsed < turn.stepLimit) {
        this.host.investigation.countReminder();
        const reminderId = newId("m");
        this.t.addMessage({ id: reminderId, turnId: turn.id, role: "user", text: VERDICT_REMINDER, author: HUB_AUTHOR }, Date.now());
        this.emitMessage(reminderId);
        return;
      }
      const cut = reply.stopReason === "max_tokens" || reply.stopReason === "length";
      await this.finish(turn, "done", cut ? { kind: "info", text: "The answer reached the model's output limit and was cut. Ask it to continue." } : null);
    }
  }

  // ---- the end of an answer ----

  private emitMessage(id: string): void {
    const message = this.t.message(id);
    if (message) this.emit({ type: "message", message });
  }

  private emitTurn(turnId: string): void {
    const turn = this.t.turn(turnId);
    if (turn) this.emit({ type: "turn", turn: publicTurn(turn) });
  }

  /** Ends the answer: tool calls left unresolved are closed, a note says why it ended, clients hear `done`. */
  async finish(turn: TurnRecord, status: TurnStatus, note: { kind: NoteKind; text: string } | null): Promise<void> {
    const now = Date.now();
    for (const call of this.t.unresolvedOf(turn.id)) {
      const why = UNRUN[status] ?? "Not run.";
      this.t.updateToolCall(call.id, { status: "cancelled", modelResult: why, error: why, endedAt: now });
      this.emitCall("tool_result", call.id);
    }
    if (note) {
      const id = newId("m");
      this.t.addMessage({ id, turnId: turn.id, role: "note", text: note.text, noteKind: note.kind }, now);
      this.emitMessage(id);
    }
    this.t.setTurnStatus(turn.id, status, now);
    this.cachedKey = null;
    this.emitTurn(turn.id);
    const investigation = this.host.investigation.get() !== null;
    this.emit({ type: "done", turnId: turn.id, status, canContinue: status === "step_limit" && !investigation, note: note?.text ?? null });
    await this.host.scheduleAlarm();
    await this.host.changed();
    await this.host.turnEnded();
  }

  private async crashed(error: unknown): Promise<void> {
    console.error("chat turn failed", error instanceof Error ? (error.stack ?? error.message) : String(error));
    const turn = this.t.latestTurn();
    if (!turn || (turn.status !== "running" && turn.status !== "waiting")) return;
    await this.finish(turn, "error", { kind: "error", text: "The hub hit an internal error while answering; the answer stopped. Send the message again." }).catch(
      () => undefined,
    );
  }
}

/** A turn as clients see it. */
export function publicTurn(turn: TurnRecord) {
  const { askerId: _a, askerLabel: _l, stopRequested: _s, confined: _c, ...view } = turn;
  return view;
}
