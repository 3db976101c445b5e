/**
 * Entry point of the action worker: `action-worker.ts <identity JSON>`. Started by the agent as root, it becomes the
 * action user before it reads anything, then runs file actions for the agent over its IPC pipe, so that the kernel
 * checks every file it opens against that user's rights, and the policy checks every descriptor's real path.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { ActionError } from "../actions/action-error.ts";
import type { AgentHelp } from "../actions/agent-help.ts";
import { performFileAction } from "../actions/file-actions.ts";
import type { FileActionCall } from "../actions/file-action-context.ts";
import { PathPolicy } from "../sandbox/path-policy.ts";
import { dropPrivileges } from "./drop-privileges.ts";
import { WorkerIdentity, type AgentToWorker, type WorkerToAgent } from "./worker-messages.ts";

const inFlight = new Map<number, AbortController>();
/** Questions to the agent waiting for its answer, by ask id. */
const asks = new Map<number, { resolve(bytes: Uint8Array | null): void; reject(err: unknown): void }>();
let nextAsk = 1;

function send(message: WorkerToAgent): void {
  process.send?.(message);
}

/** What a request may ask of the agent, over the pipe: the agent answers with bytes or a refusal. */
function helpFor(id: number): AgentHelp {
  return {
    ask: (request, signal) => {
      signal.throwIfAborted();
      const askId = nextAsk++;
      return new Promise<Uint8Array | null>((resolve, reject) => {
        const onAbort = () => {
          asks.delete(askId);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        const settle = () => {
          asks.delete(askId);
          signal.removeEventListener("abort", onAbort);
        };
        asks.set(askId, {
          resolve: (bytes) => {
            settle();
            resolve(bytes);
          },
          reject: (err) => {
            settle();
            reject(err);
          },
        });
        send({ type: "ask", id, askId, request });
      });
    },
    progress: (progress) => send({ type: "progress", id, progress }),
  };
}

function answer(message: Extract<AgentToWorker, { type: "answer" }>): void {
  const waiting = asks.get(message.askId);
  if (!waiting) return;
  if ("error" in message) waiting.reject(new ActionError(message.error.code, message.error.message));
  else waiting.resolve(message.bytes === null ? null : Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength));
}

async function handle(request: Extract<AgentToWorker, { type: "run" }>): Promise<void> {
  const controller = new AbortController();
  inFlight.set(request.id, controller);
  try {
    const outcome = await performFileAction(request.call as FileActionCall, {
      signal: controller.signal,
      policy: new PathPolicy(request.policy),
      ripgrep: request.ripgrep,
      agent: helpFor(request.id),
      out: { write: (data, stream) => send({ type: "out", id: request.id, data: data.toString(), ...(stream && { stream }) }) },
    });
    send({ type: "done", id: request.id, outcome });
  } catch (err) {
    const failure = err instanceof ActionError ? err : new ActionError("exec_failed", err instanceof Error ? err.message : String(err));
    send({ type: "error", id: request.id, code: failure.code, message: failure.message });
  } finally {
    inFlight.delete(request.id);
  }
}

async function probe(request: Extract<AgentToWorker, { type: "probe" }>): Promise<void> {
  try {
    await access(request.path, constants.R_OK | constants.X_OK);
    send({ type: "done", id: request.id, outcome: {} });
  } catch (err) {
    send({ type: "error", id: request.id, code: "exec_failed", message: (err as Error).message });
  }
}

try {
  const identity = WorkerIdentity.parse(JSON.parse(process.argv[2] ?? ""));
  dropPrivileges(identity);
  process.on("message", (message: AgentToWorker) => {
    if (message.type === "cancel") inFlight.get(message.id)?.abort(new ActionError("cancelled", "cancelled"));
    else if (message.type === "probe") void probe(message);
    else if (message.type === "answer") answer(message);
    else void handle(message);
  });
  // The agent going away closes the pipe; nothing is left to work for.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", uid: process.getuid!(), gid: process.getgid!(), groups: process.getgroups!() });
} catch (err) {
  process.stderr.write(`action worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
