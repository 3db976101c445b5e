import { applyMigrations } from "../shared/migrations.ts";
import { LLM_KEY_TABLE_COLUMNS } from "../shared/llm-key-rows.ts";

/** The site's own record of its existence and members, which every request on the site reads (see SiteAccess). */
const SITE_ACCESS = `CREATE TABLE site_info (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE site_members (
     user_id TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     added_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE site_access_state (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE site_socket_holders (
     user_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     seen_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, kind, name)
   ) WITHOUT ROWID;`;

/**
 * Metrics history in per-node rings (see MetricsHistoryStore): a minute's slot is its index modulo MINUTE_SLOTS
 * (1,441), a quarter's its index modulo QUARTER_SLOTS (672), so storing one overwrites the stale one and nothing is
 * pruned. The rows of the old tables move to their slots, the latest winning a shared slot (older ones were past
 * retention or, for minutes, folded already); the old tables, their indexes on time and the fold marker go.
 */
export const METRICS_RINGS = `CREATE TABLE metrics_minute_slots (
     node_id TEXT NOT NULL,
     slot INTEGER NOT NULL,
     minute INTEGER NOT NULL,
     samples INTEGER NOT NULL,
     cpu_sum REAL NOT NULL,
     cpu_max REAL NOT NULL,
     mem_sum REAL NOT NULL,
     mem_max REAL NOT NULL,
     mem_total REAL NOT NULL,
     disk_used_sum REAL NOT NULL,
     disk_used_max REAL NOT NULL,
     disk_total REAL NOT NULL,
     gpu_samples INTEGER NOT NULL,
     gpu_sum REAL NOT NULL,
     gpu_max REAL,
     gpu_mem_sum REAL NOT NULL,
     gpu_mem_total REAL,
     PRIMARY KEY (node_id, slot)
   ) WITHOUT ROWID;
   CREATE TABLE metrics_quarter_slots (
     node_id TEXT NOT NULL,
     slot INTEGER NOT NULL,
     quarter INTEGER NOT NULL,
     samples INTEGER NOT NULL,
     cpu_sum REAL NOT NULL,
     cpu_max REAL NOT NULL,
     mem_sum REAL NOT NULL,
     mem_max REAL NOT NULL,
     mem_total REAL NOT NULL,
     disk_used_sum REAL NOT NULL,
     disk_used_max REAL NOT NULL,
     disk_total REAL NOT NULL,
     gpu_samples INTEGER NOT NULL,
     gpu_sum REAL NOT NULL,
     gpu_max REAL,
     gpu_mem_sum REAL NOT NULL,
     gpu_mem_total REAL,
     PRIMARY KEY (node_id, slot)
   ) WITHOUT ROWID;
   INSERT INTO metrics_minute_slots (node_id, slot, minute, samples, cpu_sum, cpu_max, mem_sum, mem_max, mem_total, disk_used_sum, disk_used_max,
       disk_total, gpu_samples, gpu_sum, gpu_max, gpu_mem_sum, gpu_mem_total)
     SELECT node_id, (minute / 60000) % 1441, minute, samples, cpu_sum, cpu_max, mem_sum, mem_max, mem_total, disk_used_sum, disk_used_max,
       disk_total, gpu_samples, gpu_sum, gpu_max, gpu_mem_sum, gpu_mem_total
     FROM metrics_minutes WHERE true ORDER BY minute
     ON CONFLICT (node_id, slot) DO UPDATE SET minute = excluded.minute, samples = excluded.samples, cpu_sum = excluded.cpu_sum, cpu_max = excluded.cpu_max,
       mem_sum = excluded.mem_sum, mem_max = excluded.mem_max, mem_total = excluded.mem_total,
       disk_used_sum = excluded.disk_used_sum, disk_used_max = excluded.disk_used_max, disk_total = excluded.disk_total,
       gpu_samples = excluded.gpu_samples, gpu_sum = excluded.gpu_sum, gpu_max = excluded.gpu_max,
       gpu_mem_sum = excluded.gpu_mem_sum, gpu_mem_total = excluded.gpu_mem_total;
   INSERT INTO metrics_quarter_slots (node_id, slot, quarter, samples, cpu_sum, cpu_max, mem_sum, mem_max, mem_total, disk_used_sum, disk_used_max,
       disk_total, gpu_samples, gpu_sum, gpu_max, gpu_mem_sum, gpu_mem_total)
     SELECT node_id, (quarter / 900000) % 672, quarter, samples, cpu_sum, cpu_max, mem_sum, mem_max, mem_total, disk_used_sum, disk_used_max,
       disk_total, gpu_samples, gpu_sum, gpu_max, gpu_mem_sum, gpu_mem_total
     FROM metrics_quarters WHERE true ORDER BY quarter
     ON CONFLICT (node_id, slot) DO UPDATE SET quarter = excluded.quarter, samples = excluded.samples, cpu_sum = excluded.cpu_sum, cpu_max = excluded.cpu_max,
       mem_sum = excluded.mem_sum, mem_max = excluded.mem_max, mem_total = excluded.mem_total,
       disk_used_sum = excluded.disk_used_sum, disk_used_max = excluded.disk_used_max, disk_total = excluded.disk_total,
       gpu_samples = excluded.gpu_samples, gpu_sum = excluded.gpu_sum, gpu_max = excluded.gpu_max,
       gpu_mem_sum = excluded.gpu_mem_sum, gpu_mem_total = excluded.gpu_mem_total;
   DROP TABLE metrics_minutes;
   DROP TABLE metrics_quarters;
   DROP TABLE metrics_folded;`;

