import { actsOnRootOwned } from "../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { isWatcherArgv } from "../runs/watcher-process.ts";
import type { ProcessInfo } from "./procfs.ts";

/**
 * Processes `process.signal` never touches, whatever the pattern: what keeps the machine running and reachable,
 * and the agent itself. A name counts when the kernel's name of the process starts with one of these.
 */
export const PROTECTED_NAME_PREFIXES = ["init", "systemd", "sshd", "dbus", "agetty", "getty", "login", "udevd", "kthreadd"] as const;

export const KERNEL_THREAD = "a kernel thread";

export interface ProtectionContext {
  tier: CapabilityTier;
  /** The agent's PID and every parent up to init: stopping any of them stops the agent. */
  agentChain: readonly number[];
}

/** Why this process must not be signalled, or null when it may be. */
export function protectionOf(info: ProcessInfo, context: ProtectionContext): string | null {
  if (info.pid === 1) return "init (PID 1)";
  if (info.kernelThread || info.pid === 2 || info.ppid === 2) return KERNEL_THREAD;
  if (info.pid === context.agentChain[0]) return "the Cortex agent itself";
  if (context.agentChain.includes(info.pid)) return "a parent of the Cortex agent";
  if (isWatcherArgv(info.argv)) return "a Cortex long-run watcher";
  const name = PROTECTED_NAME_PREFIXES.find((prefix) => info.name.startsWith(prefix));
  if (name) return `a protected system process (${name})`;
  if (info.uid === 0 && !actsOnRootOwned(context.tier)) return `owned by root, which tier ${context.tier} does not signal`;
  return null;
}
