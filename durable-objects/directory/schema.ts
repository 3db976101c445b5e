import { LLM_KEY_TABLE_COLUMNS } from "../shared/llm-key-rows.ts";
import { applyMigrations } from "../shared/migrations.ts";

/**
 * The Directory's SQLite schema as an append-only list of migrations. A migration, once shipped, is never edited:
 * an existing hub replays only the ones it has not applied yet.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     email TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     superadmin INTEGER NOT NULL DEFAULT 0,
     password_hash TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     token_hash TEXT NOT NULL UNIQUE,
     user_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER NOT NULL,
     ip TEXT,
     user_agent TEXT
   );
   CREATE INDEX sessions_by_user ON sessions(user_id);
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     key_hash TEXT NOT NULL UNIQUE,
     user_id TEXT NOT NULL,
     name TEXT NOT NULL,
     scope TEXT NOT NULL,
     prefix TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     last_used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE INDEX api_keys_by_user ON api_keys(user_id, created_at);
   CREATE TABLE passkeys (
     id TEXT PRIMARY KEY,
     credential_id TEXT NOT NULL UNIQUE,
     user_id TEXT NOT NULL,
     name TEXT NOT NULL,
     public_key TEXT NOT NULL,
     counter INTEGER NOT NULL,
     transports TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER
   );
   CREATE INDEX passkeys_by_user ON passkeys(user_id);
   CREATE TABLE challenges (
     challenge TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     user_id TEXT,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE sites (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE memberships (
     site_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     role TEXT NOT NULL,
     added_at INTEGER NOT NULL,
     PRIMARY KEY (site_id, user_id)
   ) WITHOUT ROWID;
   CREATE INDEX memberships_by_user ON memberships(user_id);
   CREATE TABLE invites (
     id TEXT PRIMARY KEY,
     token_hash TEXT NOT NULL UNIQUE,
     site_id TEXT NOT NULL,
     email TEXT,
     role TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     accepted_at INTEGER,
     accepted_by TEXT,
     created_by TEXT NOT NULL
   );
   CREATE INDEX invites_by_site ON invites(site_id, created_at);
   CREATE TABLE login_throttle (
     key TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     last_failure_at INTEGER NOT NULL,
     locked_until INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     kind TEXT NOT NULL,
     actor TEXT,
     site_id TEXT,
     ip TEXT,
     message TEXT NOT NULL,
     data TEXT
   );
   CREATE INDEX audit_by_site ON audit(site_id, id);
   CREATE INDEX audit_by_kind ON audit(kind, id);
   INSERT INTO sites (id, name, created_at) VALUES ('default', 'Default', 0);`,
  `CREATE TABLE live_presence (
     user_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     site_id TEXT NOT NULL,
     seen_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, kind, name)
   ) WITHOUT ROWID;`,
  // Personal LLM keys, sealed (AES-GCM); the owner is the user id.
  `CREATE TABLE llm_keys (
     ${LLM_KEY_TABLE_COLUMNS}
   );`,
  // Sessions, API keys and single sign-on identities are checked in credential shards, memberships in each site's
  // SiteHub; these tables become the lists people see. Rows from before are marked not moved yet (moved = 0) and
  // are copied over by LegacyCredentials; live sockets are now found through the credential that opened them.
  `ALTER TABLE sessions ADD COLUMN moved INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE api_keys ADD COLUMN moved INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE users ADD COLUMN moved INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE sites ADD COLUMN moved INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE directory_state (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL
   ) WITHOUT ROWID;
   DROP TABLE live_presence;`,
  // Who (by user id) created an invite, so that their open invites go when they lose the right to invite.
  `ALTER TABLE invites ADD COLUMN created_by_user TEXT;`,
  // Throttle rows are pruned once forgotten, oldest first; failed sign-ins written to the audit trail are counted
  // per source and hour, so that a flood is summarised instead of pushing older history out.
  `CREATE INDEX login_throttle_by_age ON login_throttle(last_failure_at);
   CREATE TABLE audit_failures (
     hour INTEGER NOT NULL,
     source TEXT NOT NULL,
     count INTEGER NOT NULL,
     summary_id INTEGER,
     PRIMARY KEY (hour, source)
   ) WITHOUT ROWID;`,
];

export function migrate(sql: SqlStorage): void {
  applyMigrations(sql, MIGRATIONS);
}
