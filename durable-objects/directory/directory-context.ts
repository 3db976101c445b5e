import type { MeResponse, UserView } from "../../protocol/accounts.ts";
import { LiveCloseCode } from "../../protocol/live-messages.ts";
import type { SocketHolder, SocketMatch } from "../shared/user-sockets.ts";
import { ApiKeyStore } from "./api-keys.ts";
import { AuditTrail, type NewAuditEntry } from "./audit-trail.ts";
import { ChallengeStore } from "./challenges.ts";
import { InviteStore } from "./invites.ts";
import { LivePresence } from "./live-presence.ts";
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


/** Closes the matching sockets a holder has; resolves to how many it closed. */
export type SocketCloser = (holder: SocketHolder, match: SocketMatch, code: number, reason: string) => Promise<number>;

/** Why a person's sockets are closed: their credential ended, or their access to a site changed. */
export type SocketEnd = "signed_out" | "access_changed";

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
  readonly presence: LivePresence;

  constructor(
    sql: SqlStorage,
    private readonly siteActivity: SiteActivitySink,
    private readonly socketCloser: SocketCloser,
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
    this.presence = new LivePresence(sql);
  }

  /**
   * Closes a person's open sockets that `match` names, everywhere they have some (or on one site), at once: the
   * next thing such a socket would have carried must not reach someone who has signed out or lost the right to it.
   */
  async closeSockets(userId: string, match: SocketMatch, end: SocketEnd, site: string | null = null): Promise<void> {
    const code = end === "signed_out" ? LiveCloseCode.SIGNED_OUT : LiveCloseCode.ACCESS_CHANGED;
    const reason = end === "signed_out" ? "signed out" : "access changed";
    await Promise.all(
      this.presence.holdersOf(userId, site).map(async (holder) => {
        try {
          const closed = await this.socketCloser(holder, match, code, reason);
          if (closed === 0 && "userId" in match) this.presence.forget(userId, holder);
        } catch (err) {
          console.error("could not close live sockets", holder.kind, holder.name, err instanceof Error ? err.message : String(err));
        }
      }),
    );
  }

  /**
   * Appends to the audit trail and mirrors the event (kind "access") to the activity log of the site it concerns:
   * the site it names, or else every site of the person it is about. A superadmin's own sign-ins concern no site in
   * particular and stay in the hub's audit trail.
   */
  async record(entry: NewAuditEntry, now = Date.now()): Promise<void> {
    this.audit.append(entry, now);
    if (entry.siteLog === false) return;
    const sites = entry.site ? [entry.site] : entry.subject ? Object.keys(this.memberships.rolesOf(entry.subject)) : [];
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
