import { describe, expect, it } from "vitest";
import { ActionName, parseActionCall, type ActionCall } from "../../protocol/directives.ts";
import { actsOnRootOwned, evaluateTier } from "../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";

const SANDBOX = "/tmp/cortex-sandbox";
const ROOST = { deploymentId: "r-1", roost: "app", version: 1, manifestSha256: "0".repeat(64), path: "/srv/app" };

/** A typical call of every action, and what tiers sudo and unprivileged decide for it (root may run them all). */
const TABLE: Record<ActionName, { params: Record<string, unknown>; sudo: boolean; unprivileged: boolean }> = {
  bash: { params: { command: "uptime" }, sudo: true, unprivileged: false },
  read: { params: { path: `${SANDBOX}/a.txt` }, sudo: true, unprivileged: true },
  write: { params: { path: `${SANDBOX}/a.txt`, content: "x" }, sudo: true, unprivileged: false },
  edit: { params: { path: `${SANDBOX}/a.txt`, oldString: "a", newString: "b" }, sudo: true, unprivileged: false },
  glob: { params: { pattern: "*", path: SANDBOX }, sudo: true, unprivileged: true },
  grep: { params: { pattern: "x", path: SANDBOX }, sudo: true, unprivileged: true },
  "run.launch": { params: { command: "sleep 1" }, sudo: true, unprivileged: false },
  "run.status": { params: { runId: "run-1" }, sudo: true, unprivileged: false },
  "run.cancel": { params: { runId: "run-1" }, sudo: true, unprivileged: false },
  list: { params: { path: SANDBOX }, sudo: true, unprivileged: true },
  "system.info": { params: {}, sudo: true, unprivileged: true },
  "process.list": { params: {}, sudo: true, unprivileged: true },
  "disk.usage": { params: {}, sudo: true, unprivileged: true },
  "network.info": { params: {}, sudo: true, unprivileged: true },
  "service.status": { params: { unit: "nginx" }, sudo: true, unprivileged: true },
  "logs.read": { params: { unit: "nginx" }, sudo: true, unprivileged: false },
  "agent.health": { params: {}, sudo: true, unprivileged: true },
  "service.manage": { params: { unit: "nginx", operation: "restart" }, sudo: true, unprivileged: false },
  "process.signal": { params: { pattern: "^x$", operation: "kill" }, sudo: true, unprivileged: false },
  "disk.clean": { params: { tempOlderThanHours: 24 }, sudo: true, unprivileged: false },
  "system.reboot": { params: {}, sudo: false, unprivileged: false },
  "system.shutdown": { params: { delayMinutes: 5 }, sudo: false, unprivileged: false },
  "system.cancel_shutdown": { params: {}, sudo: false, unprivileged: false },
  "supervised.start": { params: { name: "web" }, sudo: true, unprivileged: true },
  "supervised.stop": { params: { name: "web" }, sudo: true, unprivileged: true },
  "supervised.restart": { params: { name: "web" }, sudo: true, unprivileged: true },
  "supervised.logs": { params: { name: "web" }, sudo: true, unprivileged: true },
  "roost.deploy": { params: ROOST, sudo: true, unprivileged: false },
  "roost.activate": { params: ROOST, sudo: true, unprivileged: false },
};

function call(action: ActionName, params: Record<string, unknown>): ActionCall {
  const parsed = parseActionCall({ action, params });
  if (!parsed.success) throw parsed.error;
  return parsed.data;
}

function allowed(tier: CapabilityTier, action: ActionName, params: Record<string, unknown>, sandboxRoot = SANDBOX): boolean {
  return evaluateTier(tier, call(action, params), { sandboxRoot }).allowed;
}

describe("the tier policy for every action", () => {
  it("covers every action", () => {
    expect(Object.keys(TABLE).sort()).toEqual([...ActionName.options].sort());
  });

  for (const action of ActionName.options) {
    const row = TABLE[action];
    it(`${action}: root ${"yes"}, sudo ${row.sudo ? "yes" : "no"}, unprivileged ${row.unprivileged ? "yes" : "no"}`, () => {
      expect(allowed("root", action, row.params)).toBe(true);
      expect(allowed("sudo", action, row.params)).toBe(row.sudo);
      expect(allowed("unprivileged", action, row.params)).toBe(row.unprivileged);
    });
  }

  it("judges a roost deployment's folder like a file action's path and its after command like a bash command", () => {
    expect(allowed("sudo", "roost.deploy", { ...ROOST, path: "/etc/app" })).toBe(false);
    expect(allowed("sudo", "roost.deploy", { ...ROOST, path: "/srv/../etc/app" })).toBe(false);
    expect(allowed("sudo", "roost.activate", { ...ROOST, after: "sudo systemctl restart app" })).toBe(false);
    expect(allowed("sudo", "roost.deploy", { ...ROOST, after: "sudo apt-get install -y nginx" })).toBe(true);
    expect(allowed("unprivileged", "roost.deploy", { ...ROOST, path: `${SANDBOX}/app` })).toBe(false);
  });

  it("says why power actions are root's", () => {
    const decision = evaluateTier("sudo", call("system.reboot", {}));
    expect(decision).toEqual({ allowed: false, reason: "rebooting the machine needs tier root" });
  });
});

describe("paths of the new file-reading actions", () => {
  it("reads a log file at tier unprivileged only inside the sandbox", () => {
    expect(allowed("unprivileged", "logs.read", { file: "/var/log/syslog" })).toBe(false);
    expect(allowed("unprivileged", "logs.read", { file: "/var/log/nginx/error.log" }, "/var/log/nginx")).toBe(true);
    expect(allowed("sudo", "logs.read", { file: "/var/log/syslog" })).toBe(true);
  });

  it("refuses the journal at tier unprivileged, with a reason", () => {
    const decision = evaluateTier("unprivileged", call("logs.read", {}), { sandboxRoot: "/var/log" });
    expect(decision.allowed).toBe(false);
    expect(!decision.allowed && decision.reason).toContain("journal");
  });

  it("applies the sandbox and sudo's forbidden folders to list and disk.usage", () => {
    expect(allowed("unprivileged", "list", { path: "/etc" })).toBe(false);
    expect(allowed("unprivileged", "list", { path: `${SANDBOX}/../etc` })).toBe(false);
    expect(allowed("sudo", "list", { path: "/etc/ssh" })).toBe(false);
    expect(allowed("sudo", "list", { path: "/var/www" })).toBe(true);
    expect(allowed("sudo", "disk.usage", { path: "/root" })).toBe(false);
    expect(allowed("unprivileged", "disk.usage", { path: "/var" })).toBe(false);
    expect(allowed("unprivileged", "disk.usage", { path: `${SANDBOX}/sub` })).toBe(true);
  });

  it("does not treat diagnostics as file actions under /proc", () => {
    for (const action of ["system.info", "process.list", "network.info", "agent.health"] as const) {
      expect(allowed("sudo", action, {}), action).toBe(true);
    }
  });
});

describe("acting on what root owns", () => {
  it("is root's alone", () => {
    expect(actsOnRootOwned("root")).toBe(true);
    expect(actsOnRootOwned("sudo")).toBe(false);
    expect(actsOnRootOwned("unprivileged")).toBe(false);
  });
});
