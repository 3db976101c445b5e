import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderUnit, serviceName } from "../../agent/install/systemd-unit.ts";
import { CapabilityTier } from "../../protocol/tiers.ts";
import { emptyDir } from "./cli-run.ts";

const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";

function spec(tier: CapabilityTier, prefix = emptyDir()) {
  const bundle = join(prefix, "cortex.mjs");
  writeFileSync(bundle, "");
  return { nodeId: "build-01", tier, node: process.execPath, bundle, config: join(prefix, "etc", "config.json"), prefix };
}

function directives(unit: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

describe("the systemd unit", () => {
  it("runs the bundle with its config file (no token), restarts unless refused for good, and stops only the agent", () => {
    const s = spec("sudo");
    const unit = directives(renderUnit(s));
    expect(unit.get("ExecStart")).toEqual([`${process.execPath} ${s.bundle} node connect --config ${s.config}`]);
    expect(unit.get("RestartPreventExitStatus")).toEqual(["78"]);
    expect(unit.get("Restart")).toEqual(["always"]);
    expect(unit.get("KillMode")).toEqual(["process"]);
    expect(unit.get("Delegate")).toEqual(["yes"]);
    expect(renderUnit(s)).not.toMatch(/cxn_|Environment=/);
    expect(serviceName("build-01")).toBe("cortex-build-01.service");
  });

  it("hardens each tier without taking what it promises: nothing that breaks sudo at tier sudo, nothing at root", () => {
    const unprivileged = directives(renderUnit(spec("unprivileged")));
    for (const key of ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateDevices", "RestrictSUIDSGID"]) expect(unprivileged.has(key), key).toBe(true);
    expect(unprivileged.get("ReadWritePaths")).toHaveLength(1);
    const sudo = directives(renderUnit(spec("sudo")));
    for (const key of ["NoNewPrivileges", "ProtectSystem", "RestrictSUIDSGID", "PrivateDevices", "CapabilityBoundingSet", "SystemCallFilter"]) {
      expect(sudo.has(key), key).toBe(false);
    }
    const root = directives(renderUnit(spec("root")));
    expect([...root.keys()].filter((k) => k.startsWith("Protect") || k.startsWith("Restrict") || k === "NoNewPrivileges")).toEqual([]);
  });

  it("refuses to write a path systemd would split or interpret", () => {
    expect(() => renderUnit({ ...spec("root"), bundle: "/opt/my cortex/lib/cortex.mjs" })).toThrow(/cannot be written into a systemd unit/);
    expect(() => renderUnit({ ...spec("root"), config: "/opt/$HOME/config.json" })).toThrow(/cannot be written into a systemd unit/);
  });

  it.skipIf(!existsSync(SYSTEMD_ANALYZE))("passes systemd-analyze verify with no warning at every tier (skipped where systemd-analyze is absent)", () => {
    for (const tier of CapabilityTier.options) {
      const s = spec(tier);
      const file = join(s.prefix, serviceName(`build-${tier}`));
      writeFileSync(file, renderUnit(s));
      const r = spawnSync(SYSTEMD_ANALYZE, ["verify", file], { encoding: "utf8" });
      expect({ tier, status: r.status, stderr: r.stderr }).toEqual({ tier, status: 0, stderr: "" });
    }
    // The check itself can fail: a unit naming a program that does not exist is refused.
    const broken = join(emptyDir(), "cortex-broken.service");
    writeFileSync(broken, renderUnit({ ...spec("root"), node: "/nonexistent/node" }));
    expect(() => execFileSync(SYSTEMD_ANALYZE, ["verify", broken], { stdio: "pipe" })).toThrow();
  });
});
