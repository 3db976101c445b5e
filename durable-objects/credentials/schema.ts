import { LLM_KEY_TABLE_COLUMNS } from "../shared/llm-key-rows.ts";
import { applyMigrations } from "../shared/migrations.ts";

/** A credential shard's SQLite schema, an append-only list of migrations like every object's. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE credentials (
     hash TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     id TEXT,
     user TEXT NOT NULL,
     key_name TEXT,
     key_scope TEXT,
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     last_used_at INTEGER NOT NULL,
     revoked_at INTEGER
   ) WITHOUT ROWID;
   CREATE TABLE presence (
     hash TEXT NOT NULL,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     seen_at INTEGER NOT NULL,
     PRIMARY KEY (hash, kind, name)
   ) WITHOUT ROWID;
   CREATE TABLE shard_state (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL
   ) WITHOUT ROWID;`,
  // Personal AI keys, sealed (AES-GCM), by user id; settled users' keys no longer live in the Directory.
  `CREATE TABLE personal_llm_keys (
     ${LLM_KEY_TABLE_COLUMNS}
   );
   CREATE TABLE llm_keys_settled (
     owner TEXT PRIMARY KEY
   ) WITHOUT ROWID;`,
];

export function migrate(sql: SqlStorage): void {
  applyMigrations(sql, MIGRATIONS);
}
