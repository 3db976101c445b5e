import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { EXIT_REFUSED } from "../connection/exit-codes.ts";
import { InstallError } from "./install-error.ts";

/** `cortex-<node>.service`: one unit per node, so one machine can run agents for several nodes (one prefix each). */
export function serviceName(nodeId: string): string {
  return `cortex-${nodeId}.service`;
}

export interface UnitSpec {
  nodeId: string;
  tier: CapabilityTier;
  /** Node.js and the bundle, both absolute. */
  node: string;
  bundle: string;
  config: string;
  /** The install's folder: the agent keeps its state there, so it stays writable whatever else is read-only. */
  prefix: string;
}

/**
 * Sandboxing that takes nothing from what the tier promises. The agent runs as root at every tier (at sudo and
 * unprivileged it switches to the action user for each action, so the token stays out of that user's reach), and
 * its actions inherit these limits:
 * - unprivileged nodes only read: the system is read-only to them, no device, kernel or setuid is needed;
 * - sudo nodes run package managers through sudo, which is setuid and writes /usr and /etc: no NoNewPrivileges, no
 *   read-only system, only what no package install touches;
 * - root nodes may do anything, so nothing is taken away.
 */
const HARDENING: Record<CapabilityTier, string[]> = {
  unprivileged: [
    "NoNewPrivileges=yes",
    "ProtectSystem=full",
    "ProtectHome=read-only",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictSUIDSGID=yes",
    "RestrictRealtime=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
  ],
  sudo: ["ProtectHostname=yes", "RestrictRealtime=yes", "LockPersonality=yes"],
  root: [],
};

/** A value systemd reads as one word: our paths and ids never need quoting, so anything that would is refused. */
function word(value: string, what: string): string {
  if (!/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) throw new InstallError(`${what} ${JSON.stringify(value)} cannot be written into a systemd unit`);
  return value;
}

/** The unit file: the agent reads its settings and token path from its config file, so no secret is in it. */
export function renderUnit(spec: UnitSpec): string {
  const exec = [spec.node, spec.bundle, "node", "connect", "--config", spec.config].map((part) => word(part, "path")).join(" ");
  return [
    "# Written by the Cortex installer (cortex agent install); replaced on upgrade, removed by cortex agent uninstall.",
    "[Unit]",
    `Description=Cortex agent for node ${word(spec.nodeId, "node id")} (tier ${spec.tier})`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${exec}`,
    "Restart=always",
    "RestartSec=5",
    // The hub refused this node for good (bad token, deregistered, unsafe token file): restarting cannot help.
    `RestartPreventExitStatus=${EXIT_REFUSED}`,
    // Only the agent is stopped: long runs and supervised processes are meant to outlive it, and the next agent
    // adopts them (or, for directives it was running, stops them). Delegate gives each directive its own cgroup.
    "KillMode=process",
    "Delegate=yes",
    "TimeoutStopSec=30",
    ...HARDENING[spec.tier],
    ...(HARDENING[spec.tier].length ? [`ReadWritePaths=${word(spec.prefix, "prefix")}`] : []),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** Whether systemd manages this machine (its runtime folder exists only then). */
export function systemdRunning(runtimeDir = "/run/systemd/system"): boolean {
  return existsSync(runtimeDir);
}

export function systemctl(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new InstallError(`systemctl ${args.join(" ")} failed: ${stderr || (error as Error).message}`);
  }
}
