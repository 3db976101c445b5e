import * as z from "zod";
import { CapabilityTier } from "../../protocol/tiers.ts";
import { Label, NodeId } from "../../protocol/identifiers.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_RECONNECT_MS,
  MAX_HEARTBEAT_MS,
  MIN_HEARTBEAT_MS,
} from "../../protocol/limits.ts";
import { DEFAULT_SANDBOX_ROOT } from "../../protocol/tier-policy.ts";

/** Everything `cortex node connect` needs, merged from flags, environment and config file, then parsed here. */
export const AgentOptions = z.object({
  endpoint: z.string().url(),
  token: z.string().min(1),
  /** The file the token was read from (0600, see token-file.ts), so the token itself need not be anywhere else. */
  tokenFile: z.string().startsWith("/").optional(),
  /** Defaults to the node id carried in the token. */
  id: NodeId.optional(),
  name: Label.optional(),
  group: Label.optional(),
  tier: CapabilityTier.default("unprivileged"),
  reconnectMs: z.number().int().min(100).max(60_000).default(DEFAULT_RECONNECT_MS),
  heartbeatMs: z.number().int().min(MIN_HEARTBEAT_MS).max(MAX_HEARTBEAT_MS).default(DEFAULT_HEARTBEAT_MS),
  timeoutMs: z.number().int().min(500).max(120_000).default(DEFAULT_CONNECT_TIMEOUT_MS),
  sandboxRoot: z.string().startsWith("/").default(DEFAULT_SANDBOX_ROOT),
  /** The OS user actions run as at tiers sudo and unprivileged, when the agent runs as root. */
  runAs: z.string().min(1).max(32).optional(),
  /** Where the agent keeps state that must survive restarts: seen directive ids, long runs. */
  stateDir: z.string().startsWith("/").optional(),
});
export type AgentOptions = z.output<typeof AgentOptions>;
export type AgentOptionsInput = z.input<typeof AgentOptions>;
