import { join } from "node:path";
import type { ActionParams } from "../../protocol/directives.ts";
import { RoostManifest } from "../../protocol/roost-manifest.ts";
import { sha256Hex } from "../roost/chunk-hash.ts";
import { HubChunkSource } from "../roost/hub-chunk-source.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";
import { throttledProgress, type AgentHelp, type HelpRequest } from "./agent-help.ts";
import { bash } from "./bash.ts";

type RoostParams = ActionParams<"roost.deploy">;

/**
 * The agent's side of a roost deployment. The file work runs where file actions run (agent/actions/roost-files.ts:
 * the action worker, as the action user); the agent keeps what the action user must not have, and answers that side's
 * requests for one directive only: the manifest the hub recorded for this deployment, only chunks that manifest
 * names, and the `after` command once, in `<path>/current`, through bash as the action user.
 */
class DeploymentHelp implements AgentHelp {
  private manifest: Promise<Uint8Array> | null = null;
  private chunks: Promise<Set<string>> | null = null;
  private afterRan = false;
  readonly progress: AgentHelp["progress"];

  constructor(
    private readonly params: RoostParams,
    private readonly ctx: ActionContext,
    private readonly source: HubChunkSource | null,
  ) {
    this.progress = throttledProgress(ctx.progress);
  }

  async ask(request: HelpRequest, signal: AbortSignal): Promise<Uint8Array | null> {
    switch (request.kind) {
      case "manifest":
        return this.manifestBytes();
      case "chunk":
        if (!(await this.chunkSet()).has(request.hash)) {
          throw new ActionError("invalid_params", `chunk ${request.hash.slice(0, 12)}… is not part of ${this.params.roost}@${this.params.version}`);
        }
        return this.download().chunk(request.hash, signal);
      case "after":
        await this.after();
        return null;
    }
  }

  private download(): HubChunkSource {
    if (!this.source) throw new ActionError("invalid_params", "a rollback does not download");
    return this.source;
  }

  private manifestBytes(): Promise<Uint8Array> {
    this.manifest ??= this.download().manifest(this.params.roost, this.params.version, this.ctx.signal);
    return this.manifest;
  }

  private chunkSet(): Promise<Set<string>> {
    this.chunks ??= this.manifestBytes().then((bytes) => {
      const parsed = sha256Hex(bytes) === this.params.manifestSha256 ? RoostManifest.safeParse(JSON.parse(new TextDecoder().decode(bytes))) : null;
      if (!parsed?.success) throw new ActionError("exec_failed", `the manifest of ${this.params.roost}@${this.params.version} is not the one the hub stored`);
      return new Set(parsed.data.files.flatMap((f) => (f.type === "file" ? f.chunks : [])));
    });
    return this.chunks;
  }

  /** The deployment's `after` command: a bash run of its own in the new `current`, with its own time limit. */
  private async after(): Promise<void> {
    const { after: command, afterTimeoutMs } = this.params;
    if (!command) throw new ActionError("invalid_params", "this deployment has no after command");
    if (this.afterRan) throw new ActionError("conflict", "the after command has run already");
    this.afterRan = true;
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(new ActionError("timeout", `the after command timed out after ${afterTimeoutMs} ms`)), afterTimeoutMs);
    const stop = () => limit.abort(this.ctx.signal.reason);
    this.ctx.signal.addEventListener("abort", stop, { once: true });
    this.ctx.out.write(`$ ${command}\n`);
    try {
      const cwd = join(this.params.path, "current");
      const outcome = await bash({ command, cwd, timeoutMs: afterTimeoutMs, login: true }, { ...this.ctx, signal: limit.signal });
      if (outcome.failure) throw new ActionError("exec_failed", `the version is in place but the after command failed: ${outcome.failure.message}`);
    } finally {
      clearTimeout(timer);
      this.ctx.signal.removeEventListener("abort", stop);
    }
  }
}

async function run(call: { action: "roost.deploy" | "roost.activate"; params: RoostParams }, ctx: ActionContext, download: boolean): Promise<ActionOutcome> {
  if (download && !ctx.hub) throw new ActionError("exec_failed", "this agent does not know its hub's address, so it cannot download");
  const help = new DeploymentHelp(call.params, ctx, download && ctx.hub ? new HubChunkSource(ctx.hub) : null);
  return ctx.files.run(call, ctx.policy.spec, ctx.signal, ctx.out, help);
}

export function roostDeploy(params: ActionParams<"roost.deploy">, ctx: ActionContext): Promise<ActionOutcome> {
  return run({ action: "roost.deploy", params }, ctx, true);
}

export function roostActivate(params: ActionParams<"roost.activate">, ctx: ActionContext): Promise<ActionOutcome> {
  return run({ action: "roost.activate", params }, ctx, false);
}
