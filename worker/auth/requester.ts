import type { ActivityReader } from "../../durable-objects/site-hub/activity-log.ts";
import type { Requester } from "../../durable-objects/site-hub/requester.ts";
import type { AppContext } from "../routes/site-context.ts";
import { authorize } from "./authorize.ts";
import { userOf } from "./principal.ts";

/**
 * The caller of a site route as the site's objects need to know them: their name for the records, who they are,
 * and whether `authorize` confines them to the site's readable paths (anyone who may not read everywhere is).
 */
export function requesterOf(c: AppContext): Requester {
  const principal = c.get("principal");
  const anywhere = authorize(principal, { id: c.get("site"), exists: true }, { permission: "files.readAnywhere" });
  return { actor: principal.label, userId: userOf(principal)?.user.id ?? null, confined: !anywhere.allowed };
}

/**
 * The caller as a reader of the site's activity log: admins read its access events (sign-ins, keys, roles), everyone
 * else only the ones about themselves; the confined read agent-written text redacted.
 */
export function activityReaderOf(c: AppContext): ActivityReader {
  const { userId, confined } = requesterOf(c);
  const audit = authorize(c.get("principal"), { id: c.get("site"), exists: true }, { permission: "activity.audit" }).allowed;
  return { audit, userId, confined };
}
