/**
 * Sockets that belong to a person (the dashboard's live socket in a SiteHub, the chat's socket in a Conversation)
 * are tagged with who opened them, so that signing out, a revoked API key, removal from a site or a demotion can
 * close them at once. Any Durable Object that accepts such sockets tags them with `ownerTags` and exposes a
 * `closeUserSockets(match, code, reason)` RPC method built on `closeMatchingSockets`. Which objects hold them (see
 * `SocketHolder`) is noted in the credential's shard (for signing out and revoked keys) and, for objects other than
 * the SiteHub, in the site's SiteHub (for removal and demotion); see `worker/auth/socket-presence.ts`.
 */

/** Who opened a socket: the person, and the session or API key they used (the admin key opens no such socket). */
export interface SocketOwner {
  userId: string;
  sessionId: string | null;
  apiKeyId: string | null;
}

/** Which sockets to close: all of a person's, those of some sessions, or those of some API keys. */
export type SocketMatch = { userId: string } | { sessionIds: string[] } | { apiKeyIds: string[] };

/** An object that holds sockets of people: a SiteHub (kind "site", named by the site id) or another kind. */
export interface SocketHolder {
  kind: string;
  name: string;
}

/** The tag every socket a person opened carries, whichever session or key they used. */
export function userTag(userId: string): string {
  return `user:${userId}`;
}

export function ownerTags(owner: SocketOwner): string[] {
  const tags = [userTag(owner.userId)];
  if (owner.sessionId) tags.push(`session:${owner.sessionId}`);
  if (owner.apiKeyId) tags.push(`key:${owner.apiKeyId}`);
  return tags;
}

function matchTags(match: SocketMatch): string[] {
  if ("userId" in match) return [userTag(match.userId)];
  if ("sessionIds" in match) return match.sessionIds.map((id) => `session:${id}`);
  return match.apiKeyIds.map((id) => `key:${id}`);
}

/** Closes every socket of this object that matches, with `code` and `reason`; returns how many it closed. */
export function closeMatchingSockets(ctx: DurableObjectState, match: SocketMatch, code: number, reason: string): number {
  const sockets = new Set(matchTags(match).flatMap((tag) => ctx.getWebSockets(tag)));
  for (const ws of sockets) {
    try {
      ws.close(code, reason);
    } catch {
      // Already closing: the peer is going away anyway.
    }
  }
  return sockets.size;
}
