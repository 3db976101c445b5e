import type { LlmProvider } from "../../protocol/llm.ts";
import type { SealedSecret } from "./llm-key-crypto.ts";

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
