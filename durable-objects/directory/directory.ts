import { DurableObject } from "cloudflare:workers";
import type {
  ApiKeyView,
  AuditPage,
  AuditQuery,
  InviteView,
  MemberListResponse,
  MeResponse,
  MemberView,
  PasskeyView,
  SignedOut,
  SiteRole,
  SiteView,
} from "../../protocol/accounts.ts";
import type { Env } from "../../worker/env.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { CredentialRecord } from "../credentials/credential.ts";
import type { LegacySite } from "../site-hub/site-access.ts";
import type { LegacyLlmKeyClaim } from "../credentials/personal-llm-keys.ts";
import { LlmKeyRows } from "../shared/llm-key-rows.ts";
import { accessLinks } from "./access-links.ts";
import { AccountKeys } from "./account-keys.ts";
import type { NewApiKey } from "./api-keys.ts";
import { DirectoryContext } from "./directory-context.ts";
import type { Actor } from "./actor.ts";
import { InviteAcceptance, type Acceptance } from "./invite-acceptance.ts";
import type { NewInvite } from "./invites.ts";
import { LegacyCredentials } from "./legacy-credentials.ts";
import { PasskeyCeremonies } from "./passkey-ceremonies.ts";
import type { StoredPasskey } from "./passkeys.ts";
import { migrate } from "./schema.ts";
import { SignIn, type NewSession, type PasswordChange, type PasswordCheck } from "./sign-in.ts";
import { SiteAdmin } from "./site-admin.ts";
import type { SiteRecord } from "./sites.ts";

/** The one Directory of a hub is reached under this name. */
export const DIRECTORY_NAME = "directory";

/** How soon the background move runs again after a copy to a shard failed. */
const RETRY_MOVE_MS = 5_000;

/**
 * The hub's people and their accounts: users, password hashes, passkeys, sign-in throttling, invites, the audit
 * trail, and the lists of sessions, API keys, sites and memberships people see and manage. It is not on the way of
 * an ordinary request: a request is authenticated against a credential shard and authorised against its site's
 * SiteHub, which the Directory writes to whenever it grants or takes away access (AccessWrites). What it does
 * handle is signing in, account pages and site administration. The methods here check state, never permissions
 * (the Worker authorises). Secrets arrive already hashed: no token, key or password ever reaches this object.
 */
