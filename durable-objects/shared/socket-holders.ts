import type { Env } from "../../worker/env.ts";
import type { SocketHolder, SocketMatch } from "./user-sockets.ts";

/**
 * Reaches an object that holds people's sockets and asks it to close the matching ones. Each kind of holder is
 * one case here: a new kind (the chat's Conversation) adds its binding and its `closeUserSockets` method.
 */
export function closeSocketsAt(env: Env, holder: SocketHolder, match: SocketMatch, code: number, reason: string): Promise<number> {
  switch (holder.kind) {
    case "site":
      return env.SITE_HUB.get(env.SITE_HUB.idFromName(holder.name)).closeUserSockets(match, code, reason);
    case "conversation":
      // Named "<site>/<conversation id>", as the Conversation objects are.
      return env.CONVERSATION.get(env.CONVERSATION.idFromName(holder.name)).closeUserSockets(match, code, reason);
    default:
      return Promise.reject(new Error(`no socket holder of kind ${holder.kind}`));
  }
}
