import type { SiteAccessInfo } from "../../durable-objects/site-hub/site-access.ts";

/**
 * The `access` answers (does the site exist, the person's role there) this isolate read lately, with the version of
 * the site's members each was read at. Only a route whose one call to the site object carries that version back
 * uses them (`SiteRoute.confirmsAccess`): the object refuses the call, changing nothing, when its version is not the
 * same any more, and the guard then authorises the request again with a fresh answer. So a kept answer saves the
 * request its own call to ask, and never lets a removal, a demotion or a deleted site act later than the next
 * request. A refusal is never taken from a kept answer: the guard asks again before refusing (a promotion acts at
 * once too). Credentials are not kept: the credential's shard is asked at every request.
 */
const MAX_KEPT = 10_000;
const kept = new Map<string, SiteAccessInfo>();

function keyOf(site: string, userId: string): string {
  return `${site}\n${userId}`;
}

export function keptAccess(site: string, userId: string): SiteAccessInfo | undefined {
  return kept.get(keyOf(site, userId));
}

export function keepAccess(site: string, userId: string, info: SiteAccessInfo): void {
  if (kept.size >= MAX_KEPT) kept.clear();
  kept.set(keyOf(site, userId), info);
}
