import type { InviteView, MemberListResponse, MemberView, SiteRole, SiteView } from "../../protocol/accounts.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { Actor } from "./actor.ts";
import type { NewInvite } from "./invites.ts";
import type { SiteRecord } from "./sites.ts";

/** Open invites a site may have at once, so a runaway script cannot fill the table. */
const MAX_OPEN_INVITES = 200;

/** Sites, their members and their invites. The Worker has authorised the caller; this checks the state. */
export class SiteAdmin {
  constructor(private readonly ctx: DirectoryContext) {}

  listSites(viewer: { userId: string | null; superadmin: boolean }): SiteView[] {
    return viewer.superadmin || !viewer.userId ? this.ctx.sites.all() : this.ctx.sites.ofUser(viewer.userId);
  }

  async createSite(id: string, name: string, who: Actor, now = Date.now()): Promise<HubResult<SiteView>> {
    if (this.ctx.sites.exists(id)) return fail(409, "site_exists", `site ${id} already exists`);
    await this.ctx.access.createSite(id, name, now);
    const site = this.ctx.sites.get(id)!;
    // A new site's activity log starts with its first node, not with a line about the site itself.
    await this.ctx.record({ kind: "site", ...who, site: id, siteLog: false, message: `site ${id} ("${name}") created by ${who.actor}` }, now);
    return ok({ ...site, role: "superadmin" });
  }

  async renameSite(id: string, name: string, who: Actor): Promise<HubResult<SiteRecord>> {
    const site = this.ctx.sites.get(id);
    if (!site) return fail(404, "site_not_found", `site ${id} not found`);
    this.ctx.sites.rename(id, name);
    await this.ctx.record({ kind: "site", ...who, site: id, message: `site ${id} renamed from "${site.name}" to "${name}" by ${who.actor}` });
    return ok({ ...site, name });
  }

  listMembers(site: string): MemberListResponse {
    const superadmins = this.ctx.users.superadmins().map((u) => ({ userId: u.id, email: u.email, name: u.name }));
    return { members: this.ctx.memberships.list(site), superadmins };
  }

  async changeRole(site: string, userId: string, role: SiteRole, who: Actor): Promise<HubResult<MemberView>> {
    const member = this.ctx.memberships.get(site, userId);
    if (!member) return fail(404, "member_not_found", `user ${userId} is not a member of site ${site}`);
    if (member.role === role) return ok(member);
    await this.ctx.access.setMembership(site, userId, role, member.addedAt);
    await this.ctx.record({
      kind: "member",
      ...who,
      site,
      subject: userId,
      message: `${member.email} is now ${role} of site ${site} (was ${member.role}), changed by ${who.actor}`,
      data: { userId, from: member.role, to: role },
    });
    if (role === "member") await this.revokeInvitesOf(site, member, who);
    return ok({ ...member, role });
  }

  async removeMember(site: string, userId: string, who: Actor): Promise<HubResult<MemberView>> {
    const member = this.ctx.memberships.get(site, userId);
    if (!member) return fail(404, "member_not_found", `user ${userId} is not a member of site ${site}`);
    await this.ctx.access.removeMembership(site, userId);
    await this.ctx.record({ kind: "member", ...who, site, subject: userId, message: `${member.email} removed from site ${site} by ${who.actor}`, data: { userId } });
    await this.revokeInvitesOf(site, member, who);
    return ok(member);
  }

  /**
   * An invite acts with its creator's right to invite: when they lose it (removed, or no longer an admin), their
   * open invites go too, or a removed admin could let themselves back in with a link made beforehand.
   */
  private async revokeInvitesOf(site: string, member: MemberView, who: Actor): Promise<void> {
    const revoked = this.ctx.invites.removeOpenBy(site, member.userId);
    if (revoked === 0) return;
    await this.ctx.record({ kind: "invite", ...who, site, message: `${revoked} open invite(s) made by ${member.email} revoked: they may no longer invite to site ${site}`, data: { userId: member.userId, revoked } });
  }

  async createInvite(input: Omit<NewInvite, "createdBy">, who: Actor, now = Date.now()): Promise<HubResult<InviteView>> {
    const open = this.ctx.invites.list(input.site).filter((i) => i.acceptedAt === null && i.expiresAt > now).length;
    if (open >= MAX_OPEN_INVITES) return fail(409, "too_many_invites", `site ${input.site} has ${open} open invites; revoke some first`);
    const invite = this.ctx.invites.create({ ...input, createdBy: who.actor }, now);
    await this.ctx.record({
      kind: "invite",
      ...who,
      site: input.site,
      message: `${who.actor} invited ${input.email ?? "anyone with the link"} to site ${input.site} as ${input.role}`,
      data: { inviteId: invite.id, role: input.role },
    }, now);
    return ok(invite);
  }

  listInvites(site: string): InviteView[] {
    return this.ctx.invites.list(site);
  }

  async revokeInvite(site: string, id: string, who: Actor): Promise<HubResult<InviteView>> {
    const removed = this.ctx.invites.remove(site, id);
    if (!removed) return fail(404, "invite_not_found", `invite ${id} not found on site ${site}`);
    await this.ctx.record({ kind: "invite", ...who, site, message: `${who.actor} revoked the invite for ${removed.email ?? "anyone with the link"}`, data: { inviteId: id } });
    return ok(removed);
  }
}
