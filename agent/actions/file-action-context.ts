import type { ActionCall, ActionName } from "../../protocol/directives.ts";
import type { PathPolicy } from "../sandbox/path-policy.ts";
import type { ActionOutcome, OutputSink } from "./action-context.ts";
import type { AgentHelp } from "./agent-help.ts";

/**
 * What a file action gets. File actions run where the action user's rights apply: in the action worker (a process
 * running as that user) when the agent switches users, in the agent itself otherwise. They reach files only through
 * `agent/sandbox/verified-fs.ts`, which asks `policy` about the real path of every descriptor they open.
 */
export interface FileActionContext {
  signal: AbortSignal;
  out: OutputSink;
  policy: PathPolicy;
  /** The ripgrep binary, or null to use the built-in search. */
  ripgrep: string | null;
  /** What the action may ask of the agent (downloads, the deployment's `after` command). */
  agent: AgentHelp;
}

/**
 * Actions that only read or change files: they run where the action user's rights apply. A roost deployment is one:
 * all its file work happens here, and it asks the agent (`agent`) for its downloads and its `after` command.
 */
export const FILE_ACTION_NAMES = ["read", "write", "edit", "glob", "grep", "list", "logs.read", "roost.deploy", "roost.activate"] as const satisfies readonly ActionName[];
export type FileActionName = (typeof FILE_ACTION_NAMES)[number];
export type FileActionCall = Extract<ActionCall, { action: FileActionName }>;
export type FileAction<N extends FileActionName> = (params: Extract<ActionCall, { action: N }>["params"], ctx: FileActionContext) => Promise<ActionOutcome>;
