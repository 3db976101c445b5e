import type { SiteRole } from "../../protocol/accounts.ts";
import type { Env } from "../../worker/env.ts";
import type { CredentialKind, CredentialRecord } from "../credentials/credential.ts";
import { credentialShard, shardName } from "../credentials/shard-name.ts";
import type { SiteMember } from "../site-hub/site-access.ts";

/**
 * The objects that decide a request's access, as the Directory reaches them: the credential shards (who a token
 * is) and the sites' SiteHubs (who is a member with which role). The Directory writes there first whenever access
 * is granted or taken away, and keeps its own lists for people to see.
 */
export interface AccessLinks {
  putCredential(record: CredentialRecord, issued: boolean): Promise<void>;
  /** Ends credentials, closing the live sockets they opened; resolves to how many were still working. */
  revokeCredentials(items: { hash: string; kind: CredentialKind }[]): Promise<number>;
  lastUsed(hashes: string[]): Promise<Record<string, number | null>>;
  siteCreated(site: string, createdAt: number): Promise<void>;
  /** Adds or changes a member; a demotion closes the person's live sockets on the site. */
  setMember(site: string, member: SiteMember): Promise<void>;
  /** Removes a member and closes their live sockets on the site. */
  removeMember(site: string, userId: string): Promise<void>;
  /** Hands a site from before the move its existence and members, unless it has them already. */
  importSite(site: string, createdAt: number, members: SiteMember[]): Promise<void>;
}

/** Groups hashes by the shard that holds them, so each shard is asked once. */
function byShard<T extends { hash: string }>(items: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = shardName(item.hash);
    groups.set(name, [...(groups.get(name) ?? []), item]);
  }
  return [...groups.values()];
}

export function accessLinks(env: Env): AccessLinks {
  const hub = (site: string) => env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
  return {
    putCredential: (record, issued) => credentialShard(env, record.hash).put(record, issued),
    async revokeCredentials(items) {
      const counts = await Promise.all(byShard(items).map((group) => credentialShard(env, group[0]!.hash).revoke(group)));
      return counts.reduce((a, b) => a + b, 0);
    },
    async lastUsed(hashes) {
      const groups = byShard(hashes.map((hash) => ({ hash })));
      const answers = await Promise.all(groups.map((group) => credentialShard(env, group[0]!.hash).lastUsed(group.map((g) => g.hash))));
      return Object.assign({}, ...answers) as Record<string, number | null>;
    },
    siteCreated: (site, createdAt) => hub(site).siteCreated(site, createdAt),
    setMember: (site, member) => hub(site).setMember(site, member),
    removeMember: (site, userId) => hub(site).removeMember(site, userId),
    importSite: (site, createdAt, members) => hub(site).importSite(site, createdAt, members),
  };
}