/**
 * The site's SQLite schema as an append-only list of migrations. A migration, once shipped, is never edited:
 * existing sites replay only the ones they have not applied yet.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE nodes (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     grp TEXT,
     tier TEXT NOT NULL,
     token_hash TEXT NOT NULL,
     token_prefix TEXT NOT NULL,
     status TEXT NOT NULL,
     running_tier TEXT,
     conn_id TEXT,
     created_at INTEGER NOT NULL,
     connected_at INTEGER,
     disconnected_at INTEGER,
     last_heartbeat_at INTEGER,
     deregistered_at INTEGER,
     metrics TEXT,
     version TEXT,
     os TEXT,
     hostname TEXT,
     arch TEXT,
     capabilities TEXT NOT NULL DEFAULT '[]',
     last_error TEXT
   );
   CREATE TABLE activity (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     kind TEXT NOT NULL,
     level TEXT NOT NULL,
     node_id TEXT,
     actor TEXT,
     message TEXT NOT NULL,
     data TEXT
   );
   CREATE INDEX activity_by_node ON activity(node_id, id);
   CREATE INDEX activity_by_kind ON activity(kind, id);`,
  `CREATE TABLE directives (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     fanout_id TEXT,
     node_id TEXT NOT NULL,
     action TEXT NOT NULL,
     params TEXT NOT NULL,
     status TEXT NOT NULL,
     requested_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     sent_at INTEGER,
     started_at INTEGER,
     ended_at INTEGER,
     timeout_ms INTEGER NOT NULL,
     deadline_at INTEGER,
     exit_code INTEGER,
     output TEXT,
     output_bytes INTEGER NOT NULL DEFAULT 0,
     chunks_received INTEGER NOT NULL DEFAULT 0,
     pending_result TEXT,
     truncated INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     error_code TEXT,
     data TEXT
   );
   CREATE INDEX directives_by_node ON directives(node_id, seq);
   CREATE INDEX directives_by_fanout ON directives(fanout_id, seq);
   CREATE INDEX directives_in_flight ON directives(status, deadline_at);
   CREATE TABLE directive_chunks (
     directive_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     chunk TEXT NOT NULL,
     PRIMARY KEY (directive_id, seq)
   ) WITHOUT ROWID;
   CREATE TABLE fanouts (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     requested_by TEXT NOT NULL,
     concurrency INTEGER NOT NULL,
     total INTEGER NOT NULL
   );
   CREATE TABLE runs (
     run_id TEXT NOT NULL,
     node_id TEXT NOT NULL,
     directive_id TEXT NOT NULL,
     state TEXT NOT NULL,
     exit_code INTEGER,
     reason TEXT,
     output_tail TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER NOT NULL,
     reported_at INTEGER NOT NULL,
     PRIMARY KEY (node_id, run_id)
   );`,
  `CREATE TABLE metrics_minutes (
     node_id TEXT NOT NULL,
     minute INTEGER NOT NULL,
     samples INTEGER NOT NULL,
     cpu_sum REAL NOT NULL,
     cpu_max REAL NOT NULL,
     mem_sum REAL NOT NULL,
     mem_max REAL NOT NULL,
     mem_total REAL NOT NULL,
     disk_used_sum REAL NOT NULL,
     disk_used_max REAL NOT NULL,
     disk_total REAL NOT NULL,
     gpu_samples INTEGER NOT NULL,
     gpu_sum REAL NOT NULL,
     gpu_max REAL,
     gpu_mem_sum REAL NOT NULL,
     gpu_mem_total REAL,
     PRIMARY KEY (node_id, minute)
   ) WITHOUT ROWID;
   CREATE INDEX metrics_by_minute ON metrics_minutes(minute);`,
  `ALTER TABLE nodes ADD COLUMN sandbox_root TEXT;`,
  `CREATE TABLE site_settings (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     updated_by TEXT NOT NULL
   ) WITHOUT ROWID;`,
  `ALTER TABLE directives ADD COLUMN requested_by_user TEXT;
   ALTER TABLE directives ADD COLUMN confine_to TEXT;`,
  `ALTER TABLE directives ADD COLUMN late_result TEXT;`,
  // Supervised processes: each node's list (versioned as a whole), the events agents reported (kept to drop
  // repeats by id), and the latest status, on the node's own row so a heartbeat still writes one row.
  `CREATE TABLE processes (
     node_id TEXT NOT NULL,
     name TEXT NOT NULL,
     spec TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     updated_by TEXT NOT NULL,
     PRIMARY KEY (node_id, name)
   ) WITHOUT ROWID;
   CREATE TABLE process_config (
     node_id TEXT PRIMARY KEY,
     version INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE process_events (
     node_id TEXT NOT NULL,
     id TEXT NOT NULL,
     name TEXT NOT NULL,
     kind TEXT NOT NULL,
     at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     PRIMARY KEY (node_id, id)
   ) WITHOUT ROWID;
   CREATE INDEX process_events_by_received ON process_events(received_at);
   ALTER TABLE nodes ADD COLUMN supervision TEXT;
   ALTER TABLE nodes ADD COLUMN supervision_at INTEGER;`,
  `CREATE TABLE node_activity_quota (
     node_id TEXT PRIMARY KEY,
     window_start INTEGER NOT NULL,
     used INTEGER NOT NULL,
     noted INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  `CREATE TABLE roosts (
     name TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     created_by TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     latest_version INTEGER
   ) WITHOUT ROWID;
   CREATE TABLE roost_versions (
     roost TEXT NOT NULL,
     version INTEGER NOT NULL,
     state TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     created_by TEXT NOT NULL,
     message TEXT NOT NULL,
     files INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     chunks INTEGER NOT NULL,
     unique_chunks INTEGER NOT NULL,
     new_chunks INTEGER NOT NULL,
     new_bytes INTEGER NOT NULL,
     added INTEGER NOT NULL,
     changed INTEGER NOT NULL,
     removed INTEGER NOT NULL,
     manifest_sha256 TEXT NOT NULL,
     PRIMARY KEY (roost, version)
   ) WITHOUT ROWID;
   CREATE TABLE roost_chunks (
     hash TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     stored_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE roost_version_chunks (
     hash TEXT NOT NULL,
     roost TEXT NOT NULL,
     version INTEGER NOT NULL,
     PRIMARY KEY (hash, roost, version)
   ) WITHOUT ROWID;
   CREATE TABLE roost_deployments (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     kind TEXT NOT NULL,
     roost TEXT NOT NULL,
     version INTEGER NOT NULL,
     path TEXT NOT NULL,
     spec TEXT NOT NULL,
     state TEXT NOT NULL,
     reason TEXT,
     requested_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX roost_deployments_by_roost ON roost_deployments(roost, version);
   CREATE INDEX roost_deployments_active ON roost_deployments(state);
   CREATE TABLE roost_targets (
     deployment_id TEXT NOT NULL,
     node_id TEXT NOT NULL,
     position INTEGER NOT NULL,
     wave TEXT NOT NULL,
     status TEXT NOT NULL,
     directive_id TEXT,
     progress TEXT,
     error TEXT,
     started_at INTEGER,
     ended_at INTEGER,
     PRIMARY KEY (deployment_id, node_id)
   ) WITHOUT ROWID;
   CREATE INDEX roost_targets_by_directive ON roost_targets(directive_id);
   CREATE INDEX roost_targets_by_node ON roost_targets(node_id, status);`,
  // The AI chat: the per-machine "AI tools allowed" switch, the site's LLM key (owner = the site id), and the index
  // of the site's conversations (each conversation's own object holds its transcript).
  `ALTER TABLE nodes ADD COLUMN ai_tools INTEGER NOT NULL DEFAULT 1;
   CREATE TABLE site_llm_key (
     ${LLM_KEY_TABLE_COLUMNS}
   );
   CREATE TABLE conversations (
     id TEXT PRIMARY KEY,
     owner_id TEXT NOT NULL,
     summary TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX conversations_by_update ON conversations(updated_at, id);
   CREATE INDEX conversations_by_owner ON conversations(owner_id, updated_at, id);`,
  // One activity entry per directive (and per fan-out), updated in place; access events read by admins only.
  `ALTER TABLE activity ADD COLUMN directive_id TEXT;
   ALTER TABLE activity ADD COLUMN fanout_id TEXT;
   ALTER TABLE activity ADD COLUMN audience TEXT NOT NULL DEFAULT 'site';
   ALTER TABLE activity ADD COLUMN subject TEXT;
   ALTER TABLE activity ADD COLUMN updated_at INTEGER;
   UPDATE activity SET audience = 'admins' WHERE kind = 'access';
   CREATE INDEX activity_by_directive ON activity(directive_id) WHERE directive_id IS NOT NULL;
   CREATE INDEX activity_by_fanout ON activity(fanout_id) WHERE fanout_id IS NOT NULL;
   ALTER TABLE fanouts ADD COLUMN skipped_offline INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE fanouts ADD COLUMN action TEXT;
   ALTER TABLE fanouts ADD COLUMN what TEXT;
   ALTER TABLE directives ADD COLUMN signal TEXT;
   CREATE TABLE metrics_quarters (
     node_id TEXT NOT NULL,
     quarter INTEGER NOT NULL,
     samples INTEGER NOT NULL,
     cpu_sum REAL NOT NULL,
     cpu_max REAL NOT NULL,
     mem_sum REAL NOT NULL,
     mem_max REAL NOT NULL,
     mem_total REAL NOT NULL,
     disk_used_sum REAL NOT NULL,
     disk_used_max REAL NOT NULL,
     disk_total REAL NOT NULL,
     gpu_samples INTEGER NOT NULL,
     gpu_sum REAL NOT NULL,
     gpu_max REAL,
     gpu_mem_sum REAL NOT NULL,
     gpu_mem_total REAL,
     PRIMARY KEY (node_id, quarter)
   ) WITHOUT ROWID;
   CREATE INDEX metrics_by_quarter ON metrics_quarters(quarter);
   CREATE TABLE metrics_folded (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL);`,
  SITE_ACCESS,
  // Autonomous investigations: one row per event that reached the guards (process events and alerts), keyed by the
  // event's own id so a repeat is a duplicate; the site's Alertmanager token (its hash); small facts about the site.
  `CREATE TABLE autonomy_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     source TEXT NOT NULL,
     trigger TEXT NOT NULL,
     event_key TEXT NOT NULL UNIQUE,
     node_id TEXT,
     subject TEXT NOT NULL,
     status TEXT NOT NULL,
     skip_reason TEXT,
     reason TEXT,
     detail TEXT NOT NULL,
     context TEXT NOT NULL,
     conversation_id TEXT,
     verdict TEXT,
     actions TEXT NOT NULL DEFAULT '[]',
     usage TEXT,
     duplicates INTEGER NOT NULL DEFAULT 0,
     launches INTEGER NOT NULL DEFAULT 0,
     email_status TEXT NOT NULL DEFAULT 'none',
     email_at INTEGER,
     email_detail TEXT,
     webhook_status TEXT NOT NULL DEFAULT 'none',
     webhook_at INTEGER,
     webhook_detail TEXT,
     check_at INTEGER,
     created_at INTEGER NOT NULL,
     ended_at INTEGER
   );
   CREATE INDEX autonomy_by_status ON autonomy_events(status, seq);
   CREATE INDEX autonomy_by_subject ON autonomy_events(node_id, subject, created_at);
   CREATE INDEX autonomy_by_check ON autonomy_events(check_at);
   CREATE INDEX autonomy_by_created ON autonomy_events(created_at, seq);
   CREATE TABLE alert_token (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     hash TEXT NOT NULL,
     prefix TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     created_by TEXT NOT NULL
   );
   CREATE TABLE site_facts (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // A fan-out's members by status: each result asks whether any is still queued or pending, which must not read
  // every member (a 1,000-node fan-out would read a million rows over its results).
  `CREATE INDEX directives_by_fanout_status ON directives(fanout_id, status) WHERE fanout_id IS NOT NULL;`,
  METRICS_RINGS,
];

/** The version that gave sites their own existence and members (see SiteAccess). */
export const SITE_ACCESS_VERSION = MIGRATIONS.indexOf(SITE_ACCESS) + 1;

/** Applies the migrations this object has not applied yet; returns the version it was at before. */
export function migrate(sql: SqlStorage): number {
  return applyMigrations(sql, MIGRATIONS);
}
