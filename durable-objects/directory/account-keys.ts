import type { ApiKeyView } from "../../protocol/accounts.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { NewApiKey } from "./api-keys.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { Actor } from "./identity.ts";

/** Keys a user may hold that are neither revoked nor expired. */
const MAX_LIVE_KEYS_PER_USER = 50;

/** Creating, listing and revoking a user's own API keys. */
export class AccountKeys {
  constructor(private readonly ctx: DirectoryContext) {}

  async create(input: NewApiKey, who: Actor, now = Date.now()): Promise<HubResult<ApiKeyView>> {
    if (input.expiresAt !== null && input.expiresAt <= now) return fail(400, "expiry_in_past", "expiresAt must be in the future");
    const live = this.ctx.apiKeys.list(input.userId).filter((k) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now)).length;
    if (live >= MAX_LIVE_KEYS_PER_USER) return fail(409, "too_many_keys", `at most ${MAX_LIVE_KEYS_PER_USER} live API keys per account; revoke some first`);
    const key = this.ctx.apiKeys.create(input, now);
    await this.ctx.record(
      { kind: "api_key", ...who, subject: input.userId, message: `${who.actor} created the ${key.scope} API key "${key.name}" (${key.prefix}…)`, data: { keyId: key.id } },
      now,
    );
    return ok(key);
  }

  list(userId: string): ApiKeyView[] {
    return this.ctx.apiKeys.list(userId);
  }

  async revoke(userId: string, id: string, who: Actor, now = Date.now()): Promise<HubResult<ApiKeyView>> {
    const key = this.ctx.apiKeys.get(userId, id);
    if (!key) return fail(404, "key_not_found", `API key ${id} not found`);
    if (key.revokedAt !== null) return fail(409, "already_revoked", `API key ${id} is already revoked`);
    this.ctx.apiKeys.revoke(userId, id, now);
    await this.ctx.record({ kind: "api_key", ...who, subject: userId, message: `${who.actor} revoked the API key "${key.name}" (${key.prefix}…)`, data: { keyId: id } }, now);
    await this.ctx.closeSockets(userId, { apiKeyIds: [id] }, "signed_out");
    return ok(this.ctx.apiKeys.get(userId, id)!);
  }
}
