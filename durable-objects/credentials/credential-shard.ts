import { DurableObject } from "cloudflare:workers";
import { LiveCloseCode } from "../../protocol/live-messages.ts";
import type { Env } from "../../worker/env.ts";
import { DIRECTORY_NAME } from "../directory/directory.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import { closeSocketsAt } from "../shared/socket-holders.ts";
import type { SocketHolder } from "../shared/user-sockets.ts";
import type { CredentialKind, CredentialRecord, ResolvedCredential } from "./credential.ts";
import { CredentialStore } from "./credential-store.ts";
import type { StoredLlmKey } from "../shared/llm-key-rows.ts";
import { PersonalLlmKeys } from "./personal-llm-keys.ts";
import { migrate } from "./schema.ts";

/** The refusal for a credential that does not hold, by what kind of credential was presented. */
function refusal(kind: CredentialKind): HubResult<never> {
  switch (kind) {
    case "session":
      return fail(401, "session_expired", "your session has expired or was signed out; sign in again");
    case "api_key":
      return fail(401, "invalid_api_key", "invalid API key");
    case "sso":
      return fail(401, "no_account", "no account for this email on this hub; ask an admin for an invite");
  }
}

/**
 * One of the 4,096 shards that hold every session, API key and single sign-on identity, by hash
 * (`shard-name.ts`). Authenticating a request reads one row here: no object shared by the whole hub is on the
 * way. The Directory issues and ends credentials and keeps the lists people see; the shard is what a request is
 * checked against, so an ended credential stops working on its next request.
 *
 * Credentials issued before the shards existed live in the Directory's tables until moved. The Directory moves
 * them all in the background; until it is done, a shard asks it about a hash it does not know (and moves that one
 * at once). Once the Directory answers that it is done, the shard never asks again, so an unknown hash (a guess)
 * costs no one but this shard.
 *
 * A shard also keeps the personal AI keys of the users whose id hashes to it (`personalKeyShard`), read on every
 * chat message; see `PersonalLlmKeys` for how keys saved in the Directory before move here.
 */
export class CredentialShard extends DurableObject<Env> {
  private readonly store: CredentialStore;
  private readonly llmKeys: PersonalLlmKeys;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.transactionSync(() => migrate(ctx.storage.sql));
    this.store = new CredentialStore(ctx.storage.sql);
    this.llmKeys = new PersonalLlmKeys(ctx.storage.sql, (userId) => this.directory().claimLegacyLlmKey(userId));
  }

  /** Who a credential belongs to, or why it does not hold; `kind` is what it was presented as, and must be what it is. */
  async resolve(hash: string, kind: CredentialKind): Promise<HubResult<ResolvedCredential>> {
    const now = Date.now();
    let found = this.store.resolve(hash, now, kind);
    if (!found.found && found.ended === null && !this.movedAll()) {
      const claimed = await this.directory().claimLegacyCredential(hash);
      if (claimed.done) this.ctx.storage.sql.exec("INSERT OR REPLACE INTO shard_state (name, value) VALUES ('moved_all', '1')");
      if (claimed.record) {
        this.store.put(claimed.record, now, false);
        found = this.store.resolve(hash, now, kind);
      }
    }
    return found.found ? ok(found.value) : refusal(found.ended ?? kind);
  }

  /** Stores a credential: `issued` for a new one, otherwise one moved from the Directory (never overriding). */
  put(record: CredentialRecord, issued: boolean): void {
    this.store.put(record, Date.now(), issued);
  }

  /** Ends credentials and closes the live sockets they opened, at once. Returns how many were still working. */
  async revoke(items: { hash: string; kind: CredentialKind }[]): Promise<number> {
    const ended = this.store.revoke(items, Date.now());
    await Promise.all(ended.map((c) => this.closeSocketsOf(c.hash, c.kind, c.id)));
    return ended.length;
  }

  /** When each credential was last used (for the list of API keys). */
  lastUsed(hashes: string[]): Record<string, number | null> {
    return this.store.lastUsed(hashes);
  }

  /** Notes which object holds a live socket the credential opened. */
  notePresence(hash: string, holder: SocketHolder): void {
    this.store.notePresence(hash, holder, Date.now());
  }

  // ---- personal AI keys of the users whose id hashes here (`personalKeyShard`), sealed by the Worker ----

  personalLlmKey(userId: string): Promise<StoredLlmKey | null> {
    return this.llmKeys.get(userId);
  }

  setPersonalLlmKey(userId: string, key: StoredLlmKey): Promise<void> {
    return this.llmKeys.set(userId, key);
  }

  clearPersonalLlmKey(userId: string): Promise<boolean> {
    return this.llmKeys.clear(userId);
  }

  private directory() {
    return this.env.DIRECTORY.get(this.env.DIRECTORY.idFromName(DIRECTORY_NAME));
  }

  private movedAll(): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM shard_state WHERE name = 'moved_all'").toArray().length > 0;
  }

  private async closeSocketsOf(hash: string, kind: CredentialKind, id: string | null): Promise<void> {
    if (kind === "sso" || id === null) return;
    const match = kind === "session" ? { sessionIds: [id] } : { apiKeyIds: [id] };
    await Promise.all(
      this.store.holdersOf(hash).map(async (holder) => {
        try {
          await closeSocketsAt(this.env, holder, match, LiveCloseCode.SIGNED_OUT, "signed out");
        } catch (err) {
          console.error("could not close live sockets", holder.kind, holder.name, err instanceof Error ? err.message : String(err));
        }
      }),
    );
    this.store.forgetPresence(hash);
  }
}
