import type { InviteView, MeResponse, SiteRole, UserView } from "../../protocol/accounts.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { NewSession } from "./sign-in.ts";

const RANK: Record<SiteRole, number> = { member: 1, admin: 2 };

const alreadyUsed = () => fail(410, "invite_used", "this invite link was already used");

export type Acceptance =
  | { as: "user"; userId: string; ip: string | null }
  | { as: "new"; email: string | null; name: string; passwordHash: string; session: NewSession };

/** Joining a site through a one-time invite link. */
export class InviteAcceptance {
  constructor(private readonly ctx: DirectoryContext) {}

  /** An invite that can still be accepted; checked before the Worker spends time hashing a new password. */
  usable(tokenHash: string, now = Date.now()): HubResult<InviteView> {
    const invite = this.ctx.invites.byTokenHash(tokenHash);
    if (!invite) return fail(404, "invite_not_found", "this invite link is not valid: it was revoked or mistyped");
    if (invite.acceptedAt !== null) return alreadyUsed();
    if (invite.expiresAt <= now) return fail(410, "invite_expired", "this invite link has expired; ask for a new one");
    return ok(invite);
  }

  async accept(tokenHash: string, who: Acceptance, now = Date.now()): Promise<HubResult<MeResponse>> {
    const found = this.usable(tokenHash, now);
    if (!found.ok) return found;
    const invite = found.value;
    let joiner: () => Promise<UserView>;
    if (who.as === "user") {
      const user = this.ctx.users.byId(who.userId)?.view;
      if (!user) return fail(404, "user_not_found", "no such user");
      if (invite.email && invite.email !== user.email) {
        return fail(403, "invite_for_someone_else", `this invite is for ${invite.email}; you are signed in as ${user.email}`);
      }
      joiner = async () => user;
    } else {
      const email = invite.email ?? who.email;
      if (!email) return fail(400, "email_required", "this invite is not addressed to anyone: give your email");
      if (this.ctx.users.byEmail(email)) {
        return fail(409, "account_exists", `an account for ${email} exists already: sign in, then open the invite link again`);
      }
      joiner = async () => {
        const user = await this.ctx.access.createUser({ email, name: who.name, passwordHash: who.passwordHash, superadmin: false }, now);
        await this.ctx.access.openSession(user, who.session, now);
        return user;
      };
    }
    /*
     * The invite is taken here, in the same turn as the checks above: every await below calls another object, and
     * while it is pending the Directory takes other requests, so a later mark would let parallel acceptances of one
     * link all through. This claim is the moment of acceptance. A revoke or a removal of the invite's creator that
     * lands while the rest runs comes after it, as it would a moment after a finished acceptance: the revoke reports
     * the invite accepted, the creator's removal leaves it (only unclaimed invites go), and the person joins; an
     * admin removes them like anyone who joined. Re-checking before the membership write would not close that gap,
     * since the write itself waits on the SiteHub.
     * If the object restarts before the acceptance finishes, the invite stays used: nothing here tells whether the
     * SiteHub already let the person in, so giving the link back could let two people in on it. The inviter makes
     * a new one.
     */
    if (!this.ctx.invites.claim(invite.id, who.as === "user" ? who.userId : null, now)) return alreadyUsed();
    let user: UserView;
    let granting = false;
    try {
      user = await joiner();
      const current = this.ctx.memberships.get(invite.site, user.id);
      // Accepting a member invite never demotes an admin.
      if (!current || RANK[invite.role] > RANK[current.role]) {
        // Once the SiteHub is asked, it may have let them in even if the call fails: the claim is kept.
        granting = true;
        await this.ctx.access.setMembership(invite.site, user.id, invite.role, current?.addedAt ?? now);
      }
    } catch (err) {
      if (!granting) this.ctx.invites.release(invite.id, (creator) => this.mayInvite(invite.site, creator));
      throw err;
    }
    if (who.as === "new") this.ctx.invites.settle(invite.id, user.id);
    await this.ctx.record(
      {
        kind: "invite",
        actor: user.email,
        ip: who.as === "user" ? who.ip : who.session.ip,
        site: invite.site,
        subject: user.id,
        message: `${user.email} accepted an invite to site ${invite.site} as ${invite.role}${who.as === "new" ? " (new account)" : ""}`,
        data: { inviteId: invite.id, userId: user.id },
      },
      now,
    );
    return ok(this.ctx.me(user));
  }

  /** Whether a person may still invite to a site: its admins and the superadmins. */
  private mayInvite(site: string, userId: string): boolean {
    return this.ctx.users.byId(userId)?.view.superadmin === true || this.ctx.memberships.get(site, userId)?.role === "admin";
  }
}
