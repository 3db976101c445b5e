/**
 * Applies an object's append-only list of SQL migrations: statement N is version N+1, and a version once
 * applied is never run again, so a shipped migration must never be edited. Returns the version the storage was at.
 */
export function applyMigrations(sql: SqlStorage, migrations: readonly string[]): number {
  sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const row = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one();
  const applied = row.v ?? 0;
  migrations.forEach((statement, index) => {
    const version = index + 1;
    if (version <= applied) return;
    sql.exec(statement);
    sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", version, Date.now());
  });
  return applied;
}
