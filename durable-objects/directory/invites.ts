import type { InviteView, SiteRole } from "../../protocol/accounts.ts";

interface InviteRow {
  id: string;
  site_id: string;
  email: string | null;
  role: string;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
  created_by: string;
  [key: string]: SqlStorageValue;
}

function view(r: InviteRow): InviteView {
  return {
    id: r.id,
    site: r.site_id,
    email: r.email,
    role: r.role as SiteRole,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    acceptedAt: r.accepted_at,
    createdBy: r.created_by,
  };
}

export interface NewInvite {
  site: string;
  email: string | null;
  role: SiteRole;
  tokenHash: string;
  expiresAt: number;
  createdBy: string;
  /** The person who created it, null for the hub's setup key. */
  createdByUser: string | null;
}

/** One-time invite links, stored as the SHA-256 of the link's token. A revoked invite is deleted. */
export class InviteStore {
  constructor(private readonly sql: SqlStorage) {}

  create(input: NewInvite, now: number): InviteView {
    const id = `i-${crypto.randomUUID()}`;
    this.sql.exec(
      "INSERT INTO invites (id, token_hash, site_id, email, role, created_at, expires_at, created_by, created_by_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      id,
      input.tokenHash,
      input.site,
      input.email,
      input.role,
      now,
      input.expiresAt,
      input.createdBy,
      input.createdByUser,
    );
    return this.byId(id)!;
  }

  /** Deletes the open invites a person created on a site (they lost the right to invite); returns how many. */
  removeOpenBy(site: string, userId: string): number {
    return this.sql.exec("DELETE FROM invites WHERE site_id = ? AND created_by_user = ? AND accepted_at IS NULL", site, userId).rowsWritten;
  }

  byId(id: string): InviteView | null {
    const row = this.sql.exec<InviteRow>("SELECT * FROM invites WHERE id = ?", id).toArray()[0];
    return row ? view(row) : null;
  }

  byTokenHash(tokenHash: string): InviteView | null {
    const row = this.sql.exec<InviteRow>("SELECT * FROM invites WHERE token_hash = ?", tokenHash).toArray()[0];
    return row ? view(row) : null;
  }

  list(site: string): InviteView[] {
    return this.sql.exec<InviteRow>("SELECT * FROM invites WHERE site_id = ? ORDER BY created_at DESC", site).toArray().map(view);
  }

  remove(site: string, id: string): InviteView | null {
    const row = this.sql.exec<InviteRow>("DELETE FROM invites WHERE id = ? AND site_id = ? RETURNING *", id, site).toArray()[0];
    return row ? view(row) : null;
  }

  /**
   * Takes an open invite for one acceptance: true for exactly one caller, however many race for it. A new account
   * has no user id yet (null) until `settle`.
   */
  claim(id: string, userId: string | null, now: number): boolean {
    return this.sql.exec("UPDATE invites SET accepted_at = ?, accepted_by = ? WHERE id = ? AND accepted_at IS NULL", now, userId, id).rowsWritten === 1;
  }

  /**
   * Gives back a claim whose acceptance failed before it granted anything, so that the link still works; unless its
   * creator lost the right to invite meanwhile (`removeOpenBy` passed it over as claimed), then it goes as it would
   * have.
   */
  release(id: string, creatorMayInvite: (userId: string) => boolean): void {
    const row = this.sql.exec<{ created_by_user: string | null }>("SELECT created_by_user FROM invites WHERE id = ?", id).toArray()[0];
    if (!row) return;
    if (row.created_by_user === null || creatorMayInvite(row.created_by_user)) {
      this.sql.exec("UPDATE invites SET accepted_at = NULL, accepted_by = NULL WHERE id = ?", id);
    } else {
      this.sql.exec("DELETE FROM invites WHERE id = ?", id);
    }
  }

  /** Records who a claimed invite let in, once their account exists. */
  settle(id: string, userId: string): void {
    this.sql.exec("UPDATE invites SET accepted_by = ? WHERE id = ?", userId, id);
  }
}
