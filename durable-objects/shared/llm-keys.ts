import { lastFour, type LlmKeyScope, type LlmKeyView, type LlmProvider, type SetLlmKeyRequest } from "../../protocol/llm.ts";
import { directoryOf } from "../../worker/auth/directory-stub.ts";
import type { Env } from "../../worker/env.ts";
import { open, seal, type SealedSecret } from "./llm-key-crypto.ts";

/** A saved LLM key as its home object stores it: sealed, with what may be shown of it. */
export interface StoredLlmKey {
  provider: LlmProvider;
  model: string;
  baseUrl: string | null;
  last4: string;
  sealed: SealedSecret;
  updatedAt: number;
  updatedBy: string;
}

/** A key ready to call a provider with. Lives only in the memory of the object making the call. */
export interface UsableLlmKey {
  scope: LlmKeyScope;
  provider: LlmProvider;
  model: string;
  baseUrl: string | null;
  apiKey: string;
}

/**
 * Where keys live: personal keys with the user's data (the Directory today), site keys with the site (its SiteHub).
 * Everything that reads or writes a key goes through this, so moving personal keys to a per-user object later
 * changes this one place.
 */
export interface LlmKeyHome {
  personal(userId: string): Promise<StoredLlmKey | null>;
  setPersonal(userId: string, key: StoredLlmKey, actor: string): Promise<void>;
  clearPersonal(userId: string, actor: string): Promise<boolean>;
  site(site: string): Promise<StoredLlmKey | null>;
  setSite(site: string, key: StoredLlmKey, actor: string): Promise<void>;
  clearSite(site: string, actor: string): Promise<boolean>;
}

export function llmKeyHome(env: Env): LlmKeyHome {
  const directory = () => directoryOf(env);
  const hub = (site: string) => env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
  return {
    personal: async (userId) => (await directory().personalLlmKey(userId)) as StoredLlmKey | null,
    setPersonal: async (userId, key, actor) => void (await directory().setPersonalLlmKey(userId, key, actor)),
    clearPersonal: async (userId, actor) => directory().clearPersonalLlmKey(userId, actor),
    site: async (site) => (await hub(site).siteLlmKey()) as StoredLlmKey | null,
    setSite: async (site, key, actor) => void (await hub(site).setSiteLlmKey(key, actor)),
    clearSite: async (site, actor) => hub(site).clearSiteLlmKey(actor),
  };
}

/** Binds a ciphertext to its owner: a sealed key copied to another user or site does not open there. */
function ownerOf(scope: LlmKeyScope, owner: string): string {
  return `cortex-llm-key:${scope}:${owner}`;
}

export async function sealLlmKey(env: Env, scope: LlmKeyScope, owner: string, req: SetLlmKeyRequest, actor: string, now = Date.now()): Promise<StoredLlmKey> {
  return {
    provider: req.provider,
    model: req.model,
    baseUrl: req.baseUrl ?? null,
    last4: lastFour(req.key),
    sealed: await seal(env.CORTEX_ENCRYPTION_KEY, req.key, ownerOf(scope, owner)),
    updatedAt: now,
    updatedBy: actor,
  };
}

/** The key in the clear, or null when it cannot be opened (the encryption key changed since it was saved). */
export async function openLlmKey(env: Env, scope: LlmKeyScope, owner: string, stored: StoredLlmKey): Promise<UsableLlmKey | null> {
  const apiKey = await open(env.CORTEX_ENCRYPTION_KEY, stored.sealed, ownerOf(scope, owner));
  return apiKey === null ? null : { scope, provider: stored.provider, model: stored.model, baseUrl: stored.baseUrl, apiKey };
}

export function llmKeyView(scope: LlmKeyScope, stored: StoredLlmKey): LlmKeyView {
  const { provider, model, baseUrl, last4, updatedAt, updatedBy } = stored;
  return { scope, provider, model, baseUrl, last4, updatedAt, updatedBy };
}

interface KeyRow {
  owner: string;
  provider: string;
  model: string;
  base_url: string | null;
  last4: string;
  iv: string;
  ciphertext: string;
  updated_at: number;
  updated_by: string;
  [key: string]: SqlStorageValue;
}

/** The SQL table shape both homes use: one sealed key per owner (a user id, or the site id). */
export const LLM_KEY_TABLE_COLUMNS = `owner TEXT PRIMARY KEY,
     provider TEXT NOT NULL,
     model TEXT NOT NULL,
     base_url TEXT,
     last4 TEXT NOT NULL,
     iv TEXT NOT NULL,
     ciphertext TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     updated_by TEXT NOT NULL`;

export class LlmKeyRows {
  constructor(
    private readonly sql: SqlStorage,
    private readonly table: string,
  ) {}

  get(owner: string): StoredLlmKey | null {
    const row = this.sql.exec<KeyRow>(`SELECT * FROM ${this.table} WHERE owner = ?`, owner).toArray()[0];
    if (!row) return null;
    return {
      provider: row.provider as LlmProvider,
      model: row.model,
      baseUrl: row.base_url,
      last4: row.last4,
      sealed: { iv: row.iv, ciphertext: row.ciphertext },
      updatedAt: row.updated_at,
      updatedBy: row.updated_by,
    };
  }

  put(owner: string, key: StoredLlmKey): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO ${this.table} (owner, provider, model, base_url, last4, iv, ciphertext, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      owner,
      key.provider,
      key.model,
      key.baseUrl,
      key.last4,
      key.sealed.iv,
      key.sealed.ciphertext,
      key.updatedAt,
      key.updatedBy,
    );
  }

  remove(owner: string): boolean {
    return this.sql.exec(`DELETE FROM ${this.table} WHERE owner = ?`, owner).rowsWritten > 0;
  }
}