export class Directory extends DurableObject<Env> {
  private readonly data: DirectoryContext;
  private readonly signIn: SignIn;
  private readonly passkeyCeremonies: PasskeyCeremonies;
  private readonly siteAdmin: SiteAdmin;
  private readonly invites: InviteAcceptance;
  private readonly keys: AccountKeys;
  private readonly legacy: LegacyCredentials;
  private readonly llmKeys: LlmKeyRows;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.transactionSync(() => migrate(ctx.storage.sql));
    this.data = new DirectoryContext(
      ctx.storage.sql,
      (site, entry) => env.SITE_HUB.get(env.SITE_HUB.idFromName(site)).recordAccess(entry),
      accessLinks(env),
      () => ctx.storage.setAlarm(Date.now() + RETRY_MOVE_MS),
    );
    this.legacy = new LegacyCredentials(this.data);
    // What requests check moves out of here in the background; the alarm runs until nothing is left.
    if (!this.legacy.done()) void ctx.blockConcurrencyWhile(() => ctx.storage.setAlarm(Date.now()));
    this.signIn = new SignIn(this.data);
    this.passkeyCeremonies = new PasskeyCeremonies(this.data);
    this.siteAdmin = new SiteAdmin(this.data);
    this.invites = new InviteAcceptance(this.data);
    this.keys = new AccountKeys(this.data);
    this.llmKeys = new LlmKeyRows(ctx.storage.sql, "llm_keys");
  }

  override async alarm(): Promise<void> {
    if (!(await this.legacy.moveAll())) await this.ctx.storage.setAlarm(Date.now() + RETRY_MOVE_MS);
  }

  // ---- moving what requests check out of here (see LegacyCredentials) ----

  /** A shard asks about a hash it does not know: the credential, if it is one still to be moved, and whether all is. */
  async claimLegacyCredential(hash: string): Promise<{ done: boolean; record: CredentialRecord | null }> {
    const record = await this.legacy.claim(hash);
    return { done: this.legacy.done(), record };
  }

  /** A site from before the move asks for its existence and members. */
  legacySite(site: string): LegacySite {
    return this.legacy.site(site);
  }

  me(userId: string): HubResult<MeResponse> {
    const user = this.data.users.byId(userId);
    return user ? ok(this.data.me(user.view)) : fail(404, "user_not_found", "no such user");
  }

  // ---- setup, passwords, sessions ----

  beginSetup(ip: string | null): HubResult<null> {
    return this.signIn.beginSetup(ip);
  }

  setupRefused(ip: string | null): Promise<void> {
    return this.signIn.setupRefused(ip);
  }

  completeSetup(input: { email: string; name: string; passwordHash: string; session: NewSession }): Promise<HubResult<MeResponse>> {
    return this.signIn.completeSetup(input);
  }

  beginPasswordLogin(email: string, ip: string | null): HubResult<PasswordCheck> {
    return this.signIn.beginPasswordLogin(email, ip);
  }

  finishPasswordLogin(input: { check: PasswordCheck; passwordOk: boolean; session: NewSession }): Promise<HubResult<MeResponse>> {
    return this.signIn.finishPasswordLogin(input);
  }

  beginPasswordChange(userId: string, ip: string | null): HubResult<PasswordCheck> {
    return this.signIn.beginPasswordCheck(userId, ip);
  }

  finishPasswordChange(input: PasswordChange): Promise<HubResult<SignedOut>> {
    return this.signIn.finishPasswordChange(input);
  }

  signOut(sessionId: string, who: Actor): Promise<void> {
    return this.signIn.signOut(sessionId, who);
  }

  signOutEverywhere(userId: string, revokeApiKeys: boolean, who: Actor): Promise<SignedOut> {
    return this.signIn.signOutEverywhere(userId, revokeApiKeys, who);
  }

  // ---- passkeys ----

  /** Adding a passkey needs the password, checked by the Worker between these two calls like a password change. */
  beginPasskeyRegistration(userId: string, ip: string | null): HubResult<PasswordCheck> {
    return this.signIn.beginPasswordCheck(userId, ip);
  }

  async startPasskeyRegistration(input: {
    check: PasswordCheck;
    passwordOk: boolean;
    ip: string | null;
    challenge: string;
  }): Promise<HubResult<{ user: MeResponse["user"]; existing: StoredPasskey[] }>> {
    const proved = await this.signIn.settlePasswordCheck(input.check, input.passwordOk, input.ip, "to add a passkey");
    if (!proved.ok) return proved;
    return this.passkeyCeremonies.startRegistration(proved.value, input.challenge);
  }

  finishPasskeyRegistration(
    input: { userId: string; challenge: string; name: string; credentialId: string; publicKey: string; counter: number; transports: string[] },
    who: Actor,
  ): Promise<HubResult<PasskeyView>> {
    return this.passkeyCeremonies.finishRegistration(input, who);
  }

  listPasskeys(userId: string): PasskeyView[] {
    return this.passkeyCeremonies.list(userId);
  }

  removePasskey(userId: string, id: string, who: Actor): Promise<HubResult<PasskeyView>> {
    return this.passkeyCeremonies.remove(userId, id, who);
  }

  issuePasskeyLoginChallenge(challenge: string): HubResult<null> {
    return this.passkeyCeremonies.issueLoginChallenge(challenge);
  }

  beginPasskeyLogin(credentialId: string, ip: string | null): Promise<HubResult<StoredPasskey>> {
    return this.passkeyCeremonies.beginLogin(credentialId, ip);
  }

  finishPasskeyLogin(input: { passkeyId: string; challenge: string; verified: boolean; newCounter: number; session: NewSession }): Promise<HubResult<MeResponse>> {
    return this.passkeyCeremonies.finishLogin(input);
  }

  // ---- sites, members, invites ----

  listSites(viewer: { userId: string | null; superadmin: boolean }): SiteView[] {
    return this.siteAdmin.listSites(viewer);
  }

  createSite(id: string, name: string, who: Actor): Promise<HubResult<SiteView>> {
    return this.siteAdmin.createSite(id, name, who);
  }

  renameSite(id: string, name: string, who: Actor): Promise<HubResult<SiteRecord>> {
    return this.siteAdmin.renameSite(id, name, who);
  }

  listMembers(site: string): MemberListResponse {
    return this.siteAdmin.listMembers(site);
  }

  changeRole(site: string, userId: string, role: SiteRole, who: Actor): Promise<HubResult<MemberView>> {
    return this.siteAdmin.changeRole(site, userId, role, who);
  }

  removeMember(site: string, userId: string, who: Actor): Promise<HubResult<MemberView>> {
    return this.siteAdmin.removeMember(site, userId, who);
  }

  createInvite(input: Omit<NewInvite, "createdBy">, who: Actor): Promise<HubResult<InviteView>> {
    return this.siteAdmin.createInvite(input, who);
  }

  listInvites(site: string): InviteView[] {
    return this.siteAdmin.listInvites(site);
  }

  revokeInvite(site: string, id: string, who: Actor): Promise<HubResult<InviteView>> {
    return this.siteAdmin.revokeInvite(site, id, who);
  }

  usableInvite(tokenHash: string): HubResult<InviteView> {
    return this.invites.usable(tokenHash);
  }

  acceptInvite(tokenHash: string, who: Acceptance): Promise<HubResult<MeResponse>> {
    return this.invites.accept(tokenHash, who);
  }

  // ---- API keys ----

  createApiKey(input: NewApiKey, who: Actor): Promise<HubResult<ApiKeyView>> {
    return this.keys.create(input, who);
  }

  listApiKeys(userId: string): Promise<ApiKeyView[]> {
    return this.keys.list(userId);
  }

  revokeApiKey(userId: string, id: string, who: Actor): Promise<HubResult<ApiKeyView>> {
    return this.keys.revoke(userId, id, who);
  }

  // ---- personal LLM keys: they live in credential shards (PersonalLlmKeys); the audit trail stays here ----

  /** A user's key shard asks once for the key they saved before keys moved there: it is handed over and removed here. */
  claimLegacyLlmKey(userId: string): LegacyLlmKeyClaim {
    const key = this.llmKeys.get(userId);
    if (key) this.llmKeys.remove(userId);
    return { key, done: this.ctx.storage.sql.exec("SELECT 1 FROM llm_keys LIMIT 1").toArray().length === 0 };
  }

  async auditLlmKey(actor: string, message: string): Promise<void> {
    await this.data.record({ kind: "llm_key", actor, ip: null, message });
  }

  // ---- audit ----

  queryAudit(query: AuditQuery): AuditPage {
    return this.data.audit.query(query);
  }
}
