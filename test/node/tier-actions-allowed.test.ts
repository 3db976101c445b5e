import { describe, expect, it } from "vitest";
import { ACTION_RISK } from "../../protocol/action-risk.ts";
import type { ActionCall, ActionName } from "../../protocol/directives.ts";
import { actionsAllowedAt, evaluateTier } from "../../protocol/tier-policy.ts";

const ALL = Object.keys(ACTION_RISK) as ActionName[];

/** What the dashboard lists as a tier's actions must be what the one policy lets through, no more and no less. */
describe("the actions a tier permits", () => {
  it("are every action at root, all but power at sudo, and reading and diagnostics at unprivileged", () => {
    expect(actionsAllowedAt("root").sort()).toEqual([...ALL].sort());
    expect(ALL.filter((a) => !actionsAllowedAt("sudo").includes(a)).sort()).toEqual(["system.cancel_shutdown", "system.reboot", "system.shutdown"]);
    const unprivileged = actionsAllowedAt("unprivileged");
    expect(unprivileged).toEqual(expect.arrayContaining(["read", "glob", "grep", "list", "system.info"]));
    for (const changes of ["bash", "write", "edit", "run.launch", "service.manage", "process.signal", "disk.clean"] as const) {
      expect(unprivileged, changes).not.toContain(changes);
    }
  });

  it("leave out exactly the actions the policy refuses whatever their parameters", () => {
    for (const tier of ["sudo", "unprivileged"] as const) {
      for (const action of ALL.filter((a) => !actionsAllowedAt(tier).includes(a))) {
        const decision = evaluateTier(tier, { action, params: { command: "true", path: "/tmp/cortex-sandbox/x" } } as unknown as ActionCall);
        expect(decision.allowed, `${action} at ${tier}`).toBe(false);
      }
    }
  });
});
