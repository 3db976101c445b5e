import { credentialShard } from "../../durable-objects/credentials/shard-name.ts";
import type { SocketHolder, SocketOwner } from "../../durable-objects/shared/user-sockets.ts";
import { siteHub, type AppContext } from "../routes/site-context.ts";
import { userOf } from "./principal.ts";

/**
 * Before a person's live socket (or event stream) is opened in `holder`: who opens it, for its tags, and notes of
 * where it is, so that losing access closes it at once. The credential's shard notes it (signing out or revoking
 * the session or key closes it); for a holder other than the site's own SiteHub, so does the site (removal and
 * demotion close it). The admin key and an alert token belong to nobody and open none such: null.
 */
export async function openingOwner(c: AppContext, holder: SocketHolder): Promise<SocketOwner | null> {
  const principal = userOf(c.get("principal"));
  if (!principal) return null;
  const notes: Promise<void>[] = [];
  if (principal.kind === "session" || principal.kind === "api_key") {
    notes.push(credentialShard(c.env, principal.credentialHash).notePresence(principal.credentialHash, holder));
  }
  if (holder.kind !== "site") notes.push(siteHub(c).noteSocketHolder(principal.user.id, holder));
  await Promise.all(notes);
  return { userId: principal.user.id, sessionId: principal.sessionId, apiKeyId: principal.apiKey?.id ?? null };
}
