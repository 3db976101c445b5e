import type { ActionParams } from "../../protocol/directives.ts";
import type { RoostProgress } from "../../protocol/roost-api.ts";
import { HubChunkSource } from "../roost/hub-chunk-source.ts";
import { activateVersion, deployVersion, type RoostDeps } from "../roost/deploy-version.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";
import { bash } from "./bash.ts";

/** Progress goes to the hub at most this often, besides every change of phase. */
const PROGRESS_EVERY_MS = 250;

function throttled(report: (p: RoostProgress) => void): (p: RoostProgress) => void {
  let last = 0;
  let phase = "";
  return (p) => {
    const now = Date.now();
    if (p.phase === phase && now - last < PROGRESS_EVERY_MS && p.bytesDone < p.bytesTotal) return;
    phase = p.phase;
    last = now;
    report(p);
  };
}

/** The deployment's `after` command: a bash directive of its own in the new folder, with its own time limit. */
function afterCommand(params: ActionParams<"roost.deploy">, ctx: ActionContext): RoostDeps["after"] {
  const command = params.after;
  if (!command) return null;
  return async (cwd) => {
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(new ActionError("timeout", `the after command timed out after ${params.afterTimeoutMs} ms`)), params.afterTimeoutMs);
    const stop = () => limit.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", stop, { once: true });
    ctx.out.write(`$ ${command}\n`);
    try {
      const outcome = await bash({ command, cwd, timeoutMs: params.afterTimeoutMs }, { ...ctx, signal: limit.signal });
      if (outcome.failure) throw new ActionError("exec_failed", `the version is in place but the after command failed: ${outcome.failure.message}`);
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", stop);
    }
  };
}

function deps(params: ActionParams<"roost.deploy">, ctx: ActionContext, download: boolean): RoostDeps {
  if (download && !ctx.hub) throw new ActionError("exec_failed", "this agent does not know its hub's address, so it cannot download");
  return {
    source: download && ctx.hub ? new HubChunkSource(ctx.hub) : null,
    progress: throttled(ctx.progress),
    say: (line) => ctx.out.write(`${line}\n`),
    after: afterCommand(params, ctx),
    signal: ctx.signal,
  };
}

export async function roostDeploy(params: ActionParams<"roost.deploy">, ctx: ActionContext): Promise<ActionOutcome> {
  return { data: await deployVersion(params, deps(params, ctx, true)) };
}

export async function roostActivate(params: ActionParams<"roost.activate">, ctx: ActionContext): Promise<ActionOutcome> {
  return { data: await activateVersion(params, deps(params, ctx, false)) };
}
