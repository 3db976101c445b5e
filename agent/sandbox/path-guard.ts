import { realpathSync } from "node:fs";
import type { ActionCall } from "../../protocol/directives.ts";
import { evaluateTier, type TierPolicyOptions } from "../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { ActionError } from "../actions/action-error.ts";
import { resolveRealPath } from "./real-path.ts";

/** The call with its filesystem path replaced, so the policy can be asked about another place. */
function withPath<C extends ActionCall>(call: C, key: "path" | "cwd" | "file", value: string): C {
  return { ...call, params: { ...call.params, [key]: value } };
}

async function withRealPaths(call: ActionCall): Promise<ActionCall> {
  switch (call.action) {
    case "read":
    case "write":
    case "edit":
    case "glob":
    case "grep":
    case "list":
      return withPath(call, "path", await resolveRealPath(call.params.path));
    case "disk.usage":
      return call.params.path ? withPath(call, "path", await resolveRealPath(call.params.path)) : call;
    case "logs.read":
      return call.params.file ? withPath(call, "file", await resolveRealPath(call.params.file)) : call;
    case "bash":
    case "run.launch":
      return call.params.cwd ? withPath(call, "cwd", await resolveRealPath(call.params.cwd)) : call;
    case "run.status":
    case "run.cancel":
    case "system.info":
    case "process.list":
    case "network.info":
    case "service.status":
    case "agent.health":
    case "service.manage":
    case "process.signal":
    case "disk.clean":
    case "system.reboot":
    case "system.shutdown":
    case "system.cancel_shutdown":
    case "supervised.start":
    case "supervised.stop":
    case "supervised.restart":
    case "supervised.logs":
      return call;
  }
}

/**
 * The agent's own enforcement of its capability tier. The hub already checked the paths as written; here they are
 * checked again with symlinks resolved, and the action then works on the resolved path so that what was checked is
 * what gets touched (short of a symlink swapped in between, which no path check can rule out).
 */
export class PathGuard {
  constructor(
    private readonly tier: CapabilityTier,
    private readonly sandboxRoot: string,
  ) {}

  /** The call to run, with real paths; throws `tier_refused` when either view of it is outside the tier. */
  async admit(call: ActionCall): Promise<ActionCall> {
    const real = await withRealPaths(call);
    const sandboxRoot = await resolveRealPath(this.sandboxRoot);
    const decision = [
      evaluateTier(this.tier, call, { sandboxRoot: this.sandboxRoot }),
      evaluateTier(this.tier, real, { sandboxRoot }),
    ].find((d) => !d.allowed);
    if (decision && !decision.allowed) throw new ActionError("tier_refused", decision.reason);
    return real;
  }

  /**
   * Which files found by a glob or grep call may be shown: those the call would be allowed to name by their real
   * path. A symlink inside the sandbox that points outside is hidden.
   */
  async revealer(call: ActionCall & { action: "glob" | "grep" }): Promise<(file: string) => boolean> {
    if (this.tier === "root") return () => true;
    const options: TierPolicyOptions = { sandboxRoot: await resolveRealPath(this.sandboxRoot) };
    return (file) => {
      let real: string;
      try {
        real = realpathSync(file);
      } catch {
        return false;
      }
      return evaluateTier(this.tier, withPath(call, "path", real), options).allowed;
    };
  }
}
