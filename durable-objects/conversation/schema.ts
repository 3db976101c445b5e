import { applyMigrations } from "../shared/migrations.ts";

/**
 * A conversation's SQLite schema as an append-only list of migrations (never edit a shipped one). One object holds
 * one conversation: its header, its answers (turns), the transcript and every tool call with its directive.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (
     id TEXT PRIMARY KEY,
     site TEXT NOT NULL,
     owner_id TEXT NOT NULL,
     owner_label TEXT NOT NULL,
     title TEXT NOT NULL,
     target TEXT NOT NULL,
     model TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE turns (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     status TEXT NOT NULL,
     steps_used INTEGER NOT NULL DEFAULT 0,
     step_limit INTEGER NOT NULL,
     tool_tier INTEGER NOT NULL,
     asker_id TEXT NOT NULL,
     asker_label TEXT NOT NULL,
     key_source TEXT,
     stop_requested INTEGER NOT NULL DEFAULT 0,
     started_at INTEGER NOT NULL,
     ended_at INTEGER
   );
   CREATE TABLE messages (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     turn_id TEXT NOT NULL,
     role TEXT NOT NULL,
     text TEXT NOT NULL,
     author TEXT,
     note_kind TEXT,
     model TEXT,
     provider TEXT,
     input_tokens INTEGER,
     output_tokens INTEGER,
     cost_micro INTEGER,
     cost_known INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE tool_calls (
     id TEXT PRIMARY KEY,
     message_id TEXT NOT NULL,
     position INTEGER NOT NULL,
     provider_call_id TEXT NOT NULL,
     name TEXT NOT NULL,
     input TEXT NOT NULL,
     tier INTEGER NOT NULL,
     runs_on TEXT NOT NULL,
     target TEXT NOT NULL,
     status TEXT NOT NULL,
     directive_id TEXT,
     fanout_id TEXT,
     model_result TEXT,
     results TEXT NOT NULL DEFAULT '[]',
     error TEXT,
     expires_at INTEGER,
     decided_by TEXT,
     decided_at INTEGER,
     started_at INTEGER,
     ended_at INTEGER
   );
   CREATE INDEX tool_calls_by_message ON tool_calls(message_id, position);
   CREATE INDEX tool_calls_by_status ON tool_calls(status, expires_at);`,
  // Whether the asker may only read inside the site's readable paths (then so may the answer's tool calls).
  `ALTER TABLE turns ADD COLUMN confined INTEGER NOT NULL DEFAULT 1;`,
  // The machines a call to every machine was shown for (and approved for): it runs on those, not on whoever is online
  // by the time it runs.
  `ALTER TABLE tool_calls ADD COLUMN node_ids TEXT;`,
  // An autonomous investigation: the site event it investigates, the directive it was given, its verdict.
  `CREATE TABLE investigation (
     event_id TEXT NOT NULL,
     directive TEXT NOT NULL,
     verdict TEXT,
     reminders INTEGER NOT NULL DEFAULT 0
   );`,
];

export function migrate(sql: SqlStorage): number {
  return applyMigrations(sql, MIGRATIONS);
}
