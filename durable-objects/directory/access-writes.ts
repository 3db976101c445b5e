import type { ApiKeyView, SiteRole, UserView } from "../../protocol/accounts.ts";
import type { NewApiKey } from "./api-keys.ts";
import { apiKeyRecord, sessionRecord, ssoRecord } from "./credential-records.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { SessionEntry } from "./sessions.ts";
import type { NewSession } from "./sign-in.ts";

/**
 * Every grant and every end of access, written where requests check it (a credential shard, a site's SiteHub)
 * and in the Directory's lists. A grant is listed first, marked not moved, then copied to its shard and marked
 * moved: if the copy fails, the request fails, and the background move (LegacyCredentials) copies it later. An
 * end is written where requests check it first, so that it holds from the next request even if the list lags.
 */
export class AccessWrites {
  constructor(
    private readonly ctx: DirectoryContext,
    /** Asks for the background move to run again, after a copy that failed. */
    private readonly retryLater: () => Promise<void>,
  ) {}

  async createUser(input: { email: string; name: string; passwordHash: string | null; superadmin: boolean }, now: number): Promise<UserView> {
    const user = this.ctx.users.create(input, now);
    await this.copied(async () => this.ctx.links.putCredential(await ssoRecord(user), true));
    this.ctx.users.markMoved(user.id);
    return user;
  }

  async openSession(user: UserView, session: NewSession, now: number): Promise<string> {
    const id = `s-${crypto.randomUUID()}`;
    this.ctx.sessions.add({ id, userId: user.id, ...session }, now);
    await this.copied(() => this.ctx.links.putCredential(sessionRecord(user, { id, tokenHash: session.tokenHash, createdAt: now, lastUsedAt: now }), true));
    this.ctx.sessions.markMoved(id);
    return id;
  }

  /** Ends sessions: they stop working on their next request and their live sockets close. */
  async endSessions(sessions: readonly SessionEntry[]): Promise<void> {
    if (!sessions.length) return;
    await this.ctx.links.revokeCredentials(sessions.map((s) => ({ hash: s.tokenHash, kind: "session" as const })));
    this.ctx.sessions.remove(sessions.map((s) => s.id));
  }

  async issueApiKey(user: UserView, input: NewApiKey, now: number): Promise<ApiKeyView> {
    const id = `k-${crypto.randomUUID()}`;
    const view = this.ctx.apiKeys.add(id, input, now);
    const record = apiKeyRecord(user, { id, keyHash: input.keyHash, name: input.name, scope: input.scope, createdAt: now, lastUsedAt: null, expiresAt: input.expiresAt });
    await this.copied(() => this.ctx.links.putCredential(record, true));
    this.ctx.apiKeys.markMoved(id);
    return view;
  }

  async revokeApiKeys(keys: readonly { id: string; keyHash: string }[], now: number): Promise<void> {
    if (!keys.length) return;
    await this.ctx.links.revokeCredentials(keys.map((k) => ({ hash: k.keyHash, kind: "api_key" as const })));
    this.ctx.apiKeys.markRevoked(keys.map((k) => k.id), now);
  }

  async setMembership(site: string, userId: string, role: SiteRole, addedAt: number): Promise<void> {
    await this.ctx.links.setMember(site, { userId, role, addedAt });
    this.ctx.memberships.set(site, userId, role, addedAt);
  }

  async removeMembership(site: string, userId: string): Promise<void> {
    await this.ctx.links.removeMember(site, userId);
    this.ctx.memberships.remove(site, userId);
  }

  async createSite(id: string, name: string, now: number): Promise<void> {
    await this.ctx.links.siteCreated(id, now);
    this.ctx.sites.create(id, name, now);
  }

  private async copied(copy: () => Promise<void>): Promise<void> {
    try {
      await copy();
    } catch (err) {
      await this.retryLater();
      throw err;
    }
  }
}
