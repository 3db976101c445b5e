import type { MeResponse, PasskeyView, UserView } from "../../protocol/accounts.ts";
import { fail, ok, throttled, type HubResult } from "../shared/hub-result.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { Actor } from "./actor.ts";
import { passkeyAddressKey } from "./login-throttle.ts";
import type { StoredPasskey } from "./passkeys.ts";
import type { NewSession } from "./sign-in.ts";

/** A user may keep this many passkeys. */
const MAX_PASSKEYS_PER_USER = 20;

function busy<T>(): HubResult<T> {
  return fail(503, "too_many_ceremonies", "too many passkey ceremonies are under way; try again in a few minutes");
}

/**
 * The Directory's half of the WebAuthn ceremonies: it hands out and consumes challenges and keeps the credentials;
 * the Worker builds the options and checks the signatures with @simplewebauthn/server.
 */
export class PasskeyCeremonies {
  constructor(private readonly ctx: DirectoryContext) {}

  /** Records the registration challenge and returns what the options need: the user and the passkeys to exclude. */
  startRegistration(userId: string, challenge: string, now = Date.now()): HubResult<{ user: UserView; existing: StoredPasskey[] }> {
    const user = this.ctx.users.byId(userId);
    if (!user) return fail(404, "user_not_found", "no such user");
    const existing = this.ctx.passkeys.ofUser(userId);
    if (existing.length >= MAX_PASSKEYS_PER_USER) return fail(409, "too_many_passkeys", `at most ${MAX_PASSKEYS_PER_USER} passkeys per account`);
    if (!this.ctx.challenges.issue(challenge, "register", userId, now)) return busy();
    return ok({ user: user.view, existing });
  }

  /** Stores a verified credential, if the challenge it signed is still live and was issued to this user. */
  async finishRegistration(
    input: { userId: string; challenge: string; name: string; credentialId: string; publicKey: string; counter: number; transports: string[] },
    who: Actor,
    now = Date.now(),
  ): Promise<HubResult<PasskeyView>> {
    if (!this.ctx.challenges.consume(input.challenge, "register", input.userId, now)) {
      return fail(400, "challenge_invalid", "the passkey challenge expired or was already used; start again");
    }
    if (this.ctx.passkeys.exists(input.credentialId)) return fail(409, "passkey_exists", "this passkey is already registered");
    const { challenge: _challenge, ...passkey } = input;
    const view = this.ctx.passkeys.add(passkey, now);
    await this.ctx.record({ kind: "passkey", ...who, subject: input.userId, message: `${who.actor} added the passkey "${view.name}"` }, now);
    return ok(view);
  }

  list(userId: string): PasskeyView[] {
    return this.ctx.passkeys.list(userId);
  }

  async remove(userId: string, id: string, who: Actor): Promise<HubResult<PasskeyView>> {
    const removed = this.ctx.passkeys.remove(userId, id);
    if (!removed) return fail(404, "passkey_not_found", `passkey ${id} not found`);
    await this.ctx.record({ kind: "passkey", ...who, subject: userId, message: `${who.actor} removed the passkey "${removed.name}"` });
    return ok(removed);
  }

  issueLoginChallenge(challenge: string, now = Date.now()): HubResult<null> {
    return this.ctx.challenges.issue(challenge, "login", null, now) ? ok(null) : busy();
  }

  /**
   * The stored credential an assertion names; the attempt is reserved with the passkey throttle of the address
   * first. Wrong passwords never count here: a stranger guessing passwords cannot block a user's passkey.
   */
  async beginLogin(credentialId: string, ip: string | null, now = Date.now()): Promise<HubResult<StoredPasskey>> {
    const keys = [passkeyAddressKey(ip)];
    const wait = this.ctx.throttle.retryAfterMs(keys, now);
    if (wait > 0) return throttled(wait, "too many failed sign-ins from this address");
    this.ctx.throttle.reserve(keys, now);
    const passkey = this.ctx.passkeys.byCredentialId(credentialId);
    if (!passkey) {
      await this.ctx.record({ kind: "sign_in_failed", actor: null, ip, message: "failed sign-in with an unknown passkey" }, now);
      return fail(401, "unknown_passkey", "this passkey is not registered on this hub");
    }
    return ok(passkey);
  }

  async finishLogin(
    input: { passkeyId: string; challenge: string; verified: boolean; newCounter: number; session: NewSession },
    now = Date.now(),
  ): Promise<HubResult<MeResponse>> {
    const passkey = this.ctx.passkeys.byId(input.passkeyId);
    const user = passkey ? this.ctx.users.byId(passkey.userId) : null;
    const fresh = this.ctx.challenges.consume(input.challenge, "login", null, now);
    if (!passkey || !user || !fresh || !input.verified) {
      const reason = !fresh ? "the challenge expired or was already used" : "the passkey's signature did not verify";
      await this.ctx.record(
        { kind: "sign_in_failed", actor: user?.view.email ?? null, ip: input.session.ip, subject: user?.view.id ?? null, message: `failed passkey sign-in: ${reason}` },
        now,
      );
      return fail(401, "passkey_rejected", `passkey sign-in failed: ${reason}`);
    }
    this.ctx.passkeys.used(passkey.id, input.newCounter, now);
    this.ctx.throttle.succeeded([passkeyAddressKey(input.session.ip)]);
    await this.ctx.access.openSession(user.view, input.session, now);
    await this.ctx.record({ kind: "sign_in", actor: user.view.email, ip: input.session.ip, subject: user.view.id, message: `${user.view.email} signed in with a passkey` }, now);
    return ok(this.ctx.me(user.view));
  }
}
