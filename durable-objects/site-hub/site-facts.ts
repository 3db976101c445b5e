/** The `site_facts` table: small facts the site learns about itself (the hub's address its admins use). */
export class SiteFacts {
  constructor(private readonly sql: SqlStorage) {}

  get(name: string): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM site_facts WHERE name = ?", name).toArray()[0]?.value ?? null;
  }

  set(name: string, value: string): void {
    this.sql.exec("INSERT INTO site_facts (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value);
  }
}
