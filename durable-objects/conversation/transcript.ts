import {
  ChatTarget,
  MachineResult,
  type ChatMessage,
  type ConversationSummary,
  type MessageRole,
  type NoteKind,
  type ToolCallStatus,
  type ToolCallView,
  type TurnStatus,
  type TurnView,
  type Usage,
} from "../../protocol/chat.ts";
import type { LlmKeyScope, LlmProvider } from "../../protocol/llm.ts";

/** The conversation's tables and their views. Every write happens here; the runner decides what to write. */

export interface Meta {
  id: string;
  site: string;
  ownerId: string;
  ownerLabel: string;
  title: string;
  target: ChatTarget;
  model: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface TurnRecord extends TurnView {
  askerId: string;
  askerLabel: string;
  /** The asker may only read inside the site's readable paths; so may this answer's tool calls. */
  confined: boolean;
  stopRequested: boolean;
}

export type ToolTarget = ToolCallView["target"];

export interface ToolCallRecord extends Omit<ToolCallView, "hubAnswer"> {
  providerCallId: string;
  position: number;
  /** What the model is told of the outcome; set once the call is resolved. */
  modelResult: string | null;
  /** For a call to every machine: the machines online when it was shown and approved, which it runs on. */
  nodeIds: string[] | null;
}

/** Statuses in which a tool call still has to be resolved before the model may be called again. */
const UNRESOLVED: readonly ToolCallStatus[] = ["proposed", "awaiting_confirmation", "approved", "running"];

interface MetaRow {
  id: string;
  site: string;
  owner_id: string;
  owner_label: string;
  title: string;
  target: string;
  model: string | null;
  created_at: number;
  updated_at: number;
  [key: string]: SqlStorageValue;
}

interface TurnRow {
  id: string;
  status: string;
  steps_used: number;
  step_limit: number;
  tool_tier: number;
  asker_id: string;
  asker_label: string;
  key_source: string | null;
  stop_requested: number;
  confined: number;
  started_at: number;
  ended_at: number | null;
  [key: string]: SqlStorageValue;
}

interface MessageRow {
  seq: number;
  id: string;
  turn_id: string;
  role: string;
  text: string;
  author: string | null;
  note_kind: string | null;
  model: string | null;
  provider: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_micro: number | null;
  cost_known: number;
  created_at: number;
  [key: string]: SqlStorageValue;
}

interface ToolCallRow {
  id: string;
  message_id: string;
  position: number;
  provider_call_id: string;
  name: string;
  input: string;
  tier: number;
  runs_on: string;
  target: string;
  status: string;
  directive_id: string | null;
  fanout_id: string | null;
  model_result: string | null;
  results: string;
  error: string | null;
  expires_at: number | null;
  decided_by: string | null;
  decided_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  node_ids: string | null;
  [key: string]: SqlStorageValue;
}

function turnOf(r: TurnRow): TurnRecord {
  return {
    id: r.id,
    status: r.status as TurnStatus,
    stepsUsed: r.steps_used,
    stepLimit: r.step_limit,
    toolTier: r.tool_tier,
    keySource: r.key_source as LlmKeyScope | null,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    askerId: r.asker_id,
    askerLabel: r.asker_label,
    confined: r.confined === 1,
    stopRequested: r.stop_requested === 1,
  };
}

function toolCallOf(r: ToolCallRow): ToolCallRecord {
  const results = MachineResult.array().safeParse(JSON.parse(r.results));
  return {
    id: r.id,
    messageId: r.message_id,
    name: r.name,
    input: JSON.parse(r.input) as Record<string, unknown>,
    tier: r.tier,
    runsOn: r.runs_on as ToolCallView["runsOn"],
    target: JSON.parse(r.target) as ToolTarget,
    status: r.status as ToolCallStatus,
    directiveId: r.directive_id,
    fanoutId: r.fanout_id,
    results: results.success ? results.data : [],
    error: r.error,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    providerCallId: r.provider_call_id,
    position: r.position,
    modelResult: r.model_result,
    nodeIds: r.node_ids === null ? null : (JSON.parse(r.node_ids) as string[]),
  };
}

/** The view of a tool call a client sees: the record without what only the loop needs. */
export function toolCallView(rec: ToolCallRecord): ToolCallView {
  const { providerCallId: _p, position: _i, nodeIds: _n, modelResult, ...view } = rec;
  // An agent tool's output is in its per-machine results; a hub tool has none, so its answer is shown as the model got it.
  return { ...view, hubAnswer: rec.runsOn === "hub" && rec.status === "done" ? modelResult : null };
}

function usageOf(input: number | null, output: number | null, cost: number | null, known: boolean): Usage | null {
  if (input === null || output === null) return null;
  return { inputTokens: input, outputTokens: output, costMicroUsd: known ? cost : null };
}

export interface NewMessage {
  id: string;
  turnId: string;
  role: MessageRole;
  text: string;
  author?: string | null;
  noteKind?: NoteKind | null;
  model?: string | null;
  provider?: LlmProvider | null;
  usage?: Usage | null;
}

export interface NewToolCall {
  id: string;
  messageId: string;
  position: number;
  providerCallId: string;
  name: string;
  input: Record<string, unknown>;
  tier: number;
  runsOn: ToolCallView["runsOn"];
  target: ToolTarget;
  status: ToolCallStatus;
  error?: string | null;
  modelResult?: string | null;
  expiresAt?: number | null;
}

export type ToolCallChange = Partial<{
  status: ToolCallStatus;
  target: ToolTarget;
  directiveId: string | null;
  fanoutId: string | null;
  modelResult: string | null;
  results: MachineResult[];
  error: string | null;
  expiresAt: number | null;
  decidedBy: string | null;
  decidedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  nodeIds: string[] | null;
}>;

const TOOL_CALL_COLUMNS: Record<keyof ToolCallChange, string> = {
  status: "status",
  target: "target",
  directiveId: "directive_id",
  fanoutId: "fanout_id",
  modelResult: "model_result",
  results: "results",
  error: "error",
  expiresAt: "expires_at",
  decidedBy: "decided_by",
  decidedAt: "decided_at",
  startedAt: "started_at",
  nodeIds: "node_ids",
  endedAt: "ended_at",
};

export class Transcript {
  constructor(private readonly sql: SqlStorage) {}

