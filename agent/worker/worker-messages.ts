import * as z from "zod";
import { ErrorCode, ResultData } from "../../protocol/directives.ts";
import { RoostProgress } from "../../protocol/roost-progress.ts";
import { HelpRequest } from "../actions/agent-help.ts";
import { PolicySpec } from "../sandbox/path-policy.ts";

/**
 * Messages between the agent and its action worker, over the worker's IPC pipe (Node's "advanced" serialization, so
 * a chunk's bytes travel as bytes).
 */

export interface WorkerRequest {
  type: "run";
  id: number;
  /** A file action call, already validated by the agent. */
  call: { action: string; params: Record<string, unknown> };
  policy: PolicySpec;
  ripgrep: string | null;
}

/** Can the worker's user reach this folder (open and list it)? Asked once at start about the sandbox. */
export interface WorkerProbe {
  type: "probe";
  id: number;
  path: string;
}

export interface WorkerCancel {
  type: "cancel";
  id: number;
}

/** The agent's answer to a request's `ask`: the bytes asked for (none for `after`), or why not. */
export type WorkerAnswer =
  | { type: "answer"; id: number; askId: number; bytes: Uint8Array | null }
  | { type: "answer"; id: number; askId: number; error: { code: ErrorCode; message: string } };

export type AgentToWorker = WorkerRequest | WorkerProbe | WorkerCancel | WorkerAnswer;

/**
 * The worker runs as the action user, whose other processes could tamper with it: the agent parses everything it
 * says, like any input from outside.
 */
export const WorkerToAgent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), uid: z.number().int(), gid: z.number().int(), groups: z.array(z.number().int()) }),
  z.object({ type: z.literal("out"), id: z.number().int(), data: z.string(), stream: z.enum(["stdout", "stderr"]).optional() }),
  z.object({
    type: z.literal("done"),
    id: z.number().int(),
    outcome: z.object({
      exitCode: z.number().int().nullable().optional(),
      data: ResultData.optional(),
      failure: z.object({ message: z.string(), errorCode: ErrorCode.optional() }).optional(),
    }),
  }),
  z.object({ type: z.literal("error"), id: z.number().int(), code: ErrorCode, message: z.string() }),
  /** A running request asks the agent for something (agent/actions/agent-help.ts). */
  z.object({ type: z.literal("ask"), id: z.number().int(), askId: z.number().int(), request: HelpRequest }),
  z.object({ type: z.literal("progress"), id: z.number().int(), progress: RoostProgress }),
]);
export type WorkerToAgent = z.infer<typeof WorkerToAgent>;

/** The identity the worker takes before it reads its first request; passed as its only argument. */
export const WorkerIdentity = z.object({ name: z.string(), uid: z.number().int().positive(), gid: z.number().int().positive(), groups: z.array(z.number().int()) });
export type WorkerIdentity = z.infer<typeof WorkerIdentity>;
