import { LlmKeyRows, type StoredLlmKey } from "../shared/llm-key-rows.ts";

/** What the Directory answers about a personal key it held before keys moved to the shards. */
export interface LegacyLlmKeyClaim {
  key: StoredLlmKey | null;
  /** The Directory holds no key any more: no shard needs to ask it again. */
  done: boolean;
}

/**
 * The personal AI keys of the users whose key shard this is, sealed as the Worker sealed them. Reading one on every
 * chat message touches this one small object, never the Directory.
 *
 * Keys saved before the move stay in the Directory until their owner's shard claims them: the first time a shard
 * reads, writes or clears a user's key it asks the Directory once for that user (who is then "settled" here), and
 * never again; once the Directory says it holds no key at all, the shard stops asking for anyone. The Directory hands
 * a key out once (the claim removes it there), so calls for one user that overlap share one claim: a second claim
 * would come back empty and, answered first, would settle the user without the key the first one carries.
 */
export class PersonalLlmKeys {
  private readonly rows: LlmKeyRows;
  private readonly claiming = new Map<string, Promise<void>>();

  constructor(
    private readonly sql: SqlStorage,
    private readonly claimLegacy: (userId: string) => Promise<LegacyLlmKeyClaim>,
  ) {
    this.rows = new LlmKeyRows(sql, "personal_llm_keys");
  }

  async get(userId: string): Promise<StoredLlmKey | null> {
    await this.settle(userId);
    return this.rows.get(userId);
  }

  async set(userId: string, key: StoredLlmKey): Promise<void> {
    await this.settle(userId);
    this.rows.put(userId, key);
  }

  async clear(userId: string): Promise<boolean> {
    await this.settle(userId);
    return this.rows.remove(userId);
  }

  private async settle(userId: string): Promise<void> {
    // Checked before `settled`: another user's claim can mark every user settled while this one's key is on its way.
    const inFlight = this.claiming.get(userId);
    if (inFlight) return inFlight;
    if (this.settled(userId)) return;
    const claim = this.claim(userId).finally(() => this.claiming.delete(userId));
    this.claiming.set(userId, claim);
    return claim;
  }

  private async claim(userId: string): Promise<void> {
    const claim = await this.claimLegacy(userId);
    if (claim.key) this.rows.put(userId, claim.key);
    this.sql.exec("INSERT OR IGNORE INTO llm_keys_settled (owner) VALUES (?)", userId);
    if (claim.done) this.sql.exec("INSERT OR REPLACE INTO shard_state (name, value) VALUES ('llm_keys_moved_all', '1')");
  }

  private settled(userId: string): boolean {
    return (
      this.sql.exec("SELECT 1 FROM shard_state WHERE name = 'llm_keys_moved_all'").toArray().length > 0 ||
      this.sql.exec("SELECT 1 FROM llm_keys_settled WHERE owner = ?", userId).toArray().length > 0
    );
  }
}
