import { z } from "zod";
import { ErrorCode, ResultData } from "../../protocol/directives.ts";
import { PolicySpec } from "../sandbox/path-policy.ts";

/** Messages between the agent and its action worker, over the worker's IPC pipe. */

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

export type AgentToWorker = WorkerRequest | WorkerProbe | WorkerCancel;

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
]);
export type WorkerToAgent = z.infer<typeof WorkerToAgent>;

/** The identity the worker takes before it reads its first request; passed as its only argument. */
export const WorkerIdentity = z.object({ name: z.string(), uid: z.number().int().positive(), gid: z.number().int().positive(), groups: z.array(z.number().int()) });
export type WorkerIdentity = z.infer<typeof WorkerIdentity>;
