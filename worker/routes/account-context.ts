import type { Actor } from "../../durable-objects/directory/actor.ts";
import { directoryOf } from "../auth/directory-stub.ts";
import { userOf, type UserPrincipal } from "../auth/principal.ts";
import type { AppContext } from "./site-context.ts";

export function directory(c: AppContext) {
  return directoryOf(c.env);
}

/** The address the request came from, as Cloudflare saw it. */
export function clientIp(c: AppContext): string | null {
  return c.req.header("CF-Connecting-IP") ?? null;
}

export function userAgent(c: AppContext): string | null {
  return c.req.header("User-Agent") ?? null;
}

/** Who did it and from where, for the audit trail. */
export function who(c: AppContext): Actor {
  return { actor: c.get("principal").label, ip: clientIp(c) };
}

/**
 * The signed-in person behind the request. Only for routes whose permission guarantees one (`account.manage`);
 * reaching it otherwise is a bug in the route table.
 */
export function signedInUser(c: AppContext): UserPrincipal {
  const principal = c.get("principal");
  const user = userOf(principal);
  if (!user) throw new Error(`route needs a user, got ${principal.kind}`);
  return user;
}
