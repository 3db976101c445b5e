import type { SiteRole } from "../../protocol/accounts.ts";
import { DEFAULT_SITE } from "../../protocol/identifiers.ts";
import { SESSION_MAX_MS } from "../directory/sessions.ts";
import type { SocketHolder } from "../shared/user-sockets.ts";

/** A member of the site, as the site's own object keeps it. */
export interface SiteMember {
  userId: string;
  role: SiteRole;
  addedAt: number;
}

/** What authorising a request on this site needs: whether it exists, and the caller's role on it. */
export interface SiteAccessInfo {
  exists: boolean;
  role: SiteRole | null;
  /** The version of the site's existence and members this answer was read at (see `SiteAccess.version`). */
  version: string;
}

/** The refusal of a call made with an `access` answer of an older version: the caller authorises again. */
export const ACCESS_CHANGED = "access_changed";

/** A site's existence and members as the Directory had them before sites kept their own. */
export type LegacySite = { createdAt: number | null; members: SiteMember[] };

export interface SiteAccessLinks {
  /** Asks the Directory for what it knew of this site (once, for a site from before the move). */
  legacy(site: string): Promise<LegacySite>;
  /**
   * Closes a person's live sockets on this site: they were removed or demoted. `holders` are the other objects of
   * the site that noted holding some (the chat's conversations); the site's own sockets are closed too.
   */
  accessChanged(userId: string, holders: SocketHolder[]): Promise<void>;
}

interface StateRow {
  value: string;
  [key: string]: SqlStorageValue;
}

/**
 * Who may reach this site: its existence and its members' roles, read by every request on the site (one row in
 * the site's own object, so no request's authorisation waits on an object shared by the hub). The Directory keeps
 * the lists people see and writes here first whenever it grants or takes away access, so a removal, a demotion or
 * a new member applies on the person's next request.
 *
 * A site from before sites kept their own members learns them once from the Directory: the Directory hands them
 * over as it moves everything (`import`), and the site asks by itself before the first change the Directory makes
 * here, and before answering a request when it is `pending` (its storage predates the move, or it is the `default`
 * site, which exists from the start). Any other object answers from what it has: a site name nobody created costs
 * the Directory nothing.
 */
export class SiteAccess {
  /**
   * Which object instance counts the changes, and how many it has made: any change to the site's existence or
   * members gives a new version, and so does every restart of the object (a new instance id), so that an answer
   * read at one version is exact for as long as the version is the same.
   */
  private readonly instance = crypto.randomUUID();
  private changes = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly links: SiteAccessLinks,
  ) {}

  /** Marks this object as one that must learn its site from the Directory before answering. */
  markPending(): void {
    this.setState("pending", "1");
  }

  /** The version of the site's existence and members as this object has them now. */
  get version(): string {
    return `${this.instance}:${this.changes}`;
  }

  async access(site: string, userId: string | null): Promise<SiteAccessInfo> {
    // The default site exists from the start, before anything may have told this object so.
    if (this.state("pending") || site === DEFAULT_SITE) await this.settle(site);
    const exists = this.sql.exec("SELECT 1 FROM site_info WHERE id = ?", site).toArray().length > 0;
    return { exists, role: userId ? this.roleOf(userId) : null, version: this.version };
  }

  /**
   * Whether the site exists as far as this object knows without asking anyone: created here, the default site, or one
   * from before the move that has yet to learn its members (it exists, or the Directory would not have marked it).
   * Read-only, for callers nobody has authenticated.
   */
  known(site: string): boolean {
    if (site === DEFAULT_SITE || this.state("pending")) return true;
    return this.sql.exec("SELECT 1 FROM site_info WHERE id = ?", site).toArray().length > 0;
  }

  async created(site: string, createdAt: number): Promise<void> {
    await this.settle(site);
    this.sql.exec("INSERT OR IGNORE INTO site_info (id, created_at) VALUES (?, ?)", site, createdAt);
    this.changes += 1;
  }

  async setMember(site: string, member: SiteMember): Promise<void> {
    await this.settle(site);
    const before = this.roleOf(member.userId);
    this.sql.exec(
      "INSERT INTO site_members (user_id, role, added_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET role = excluded.role",
      member.userId,
      member.role,
      member.addedAt,
    );
    this.changes += 1;
    // A demoted admin's open sockets were opened with rights they no longer have.
    if (before === "admin" && member.role === "member") await this.accessChanged(member.userId);
  }

  async removeMember(site: string, userId: string): Promise<void> {
    await this.settle(site);
    this.sql.exec("DELETE FROM site_members WHERE user_id = ?", userId);
    this.changes += 1;
    await this.accessChanged(userId);
  }

  /**
   * Notes that another object of the site holds a live socket of this person (the chat's conversations). A note
   * older than the longest session is forgotten: a socket open that long has since reconnected (and been noted
   * again), as every deploy and network change makes it.
   */
  noteHolder(userId: string, holder: SocketHolder, now: number): void {
    this.sql.exec("DELETE FROM site_socket_holders WHERE user_id = ? AND seen_at <= ?", userId, now - SESSION_MAX_MS);
    this.sql.exec(
      "INSERT INTO site_socket_holders (user_id, kind, name, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, kind, name) DO UPDATE SET seen_at = excluded.seen_at",
      userId,
      holder.kind,
      holder.name,
      now,
    );
  }

  private async accessChanged(userId: string): Promise<void> {
    const holders = this.sql
      .exec<{ kind: string; name: string }>("SELECT kind, name FROM site_socket_holders WHERE user_id = ?", userId)
      .toArray()
      .map((h) => ({ kind: h.kind, name: h.name }));
    this.sql.exec("DELETE FROM site_socket_holders WHERE user_id = ?", userId);
    await this.links.accessChanged(userId, holders);
  }

  /** The Directory's hand-over of a site from before the move; ignored once the site knows its own. */
  import(site: string, legacy: LegacySite): void {
    if (this.state("settled")) return;
    if (legacy.createdAt !== null) this.sql.exec("INSERT OR IGNORE INTO site_info (id, created_at) VALUES (?, ?)", site, legacy.createdAt);
    for (const m of legacy.members) {
      this.sql.exec("INSERT OR IGNORE INTO site_members (user_id, role, added_at) VALUES (?, ?, ?)", m.userId, m.role, m.addedAt);
    }
    this.setState("settled", "1");
    this.changes += 1;
  }

  private roleOf(userId: string): SiteRole | null {
    return (this.sql.exec<{ role: string }>("SELECT role FROM site_members WHERE user_id = ?", userId).toArray()[0]?.role as SiteRole | undefined) ?? null;
  }

  /** Learns the site from the Directory first, unless it has already. */
  private async settle(site: string): Promise<void> {
    if (this.state("settled")) return;
    this.import(site, await this.links.legacy(site));
  }

  private state(name: string): boolean {
    return this.sql.exec<StateRow>("SELECT value FROM site_access_state WHERE name = ?", name).toArray().length > 0;
  }

  private setState(name: string, value: string): void {
    this.sql.exec("INSERT OR REPLACE INTO site_access_state (name, value) VALUES (?, ?)", name, value);
  }
}
