/**
 * Every WebSocket close code the hub uses on a node connection, with what the agent does next.
 * `exit` is reserved for definite refusals that retrying cannot fix; everything else is retried with backoff.
 */
export type AgentReaction = "retry" | "exit";

export interface CloseCodeInfo {
  code: number;
  name: string;
  /** Short reason sent in the close frame (close reasons must stay under 123 bytes). */
  reason: string;
  agent: AgentReaction;
  /** One line the agent prints when it gives up, or logs when it retries. */
  explanation: string;
}

export const CloseCode = {
  REGISTER_INVALID: 4001,
  ALREADY_CONNECTED: 4002,
  HEARTBEAT_TIMEOUT: 4003,
  UNAUTHORIZED: 4004,
  TIER_ABOVE_CEILING: 4005,
  DEREGISTERED: 4006,
  REPLACED: 4007,
  TOKEN_ROTATED: 4008,
  REGISTER_TIMEOUT: 4009,
  NODE_MISMATCH: 4010,
  PROTOCOL_VIOLATION: 4011,
  HUB_RESTARTING: 1012,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export const CLOSE_CODES: readonly CloseCodeInfo[] = [
  {
    code: CloseCode.REGISTER_INVALID,
    name: "register_invalid",
    reason: "first message must be a valid register",
    agent: "retry",
    explanation: "the hub did not accept the register message; retrying",
  },
  {
    code: CloseCode.ALREADY_CONNECTED,
    name: "already_connected",
    reason: "node already connected",
    agent: "exit",
    explanation: "another agent is connected with this node's identity and is alive; stop it first",
  },
  {
    code: CloseCode.HEARTBEAT_TIMEOUT,
    name: "heartbeat_timeout",
    reason: "missed heartbeats",
    agent: "retry",
    explanation: "the hub heard nothing for three heartbeat intervals; reconnecting",
  },
  {
    code: CloseCode.UNAUTHORIZED,
    name: "unauthorized",
    reason: "invalid or revoked token",
    agent: "exit",
    explanation: "the hub refused the token (wrong, rotated or revoked); get a new one with `cortex node rekey`",
  },
  {
    code: CloseCode.TIER_ABOVE_CEILING,
    name: "tier_above_ceiling",
    reason: "requested tier above the node's ceiling",
    agent: "exit",
    explanation: "the requested --tier is above the ceiling this node was registered with; ask for a lower tier",
  },
  {
    code: CloseCode.DEREGISTERED,
    name: "deregistered",
    reason: "node deregistered",
    agent: "exit",
    explanation: "this node was deregistered from the hub; register it again to reconnect",
  },
  {
    code: CloseCode.REPLACED,
    name: "replaced",
    reason: "replaced by a newer connection",
    agent: "retry",
    explanation: "a newer connection for this node replaced this one after it missed heartbeats; reconnecting",
  },
  {
    code: CloseCode.TOKEN_ROTATED,
    name: "token_rotated",
    reason: "token rotated",
    agent: "exit",
    explanation: "this node's token was rotated with `cortex node rekey`; connect again with the new token",
  },
  {
    code: CloseCode.REGISTER_TIMEOUT,
    name: "register_timeout",
    reason: "no register in time",
    agent: "retry",
    explanation: "the hub closed the connection because no register arrived in time; retrying",
  },
  {
    code: CloseCode.NODE_MISMATCH,
    name: "node_mismatch",
    reason: "agentId does not match the token",
    agent: "exit",
    explanation: "the --id given does not match the node the token belongs to; fix --id or the token",
  },
  {
    code: CloseCode.PROTOCOL_VIOLATION,
    name: "protocol_violation",
    reason: "too many invalid messages",
    agent: "retry",
    explanation: "the hub closed the connection after repeated invalid messages; retrying",
  },
  {
    code: CloseCode.HUB_RESTARTING,
    name: "hub_restarting",
    reason: "hub restarting",
    agent: "retry",
    explanation: "the hub is restarting; reconnecting",
  },
];

const BY_CODE = new Map(CLOSE_CODES.map((c) => [c.code, c]));

export function closeCodeInfo(code: number): CloseCodeInfo | undefined {
  return BY_CODE.get(code);
}

/** HTTP statuses the hub answers a refused upgrade with, mapped to the close code they stand for. */
export const UPGRADE_REFUSALS: Record<number, CloseCodeValue> = {
  401: CloseCode.UNAUTHORIZED,
  410: CloseCode.DEREGISTERED,
};

/**
 * Why the hub closed a live socket (the dashboard's, and the chat's): the person's access ended or changed. The page
 * asks who it is at once on either, which sends a signed-out person to the sign-in page and redraws for a new role.
 */
export const LiveCloseCode = {
  /** The session or API key that opened the socket was signed out or revoked. */
  SIGNED_OUT: 4401,
  /** The person was removed from the site or their role changed. */
  ACCESS_CHANGED: 4403,
} as const;
