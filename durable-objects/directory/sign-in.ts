import type { MeResponse, SignedOut } from "../../protocol/accounts.ts";
import { fail, ok, throttled, type HubResult } from "../shared/hub-result.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { Actor } from "./actor.ts";
import { addressKey, type ThrottleKey } from "./login-throttle.ts";

/** A new session: the SHA-256 of the cookie's token, made by the Worker, and where it was opened from. */
export interface NewSession {
  tokenHash: string;
  ip: string | null;
  userAgent: string | null;
}

/** What the Worker needs to check a password itself (hashing is slow; the Directory must not wait on it). */
export interface PasswordCheck {
  userId: string | null;
  email: string;
  passwordHash: string | null;
}

/** A checked password change: the Worker's verdict on the current password, and what else to end with it. */
export interface PasswordChange {
  check: PasswordCheck;
  passwordOk: boolean;
  newPasswordHash: string;
  /** The session that asked, which stays signed in (null for single sign-on). */
  keepSessionId: string | null;
  revokeApiKeys: boolean;
  ip: string | null;
}

/**
 * First setup, password sign-in and password change. Each password attempt is reserved with the throttle before
 * the Worker checks it (`begin...`) and settled afterwards (`finish...`), so parallel guesses are counted too.
 */
export class SignIn {
  constructor(private readonly ctx: DirectoryContext) {}

  private needsSetup(): boolean {
    return this.ctx.users.count() === 0;
  }

  beginSetup(ip: string | null, now = Date.now()): HubResult<null> {
    if (!this.needsSetup()) return fail(409, "already_set_up", "this hub is already set up; sign in instead");
    const keys = [addressKey(ip)];
    const wait = this.ctx.throttle.retryAfterMs(keys, now);
    if (wait > 0) return throttled(wait, "too many wrong setup codes from this address");
    this.ctx.throttle.reserve(keys, now);
    return ok(null);
  }

  async setupRefused(ip: string | null): Promise<void> {
    await this.ctx.record({ kind: "setup", actor: null, ip, message: "setup refused: wrong setup code" });
  }

  async completeSetup(input: { email: string; name: string; passwordHash: string; session: NewSession }, now = Date.now()): Promise<HubResult<MeResponse>> {
    if (!this.needsSetup()) return fail(409, "already_set_up", "this hub is already set up; sign in instead");
    const user = await this.ctx.access.createUser({ email: input.email, name: input.name, passwordHash: input.passwordHash, superadmin: true }, now);
    await this.ctx.access.openSession(user, input.session, now);
    this.ctx.throttle.succeeded([addressKey(input.session.ip)]);
    await this.ctx.record({ kind: "setup", actor: user.email, ip: input.session.ip, message: `${user.email} set the hub up and became its first superadmin` }, now);
    return ok(this.ctx.me(user));
  }

  beginPasswordLogin(email: string, ip: string | null, now = Date.now()): HubResult<PasswordCheck> {
    const user = this.ctx.users.byEmail(email);
    return this.reserve(this.ctx.throttle.passwordKeys(email, ip, now), now, "too many failed sign-ins", {
      userId: user?.view.id ?? null,
      email,
      passwordHash: user?.passwordHash ?? null,
    });
  }

  async finishPasswordLogin(input: { check: PasswordCheck; passwordOk: boolean; session: NewSession }, now = Date.now()): Promise<HubResult<MeResponse>> {
    const { check, session } = input;
    const user = check.userId ? this.ctx.users.byId(check.userId) : null;
    if (!user || !input.passwordOk) {
      await this.ctx.record(
        { kind: "sign_in_failed", actor: check.email, ip: session.ip, subject: user?.view.id ?? null, message: `failed sign-in as ${check.email}: wrong email or password` },
        now,
      );
      return fail(401, "wrong_credentials", "wrong email or password");
    }
    this.ctx.throttle.succeeded(this.ctx.throttle.passwordKeys(check.email, session.ip, now));
    await this.ctx.access.openSession(user.view, session, now);
    await this.ctx.record({ kind: "sign_in", actor: user.view.email, ip: session.ip, subject: user.view.id, message: `${user.view.email} signed in with a password` }, now);
    return ok(this.ctx.me(user.view));
  }

  /**
   * A signed-in user proving they know the password (to change it, or to add a passkey): reserved with the same
   * throttle as a sign-in, so a stolen session cannot guess it faster than a stranger.
   */
  beginPasswordCheck(userId: string, ip: string | null, now = Date.now()): HubResult<PasswordCheck> {
    const user = this.ctx.users.byId(userId);
    if (!user) return fail(404, "user_not_found", "no such user");
    return this.reserve(this.ctx.throttle.passwordKeys(user.view.email, ip, now), now, "too many wrong passwords", {
      userId,
      email: user.view.email,
      passwordHash: user.passwordHash,
    });
  }

