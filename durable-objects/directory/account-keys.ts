import type { ApiKeyView } from "../../protocol/accounts.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { NewApiKey } from "./api-keys.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { Actor } from "./actor.ts";

/** Keys a user may hold that are neither revoked nor expired. */
const MAX_LIVE_KEYS_PER_USER = 50;

/** Creating, listing and revoking a user's own API keys. */
export class AccountKeys {
  constructor(private readonly ctx: DirectoryContext) {}

  async create(input: NewApiKey, who: Actor, now = Date.now()): Promise<HubResult<ApiKeyView>> {
    if (input.expiresAt !== null && input.expiresAt <= now) return fail(400, "expiry_in_past", "expiresAt must be in the future");
    const live = this.ctx.apiKeys.list(input.userId).filter((k) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now)).length;
    if (live >= MAX_LIVE_KEYS_PER_USER) return fail(409, "too_many_keys", `at most ${MAX_LIVE_KEYS_PER_USER} live API keys per account; revoke some first`);
    const user = this.ctx.users.byId(input.userId);
    if (!user) return fail(404, "user_not_found", "no such user");
    const key = await this.ctx.access.issueApiKey(user.view, input, now);
    await this.ctx.record({ kind: "api_key", ...who, subject: input.userId, message: `${who.actor} created the ${key.scope} API key "${key.name}" (${key.prefix}…)`, data: { keyId: key.id } }, now);
    return ok(key);
  }

  /** The user's keys, with their last use as their credential shards recorded it. */
  async list(userId: string): Promise<ApiKeyView[]> {
    const keys = this.ctx.apiKeys.list(userId);
    const hashes = new Map(keys.map((k) => [k.id, this.ctx.apiKeys.hashOf(userId, k.id)!]));
    const used = await this.ctx.links.lastUsed([...hashes.values()]);
    return keys.map((k) => ({ ...k, lastUsedAt: used[hashes.get(k.id)!] ?? k.lastUsedAt }));
  }

  async revoke(userId: string, id: string, who: Actor, now = Date.now()): Promise<HubResult<ApiKeyView>> {
    const key = this.ctx.apiKeys.get(userId, id);
    if (!key) return fail(404, "key_not_found", `API key ${id} not found`);
    if (key.revokedAt !== null) return fail(409, "already_revoked", `API key ${id} is already revoked`);
    await this.ctx.access.revokeApiKeys([{ id, keyHash: this.ctx.apiKeys.hashOf(userId, id)! }], now);
    await this.ctx.record({ kind: "api_key", ...who, subject: userId, message: `${who.actor} revoked the API key "${key.name}" (${key.prefix}…)`, data: { keyId: id } }, now);
    return ok(this.ctx.apiKeys.get(userId, id)!);
  }
}