  // ---- the header ----

  meta(): Meta | null {
    const r = this.sql.exec<MetaRow>("SELECT * FROM meta").toArray()[0];
    if (!r) return null;
    return {
      id: r.id,
      site: r.site,
      ownerId: r.owner_id,
      ownerLabel: r.owner_label,
      title: r.title,
      target: ChatTarget.parse(JSON.parse(r.target)),
      model: r.model,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  createMeta(m: Meta): void {
    this.sql.exec(
      "INSERT INTO meta (id, site, owner_id, owner_label, title, target, model, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      m.id,
      m.site,
      m.ownerId,
      m.ownerLabel,
      m.title,
      JSON.stringify(m.target),
      m.model,
      m.createdAt,
      m.updatedAt,
    );
  }

  updateMeta(change: { title?: string; model?: string | null; target?: ChatTarget }, now: number): void {
    if (change.title !== undefined) this.sql.exec("UPDATE meta SET title = ?", change.title);
    if (change.model !== undefined) this.sql.exec("UPDATE meta SET model = ?", change.model);
    if (change.target !== undefined) this.sql.exec("UPDATE meta SET target = ?", JSON.stringify(change.target));
    this.touch(now);
  }

  touch(now: number): void {
    this.sql.exec("UPDATE meta SET updated_at = MAX(updated_at, ?)", now);
  }

  totals(): Usage {
    const r = this.sql
      .exec<{ i: number | null; o: number | null; c: number | null; unknown: number | null }>(
        "SELECT SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cost_micro) AS c, SUM(CASE WHEN cost_known = 0 AND role = 'assistant' THEN 1 ELSE 0 END) AS unknown FROM messages",
      )
      .one();
    return { inputTokens: r.i ?? 0, outputTokens: r.o ?? 0, costMicroUsd: r.unknown ? null : (r.c ?? 0) };
  }

  summary(): ConversationSummary | null {
    const m = this.meta();
    if (!m) return null;
    const turn = this.latestTurn();
    const { ownerId, ownerLabel, ...rest } = m;
    const eventId = this.sql.exec<{ event_id: string }>("SELECT event_id FROM investigation").toArray()[0]?.event_id ?? null;
    return { ...rest, ownerId, ownerLabel, status: turn?.status ?? null, usage: this.totals(), auto: eventId !== null, eventId };
  }

  /** Every tool call of the conversation, in order. */
  allToolCalls(): ToolCallRecord[] {
    return this.sql
      .exec<ToolCallRow>("SELECT t.* FROM tool_calls t JOIN messages m ON m.id = t.message_id ORDER BY m.seq, t.position")
      .toArray()
      .map(toolCallOf);
  }

  // ---- turns (one answer to one user message, over as many model calls as it takes) ----

  startTurn(t: { id: string; stepLimit: number; toolTier: number; askerId: string; askerLabel: string; confined: boolean }, now: number): void {
    this.sql.exec(
      "INSERT INTO turns (id, status, step_limit, tool_tier, asker_id, asker_label, confined, started_at) VALUES (?, 'running', ?, ?, ?, ?, ?, ?)",
      t.id,
      t.stepLimit,
      t.toolTier,
      t.askerId,
      t.askerLabel,
      t.confined ? 1 : 0,
      now,
    );
  }

  turn(id: string): TurnRecord | null {
    const r = this.sql.exec<TurnRow>("SELECT * FROM turns WHERE id = ?", id).toArray()[0];
    return r ? turnOf(r) : null;
  }

  /** Whether every answer so far ran confined to the readable paths (so a confined reader may read it all). */
  confinedOnly(): boolean {
    return this.sql.exec("SELECT 1 FROM turns WHERE confined = 0 LIMIT 1").toArray().length === 0;
  }

  latestTurn(): TurnRecord | null {
    const r = this.sql.exec<TurnRow>("SELECT * FROM turns ORDER BY seq DESC LIMIT 1").toArray()[0];
    return r ? turnOf(r) : null;
  }

  setTurnStatus(id: string, status: TurnStatus, now: number): void {
    const ended = status === "running" || status === "waiting" ? null : now;
    this.sql.exec("UPDATE turns SET status = ?, ended_at = ? WHERE id = ?", status, ended, id);
  }

  /** The answer's tools are capped at `tier` from its next step on (a cap only ever goes down here). */
  lowerTurnTier(id: string, tier: number): void {
    this.sql.exec("UPDATE turns SET tool_tier = ? WHERE id = ? AND tool_tier > ?", tier, id, tier);
  }

  countStep(id: string): void {
    this.sql.exec("UPDATE turns SET steps_used = steps_used + 1 WHERE id = ?", id);
  }

  /**
   * Another round of model calls after the step limit, asked for by `asker`: from now on the answer runs with their
   * rights, and stop requests from before are forgotten.
   */
  extendTurn(id: string, steps: number, asker: { toolTier: number; askerId: string; askerLabel: string; confined: boolean }, now: number): void {
    this.sql.exec(
      "UPDATE turns SET step_limit = steps_used + ?, tool_tier = ?, asker_id = ?, asker_label = ?, confined = ?, status = 'running', stop_requested = 0, ended_at = NULL WHERE id = ?",
      steps,
      asker.toolTier,
      asker.askerId,
      asker.askerLabel,
      asker.confined ? 1 : 0,
      id,
    );
    this.touch(now);
  }

  setKeySource(id: string, scope: LlmKeyScope): void {
    this.sql.exec("UPDATE turns SET key_source = ? WHERE id = ?", scope, id);
  }

  requestStop(id: string): void {
    this.sql.exec("UPDATE turns SET stop_requested = 1 WHERE id = ?", id);
  }

  // ---- messages ----

  addMessage(m: NewMessage, now: number): void {
    const usage = m.usage ?? null;
    this.sql.exec(
      `INSERT INTO messages (id, turn_id, role, text, author, note_kind, model, provider, input_tokens, output_tokens, cost_micro, cost_known, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      m.id,
      m.turnId,
      m.role,
      m.text,
      m.author ?? null,
      m.noteKind ?? null,
      m.model ?? null,
      m.provider ?? null,
      usage?.inputTokens ?? null,
      usage?.outputTokens ?? null,
      usage?.costMicroUsd ?? null,
      usage && usage.costMicroUsd === null ? 0 : 1,
      now,
    );
    this.touch(now);
  }

  /** The whole transcript in order, each message with its tool calls. */
  messages(): ChatMessage[] {
    const calls = new Map<string, ToolCallView[]>();
    for (const row of this.sql.exec<ToolCallRow>("SELECT * FROM tool_calls ORDER BY message_id, position").toArray()) {
      const list = calls.get(row.message_id) ?? [];
      list.push(toolCallView(toolCallOf(row)));
      calls.set(row.message_id, list);
    }
    return this.sql
      .exec<MessageRow>("SELECT * FROM messages ORDER BY seq")
      .toArray()
      .map((r) => this.messageOf(r, calls.get(r.id) ?? []));
  }

  message(id: string): ChatMessage | null {
    const r = this.sql.exec<MessageRow>("SELECT * FROM messages WHERE id = ?", id).toArray()[0];
    if (!r) return null;
    return this.messageOf(r, this.toolCallsOf(id).map(toolCallView));
  }

  /** The transcript as the model sees it: user and assistant messages with every tool call's recorded outcome. */
  modelRows(): { message: ChatMessage; calls: ToolCallRecord[] }[] {
    return this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE role != 'note' ORDER BY seq")
      .toArray()
      .map((r) => {
        const calls = this.toolCallsOf(r.id);
        return { message: this.messageOf(r, calls.map(toolCallView)), calls };
      });
  }

  private messageOf(r: MessageRow, toolCalls: ToolCallView[]): ChatMessage {
    return {
      id: r.id,
      turnId: r.turn_id,
      role: r.role as MessageRole,
      text: r.text,
      createdAt: r.created_at,
      author: r.author,
      noteKind: r.note_kind as NoteKind | null,
      model: r.model,
      provider: r.provider as LlmProvider | null,
      usage: usageOf(r.input_tokens, r.output_tokens, r.cost_micro, r.cost_known === 1),
      toolCalls,
    };
  }

  // ---- tool calls ----

  addToolCall(c: NewToolCall, now: number): void {
    const ended = UNRESOLVED.includes(c.status) ? null : now;
    this.sql.exec(
      `INSERT INTO tool_calls (id, message_id, position, provider_call_id, name, input, tier, runs_on, target, status, error, model_result, expires_at, ended_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      c.id,
      c.messageId,
      c.position,
      c.providerCallId,
      c.name,
      JSON.stringify(c.input),
      c.tier,
      c.runsOn,
      JSON.stringify(c.target),
      c.status,
      c.error ?? null,
      c.modelResult ?? null,
      c.expiresAt ?? null,
      ended,
    );
  }

  toolCall(id: string): ToolCallRecord | null {
    const r = this.sql.exec<ToolCallRow>("SELECT * FROM tool_calls WHERE id = ?", id).toArray()[0];
    return r ? toolCallOf(r) : null;
  }

  toolCallsOf(messageId: string): ToolCallRecord[] {
    return this.sql.exec<ToolCallRow>("SELECT * FROM tool_calls WHERE message_id = ? ORDER BY position", messageId).toArray().map(toolCallOf);
  }

  /** Tool calls of a turn not yet resolved, oldest first. */
  unresolvedOf(turnId: string): ToolCallRecord[] {
    const marks = UNRESOLVED.map(() => "?").join(", ");
    return this.sql
      .exec<ToolCallRow>(
        `SELECT t.* FROM tool_calls t JOIN messages m ON m.id = t.message_id WHERE m.turn_id = ? AND t.status IN (${marks}) ORDER BY m.seq, t.position`,
        turnId,
        ...UNRESOLVED,
      )
      .toArray()
      .map(toolCallOf);
  }

  updateToolCall(id: string, change: ToolCallChange): void {
    const entries = Object.entries(change) as [keyof ToolCallChange, unknown][];
    if (!entries.length) return;
    const sets = entries.map(([k]) => `${TOOL_CALL_COLUMNS[k]} = ?`).join(", ");
    const values = entries.map(([k, v]) => (k === "results" || k === "target" || k === "nodeIds" ? JSON.stringify(v) : (v as SqlStorageValue)));
    this.sql.exec(`UPDATE tool_calls SET ${sets} WHERE id = ?`, ...values, id);
  }

  /** Confirmations whose time is up. */
  expiredConfirmations(now: number): ToolCallRecord[] {
    return this.sql
      .exec<ToolCallRow>("SELECT * FROM tool_calls WHERE status = 'awaiting_confirmation' AND expires_at <= ?", now)
      .toArray()
      .map(toolCallOf);
  }

  nextConfirmationExpiry(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(expires_at) AS t FROM tool_calls WHERE status = 'awaiting_confirmation'").one().t;
  }
}