  /** Settles a `beginPasswordCheck`: a wrong password is recorded and refused, the right one is taken back from the throttle. */
  async settlePasswordCheck(check: PasswordCheck, passwordOk: boolean, ip: string | null, purpose: string, now = Date.now()): Promise<HubResult<string>> {
    if (!check.userId || !passwordOk) {
      await this.ctx.record(
        { kind: "password", failedPassword: true, level: "warn", actor: check.email, ip, subject: check.userId, message: `${check.email} gave a wrong current password ${purpose}` },
        now,
      );
      return fail(403, "wrong_password", "the current password is wrong");
    }
    this.ctx.throttle.succeeded(this.ctx.throttle.passwordKeys(check.email, ip, now));
    return ok(check.userId);
  }

  /**
   * A new password ends every other session of the user (whoever else knew the old one is signed out, and their
   * live sockets close), and, when asked, every other way in: the API keys and the passkeys. Ended where requests
   * check them first.
   */
  async finishPasswordChange(input: PasswordChange, now = Date.now()): Promise<HubResult<SignedOut>> {
    const proved = await this.settlePasswordCheck(input.check, input.passwordOk, input.ip, "to change it", now);
    if (!proved.ok) return proved;
    const userId = proved.value;
    const { email } = input.check;
    this.ctx.users.setPassword(userId, input.newPasswordHash);
    const sessions = this.ctx.sessions.allOf(userId, input.keepSessionId);
    await this.ctx.access.endSessions(sessions);
    const ended = input.revokeApiKeys ? await this.endOtherWaysIn(userId, now) : null;
    await this.ctx.record(
      {
        kind: "password",
        actor: email,
        ip: input.ip,
        subject: userId,
        message: `${email} changed their password (${sessions.length} other sessions signed out${ended ? `, ${ended.text}` : ""})`,
      },
      now,
    );
    return ok({ signedOutSessions: sessions.length, revokedApiKeys: ended?.revokedApiKeys ?? 0 });
  }

  async signOut(sessionId: string, who: Actor): Promise<void> {
    const session = this.ctx.sessions.get(sessionId);
    if (!session) return;
    await this.ctx.access.endSessions([session]);
    await this.ctx.record({ kind: "sign_out", ...who, message: `${who.actor} signed out` });
  }

  async signOutEverywhere(userId: string, revokeApiKeys: boolean, who: Actor, now = Date.now()): Promise<SignedOut> {
    const sessions = this.ctx.sessions.allOf(userId);
    await this.ctx.access.endSessions(sessions);
    const ended = revokeApiKeys ? await this.endOtherWaysIn(userId, now) : null;
    await this.ctx.record(
      {
        kind: "sign_out",
        ...who,
        message: `${who.actor} signed out everywhere (${sessions.length} sessions${ended ? `, ${ended.text}` : ""})`,
      },
      now,
    );
    return { signedOutSessions: sessions.length, revokedApiKeys: ended?.revokedApiKeys ?? 0 };
  }

  /**
   * What someone who held the account for a while may have left behind besides sessions: API keys, and passkeys
   * (adding one needs the password, but a thief may have had it). The owner cannot tell their own passkeys from
   * one a thief named "laptop", so all of them go; the owner adds theirs again. So do the live registration
   * challenges: a ceremony the thief started, even one whose answer is on its way, must not add a passkey after.
   */
  private async endOtherWaysIn(userId: string, now: number): Promise<{ revokedApiKeys: number; text: string }> {
    this.ctx.challenges.removeRegistrationsOf(userId);
    const keys = this.ctx.apiKeys.unrevokedOf(userId);
    await this.ctx.access.revokeApiKeys(keys, now);
    const passkeys = this.ctx.passkeys.removeAllOf(userId);
    const names = passkeys.map((p) => `"${p.name}"`).join(", ");
    return { revokedApiKeys: keys.length, text: `${keys.length} API keys revoked, ${passkeys.length} passkeys removed${names ? ` (${names})` : ""}` };
  }

  private reserve<T>(keys: ThrottleKey[], now: number, what: string, value: T): HubResult<T> {
    const wait = this.ctx.throttle.retryAfterMs(keys, now);
    if (wait > 0) return throttled(wait, what);
    this.ctx.throttle.reserve(keys, now);
    return ok(value);
  }
}
