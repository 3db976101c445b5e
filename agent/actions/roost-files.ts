import type { ActionParams } from "../../protocol/directives.ts";
import type { ChunkSource } from "../roost/chunk-supply.ts";
import { activateVersion, deployVersion, type RoostDeps } from "../roost/deploy-version.ts";
import { ActionError } from "./action-error.ts";
import { throttledProgress } from "./agent-help.ts";
import type { FileAction, FileActionContext } from "./file-action-context.ts";

/**
 * The file side of `roost.deploy` and `roost.activate`: it runs where file actions run (the action worker, as the
 * action user) and does every read and write of the deployment there, through verified descriptors. What it needs
 * from outside it asks the agent for: the manifest and the chunks (downloaded with the node's token, hashed again
 * here before use) and the `after` command (run as the action user, in the directive's tracked set).
 */

async function bytes(answer: Promise<Uint8Array | null>, what: string): Promise<Uint8Array> {
  const data = await answer;
  if (!data) throw new ActionError("exec_failed", `the agent sent no ${what}`);
  return data;
}

function deps(params: ActionParams<"roost.deploy">, ctx: FileActionContext, download: boolean): RoostDeps {
  const source: ChunkSource = {
    // The agent serves the manifest of the deployment this directive belongs to, whatever is named here.
    manifest: (_roost, _version, signal) => bytes(ctx.agent.ask({ kind: "manifest" }, signal), "manifest"),
    chunk: (hash, signal) => bytes(ctx.agent.ask({ kind: "chunk", hash }, signal), `chunk ${hash.slice(0, 12)}…`),
  };
  return {
    source: download ? source : null,
    progress: throttledProgress((p) => ctx.agent.progress(p)),
    say: (line) => ctx.out.write(`${line}\n`),
    after: params.after
      ? async () => {
          await ctx.agent.ask({ kind: "after" }, ctx.signal);
        }
      : null,
    signal: ctx.signal,
  };
}

export const roostDeployFiles: FileAction<"roost.deploy"> = async (params, ctx) => ({ data: await deployVersion(params, ctx.policy, deps(params, ctx, true)) });

export const roostActivateFiles: FileAction<"roost.activate"> = async (params, ctx) => ({ data: await activateVersion(params, ctx.policy, deps(params, ctx, false)) });
