import os from "node:os";
import type { RegisterMessage } from "../../protocol/node-messages.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { ActionName } from "../../protocol/directives.ts";
import { AGENT_VERSION } from "./agent-version.ts";

/** What the hub may change while the agent runs (config_update, rekey); the next register uses the latest. */
export interface LiveSettings {
  token: string;
  name: string;
  group?: string;
  heartbeatMs: number;
}

export function registerMessage(agentId: string, tier: CapabilityTier, sandboxRoot: string, settings: LiveSettings): RegisterMessage {
  return {
    type: "register",
    agentId,
    name: settings.name,
    capabilities: [...ActionName.options],
    version: AGENT_VERSION,
    tier,
    ...(settings.group === undefined ? {} : { group: settings.group }),
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    heartbeatMs: settings.heartbeatMs,
    sandboxRoot,
  };
}
