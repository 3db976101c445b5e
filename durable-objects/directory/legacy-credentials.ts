import type { ApiKeyScope, SiteRole } from "../../protocol/accounts.ts";
import type { CredentialRecord } from "../credentials/credential.ts";
import type { LegacySite, SiteMember } from "../site-hub/site-access.ts";
import { apiKeyRecord, sessionRecord, ssoRecord } from "./credential-records.ts";
import type { DirectoryContext } from "./directory-context.ts";

interface SessionRow {
  id: string;
  token_hash: string;
  user_id: string;
  created_at: number;
  last_used_at: number;
  [key: string]: SqlStorageValue;
}

interface KeyRow {
  id: string;
  key_hash: string;
  user_id: string;
  name: string;
  scope: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  [key: string]: SqlStorageValue;
}

/**
 * Moves what requests check out of the Directory: sessions, API keys and single sign-on identities to their
 * credential shards, sites' existence and members to their SiteHubs. Before this version the Directory answered
 * every request itself; its rows are marked `moved = 0` by the migration, and this copies them over:
 * - all of them, in the background (`moveAll`, on the Directory's alarm, until nothing is left);
 * - one credential at once when a shard is asked about a hash it does not know (`claim`), so that a person signed
 *   in before the upgrade stays signed in whatever request comes first;
 * - one site when its SiteHub asks (`site`).
 * A shard or site that learned its data never takes an older copy over what it has (a revocation stands).
 */
export class LegacyCredentials {
  constructor(private readonly ctx: DirectoryContext) {}

  /** The credential with this hash that is still to be moved, marked moved as it is handed over; or null. */
  async claim(hash: string): Promise<CredentialRecord | null> {
    const sql = this.ctx.sql;
    const session = sql.exec<SessionRow>("SELECT * FROM sessions WHERE token_hash = ? AND moved = 0", hash).toArray()[0];
    if (session) {
      this.ctx.sessions.markMoved(session.id);
      return this.sessionCredential(session);
    }
    const key = sql.exec<KeyRow>("SELECT * FROM api_keys WHERE key_hash = ? AND moved = 0", hash).toArray()[0];
    if (key) {
      this.ctx.apiKeys.markMoved(key.id);
      return key.revoked_at === null ? this.keyCredential(key) : null;
    }
    for (const id of sql.exec<{ id: string }>("SELECT id FROM users WHERE moved = 0").toArray().map((r) => r.id)) {
      const user = this.ctx.users.byId(id);
      if (!user) continue;
      const record = await ssoRecord(user.view);
      if (record.hash !== hash) continue;
      this.ctx.users.markMoved(id);
      return record;
    }
    return null;
  }

  /** Whether everything has been moved; a shard that hears so stops asking. */
  done(): boolean {
    const left = (table: string) => this.ctx.sql.exec(`SELECT 1 FROM ${table} WHERE moved = 0 LIMIT 1`).toArray().length > 0;
    return !["sessions", "api_keys", "users", "sites"].some(left);
  }

  /** A site's existence and members, for its SiteHub; the site counts as moved from then on. */
  site(site: string): LegacySite {
    const record = this.ctx.sites.get(site);
    this.ctx.sql.exec("UPDATE sites SET moved = 1 WHERE id = ?", site);
    return { createdAt: record?.createdAt ?? null, members: this.members(site) };
  }

  /** Copies everything still to be moved; returns whether it all went. */
  async moveAll(): Promise<boolean> {
    const sql = this.ctx.sql;
    for (const s of sql.exec<SessionRow>("SELECT * FROM sessions WHERE moved = 0").toArray()) {
      const record = this.sessionCredential(s);
      if (record) await this.ctx.links.putCredential(record, false);
      this.ctx.sessions.markMoved(s.id);
    }
    for (const k of sql.exec<KeyRow>("SELECT * FROM api_keys WHERE moved = 0").toArray()) {
      const record = k.revoked_at === null ? this.keyCredential(k) : null;
      if (record) await this.ctx.links.putCredential(record, false);
      this.ctx.apiKeys.markMoved(k.id);
    }
    for (const { id } of sql.exec<{ id: string }>("SELECT id FROM users WHERE moved = 0").toArray()) {
      const user = this.ctx.users.byId(id);
      if (user) await this.ctx.links.putCredential(await ssoRecord(user.view), false);
      this.ctx.users.markMoved(id);
    }
    for (const { id, created_at } of sql.exec<{ id: string; created_at: number }>("SELECT id, created_at FROM sites WHERE moved = 0").toArray()) {
      await this.ctx.links.importSite(id, created_at, this.members(id));
      sql.exec("UPDATE sites SET moved = 1 WHERE id = ?", id);
    }
    return this.done();
  }

  private members(site: string): SiteMember[] {
    return this.ctx.sql
      .exec<{ user_id: string; role: string; added_at: number }>("SELECT user_id, role, added_at FROM memberships WHERE site_id = ?", site)
      .toArray()
      .map((m) => ({ userId: m.user_id, role: m.role as SiteRole, addedAt: m.added_at }));
  }

  private sessionCredential(s: SessionRow): CredentialRecord | null {
    const user = this.ctx.users.byId(s.user_id);
    return user ? sessionRecord(user.view, { id: s.id, tokenHash: s.token_hash, createdAt: s.created_at, lastUsedAt: s.last_used_at }) : null;
  }

  private keyCredential(k: KeyRow): CredentialRecord | null {
    const user = this.ctx.users.byId(k.user_id);
    if (!user) return null;
    return apiKeyRecord(user.view, {
      id: k.id,
      keyHash: k.key_hash,
      name: k.name,
      scope: k.scope as ApiKeyScope,
      createdAt: k.created_at,
      lastUsedAt: k.last_used_at,
      expiresAt: k.expires_at,
    });
  }
}
