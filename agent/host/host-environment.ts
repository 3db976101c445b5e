import type { CapabilityTier } from "../../protocol/tiers.ts";

/** What `agent.health` reports about the agent itself, gathered by the executor that runs the action. */
export interface AgentStatus {
  version: string;
  pid: number;
  startedAt: number;
  tier: CapabilityTier;
  sandboxRoot: string;
  stateDir: string | null;
  directivesInFlight: number;
  runs: { running: number; awaitingReport: number };
  connections: number;
  lastConnectedAt: number | null;
  ripgrep: boolean;
}

/**
 * The machine as the machine actions see it: which tier they act for, where they find system programs and which
 * temporary folders they may clean. Tests point the folders at their own; nothing else differs from production.
 */
export interface HostEnvironment {
  tier: CapabilityTier;
  /** Folders system programs are found in, in order. Not the inherited PATH, which whoever started the agent chose. */
  binDirs: readonly string[];
  /** Folders `disk.clean` removes old temporary files from. */
  tempRoots: readonly string[];
  /** Folders `disk.clean` never enters, whatever their age: the sandbox and the agent's own state. */
  keep: readonly string[];
  agentStatus(): AgentStatus;
}

/** The standard system program folders, root-owned on every distribution. */
export function defaultBinDirs(): string[] {
  if (process.platform === "win32") return [`${process.env.SystemRoot ?? "C:\\Windows"}\\System32`];
  return ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
}

export const DEFAULT_TEMP_ROOTS: readonly string[] = ["/tmp", "/var/tmp"];
