import type { Membership, SiteRole, SiteView } from "../../protocol/accounts.ts";

export interface SiteRecord {
  id: string;
  name: string;
  createdAt: number;
}

interface SiteRow {
  id: string;
  name: string;
  created_at: number;
  [key: string]: SqlStorageValue;
}

function record(r: SiteRow): SiteRecord {
  return { id: r.id, name: r.name, createdAt: r.created_at };
}

/** The hub's sites. Each one's nodes and activity live in its own SiteHub; only the name and the existence live here. */
export class SiteStore {
  constructor(private readonly sql: SqlStorage) {}

  get(id: string): SiteRecord | null {
    const row = this.sql.exec<SiteRow>("SELECT * FROM sites WHERE id = ?", id).toArray()[0];
    return row ? record(row) : null;
  }

  exists(id: string): boolean {
    return this.sql.exec("SELECT 1 FROM sites WHERE id = ?", id).toArray().length > 0;
  }

  /** A new site: its SiteHub has been told already, so nothing is left to move (`moved = 1`). */
  create(id: string, name: string, now: number): SiteRecord {
    this.sql.exec("INSERT INTO sites (id, name, created_at, moved) VALUES (?, ?, ?, 1)", id, name, now);
    return this.get(id)!;
  }

  rename(id: string, name: string): void {
    this.sql.exec("UPDATE sites SET name = ? WHERE id = ?", name, id);
  }

  /** Every site, as a superadmin sees them. */
  all(): SiteView[] {
    return this.sql
      .exec<SiteRow>("SELECT * FROM sites ORDER BY id")
      .toArray()
      .map((r) => ({ ...record(r), role: "superadmin" as const }));
  }

  /** The sites a user belongs to, with their role on each. */
  ofUser(userId: string): SiteView[] {
    return this.sql
      .exec<SiteRow & { role: string }>(
        "SELECT s.id, s.name, s.created_at, m.role FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = ? ORDER BY s.id",
        userId,
      )
      .toArray()
      .map((r) => ({ ...record(r), role: r.role as SiteRole }));
  }

  memberships(userId: string, superadmin: boolean): Membership[] {
    return (superadmin ? this.all() : this.ofUser(userId)).map((s) => ({ site: s.id, siteName: s.name, role: s.role }));
  }
}
