import type { MemberView, SiteRole } from "../../protocol/accounts.ts";

interface MemberRow {
  user_id: string;
  email: string;
  name: string;
  role: string;
  added_at: number;
  [key: string]: SqlStorageValue;
}

function view(r: MemberRow): MemberView {
  return { userId: r.user_id, email: r.email, name: r.name, role: r.role as SiteRole, addedAt: r.added_at };
}

/**
 * Who belongs to which site, with which role, as people see it listed. Requests read each site's own copy in its
 * SiteHub (SiteAccess), which AccessWrites updates before this list.
 */
export class MembershipStore {
  constructor(private readonly sql: SqlStorage) {}

  /** The sites a person belongs to: where an access event about them is mirrored (never used to authorise). */
  sitesOf(userId: string): string[] {
    return this.sql.exec<{ site_id: string }>("SELECT site_id FROM memberships WHERE user_id = ?", userId).toArray().map((r) => r.site_id);
  }

  get(site: string, userId: string): MemberView | null {
    const row = this.sql
      .exec<MemberRow>(
        "SELECT m.user_id, u.email, u.name, m.role, m.added_at FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.site_id = ? AND m.user_id = ?",
        site,
        userId,
      )
      .toArray()[0];
    return row ? view(row) : null;
  }

  list(site: string): MemberView[] {
    return this.sql
      .exec<MemberRow>(
        "SELECT m.user_id, u.email, u.name, m.role, m.added_at FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.site_id = ? ORDER BY m.added_at, u.email",
        site,
      )
      .toArray()
      .map(view);
  }

  /** Adds the member, or changes the role of one who already is. */
  set(site: string, userId: string, role: SiteRole, now: number): void {
    this.sql.exec(
      "INSERT INTO memberships (site_id, user_id, role, added_at) VALUES (?, ?, ?, ?) ON CONFLICT (site_id, user_id) DO UPDATE SET role = excluded.role",
      site,
      userId,
      role,
      now,
    );
  }

  remove(site: string, userId: string): void {
    this.sql.exec("DELETE FROM memberships WHERE site_id = ? AND user_id = ?", site, userId);
  }
}
