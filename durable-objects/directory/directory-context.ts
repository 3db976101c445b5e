import type { MeResponse, UserView } from "../../protocol/accounts.ts";
import type { AccessLinks } from "./access-links.ts";
import { AccessWrites } from "./access-writes.ts";
import { ApiKeyStore } from "./api-keys.ts";
import { AuditTrail, type NewAuditEntry } from "./audit-trail.ts";
import { ChallengeStore } from "./challenges.ts";
import { InviteStore } from "./invites.ts";
import { LoginThrottle } from "./login-throttle.ts";
import { MembershipStore } from "./memberships.ts";
import { PasskeyStore } from "./passkeys.ts";
import { SessionStore } from "./sessions.ts";
import { SiteStore } from "./sites.ts";
import { UserStore } from "./users.ts";

/** Where a site's access events are mirrored: its SiteHub's activity log. */
export type SiteActivitySink = (
  site: string,
  entry: { level: "info" | "warn"; actor: string | null; message: string; data?: Record<string, unknown>; subject?: string | null },
) => Promise<void>;


/** The Directory's tables and the one way to record what happened, shared by its parts. */
export class DirectoryContext {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly apiKeys: ApiKeyStore;
  readonly passkeys: PasskeyStore;
  readonly challenges: ChallengeStore;
  readonly sites: SiteStore;
  readonly memberships: MembershipStore;
  readonly invites: InviteStore;
  readonly throttle: LoginThrottle;
  readonly audit: AuditTrail;
  /** Grants and ends of access, written where requests check them and in the lists here. */
  readonly access: AccessWrites;

  constructor(
    readonly sql: SqlStorage,
    private readonly siteActivity: SiteActivitySink,
    /** The credential shards and SiteHubs, where access is decided; see AccessWrites for how they are kept. */
    readonly links: AccessLinks,
    /** Runs the background move of credentials again soon (after a copy to a shard failed). */
    retryMove: () => Promise<void>,
  ) {
    this.users = new UserStore(sql);
    this.sessions = new SessionStore(sql);
    this.apiKeys = new ApiKeyStore(sql);
    this.passkeys = new PasskeyStore(sql);
    this.challenges = new ChallengeStore(sql);
    this.sites = new SiteStore(sql);
    this.memberships = new MembershipStore(sql);
    this.invites = new InviteStore(sql);
    this.throttle = new LoginThrottle(sql);
    this.audit = new AuditTrail(sql);
    this.access = new AccessWrites(this, retryMove);
  }

  /**
   * Appends to the audit trail and mirrors the event (kind "access") to the activity log of the site it concerns:
   * the site it names, or else every site of the person it is about. A superadmin's own sign-ins concern no site in
   * particular and stay in the hub's audit trail.
   */
  async record(entry: NewAuditEntry, now = Date.now()): Promise<void> {
    // A flood of failed sign-ins (and of wrong passwords from a session) is summed up rather than written (or
    // mirrored) one by one: see AuditTrail.
    const failed = entry.kind === "sign_in_failed" || entry.failedPassword === true;
    if (failed && !this.audit.admitFailedSignIn(entry.ip, entry.subject ?? null, now)) return;
    this.audit.append(entry, now);
    if (entry.siteLog === false) return;
    const sites = entry.site ? [entry.site] : entry.subject ? this.memberships.sitesOf(entry.subject) : [];
    const mirrored = {
      level: entry.level ?? (entry.kind === "sign_in_failed" ? ("warn" as const) : ("info" as const)),
      actor: entry.actor,
      message: entry.message,
      ...(entry.data ? { data: entry.data } : {}),
      subject: entry.subject ?? null,
    };
    await Promise.all(
      sites.map(async (site) => {
        try {
          await this.siteActivity(site, mirrored);
        } catch (err) {
          // The audit trail has the event; a site's log missing one line must not undo the change it describes.
          console.error("could not mirror an access event to the site log", site, err instanceof Error ? err.message : String(err));
        }
      }),
    );
  }

  me(user: UserView): MeResponse {
    return { user, memberships: this.sites.memberships(user.id, user.superadmin) };
  }
}
