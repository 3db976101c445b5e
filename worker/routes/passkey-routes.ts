import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { isoBase64URL, isoUint8Array } from "@simplewebauthn/server/helpers";
import * as z from "zod";
import { PasskeyLoginOptionsRequest, PasskeyLoginVerifyRequest, PasskeyRegisterOptionsRequest, PasskeyRegisterVerifyRequest } from "../../protocol/accounts.ts";
import { verifyPassword } from "../auth/passwords.ts";
import { setSessionCookie } from "../auth/session-cookie.ts";
import { hashToken, newSessionToken } from "../auth/tokens.ts";
import { claimedChallenge, relyingParty } from "../auth/webauthn.ts";
import { apiError, failure, respond } from "../http/api-error.ts";
import { parseBody, parseParam } from "../http/validate.ts";
import { clientIp, directory, signedInUser, userAgent, who } from "./account-context.ts";
import type { AccountRoute } from "./site-context.ts";

const PasskeyId = z.string().regex(/^p-[0-9a-f-]{36}$/, "not a passkey id");
const RP_NAME = "Cortex";
const CHALLENGE_BYTES = 32;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const passkeyRoutes: AccountRoute[] = [
  {
    method: "get",
    path: "/api/auth/passkeys",
    permission: "account.manage",
    handler: async (c) => c.json({ passkeys: await directory(c).listPasskeys(signedInUser(c).user.id) }),
  },
  {
    method: "delete",
    path: "/api/auth/passkeys/:id",
    permission: "account.manage",
    handler: async (c) => {
      const id = parseParam(c, PasskeyId, "id");
      if (!id.ok) return id.response;
      return respond(c, await directory(c).removePasskey(signedInUser(c).user.id, id.value, who(c)));
    },
  },
  {
    method: "post",
    path: "/api/auth/passkeys/register/options",
    permission: "account.manage",
    handler: async (c) => {
      const body = await parseBody(c, PasskeyRegisterOptionsRequest);
      if (!body.ok) return body.response;
      const dir = directory(c);
      // The password is checked before any challenge exists, so only a challenge won with it can register a passkey.
      const check = await dir.beginPasskeyRegistration(signedInUser(c).user.id, clientIp(c));
      if (!check.ok) return failure(c, check.error);
      const passwordOk = await verifyPassword(body.value.password, check.value.passwordHash);
      const challenge = crypto.getRandomValues(new Uint8Array(CHALLENGE_BYTES));
      const started = await dir.startPasskeyRegistration({ check: check.value, passwordOk, ip: clientIp(c), challenge: isoBase64URL.fromBuffer(challenge) });
      if (!started.ok) return failure(c, started.error);
      const { user, existing } = started.value;
      const options = await generateRegistrationOptions({
        rpName: RP_NAME,
        rpID: relyingParty(c.req.url).rpID,
        userName: user.email,
        userDisplayName: user.name,
        userID: isoUint8Array.fromUTF8String(user.id),
        challenge,
        attestationType: "none",
        excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
        // Discoverable credentials let sign-in start without an email, so it never tells who has an account.
        authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
      });
      return c.json(options);
    },
  },
  {
    method: "post",
    path: "/api/auth/passkeys/register/verify",
    permission: "account.manage",
    handler: async (c) => {
      const body = await parseBody(c, PasskeyRegisterVerifyRequest);
      if (!body.ok) return body.response;
      const response = body.value.response as RegistrationResponseJSON;
      const challenge = claimedChallenge(response.response.clientDataJSON);
      if (!challenge) return apiError(c, 400, "passkey_invalid", "the passkey's client data cannot be read");
      const { rpID, origin } = relyingParty(c.req.url);
      let verified;
      try {
        verified = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: false });
      } catch (err) {
        return apiError(c, 400, "passkey_invalid", `the passkey could not be verified: ${errorText(err)}`);
      }
      if (!verified.verified) return apiError(c, 400, "passkey_invalid", "the passkey could not be verified");
      const { credential } = verified.registrationInfo;
      return respond(
        c,
        await directory(c).finishPasskeyRegistration(
          {
            userId: signedInUser(c).user.id,
            challenge,
            name: body.value.name,
            credentialId: credential.id,
            publicKey: isoBase64URL.fromBuffer(credential.publicKey),
            counter: credential.counter,
            transports: response.response.transports ?? [],
          },
          who(c),
        ),
        201,
      );
    },
  },
  {
    method: "post",
    path: "/api/auth/passkeys/login/options",
    permission: "public",
    handler: async (c) => {
      const body = await parseBody(c, PasskeyLoginOptionsRequest);
      if (!body.ok) return body.response;
      const options = await generateAuthenticationOptions({ rpID: relyingParty(c.req.url).rpID, userVerification: "preferred", allowCredentials: [] });
      const issued = await directory(c).issuePasskeyLoginChallenge(options.challenge);
      if (!issued.ok) return failure(c, issued.error);
      return c.json(options);
    },
  },
  {
    method: "post",
    path: "/api/auth/passkeys/login/verify",
    permission: "public",
    handler: async (c) => {
      const body = await parseBody(c, PasskeyLoginVerifyRequest);
      if (!body.ok) return body.response;
      const response = body.value.response as AuthenticationResponseJSON;
      const challenge = claimedChallenge(response.response.clientDataJSON);
      if (!challenge) return apiError(c, 400, "passkey_invalid", "the passkey's client data cannot be read");
      const dir = directory(c);
      const begun = await dir.beginPasskeyLogin(response.id, clientIp(c));
      if (!begun.ok) return failure(c, begun.error);
      const passkey = begun.value;
      const { rpID, origin } = relyingParty(c.req.url);
      let verified = false;
      let newCounter = passkey.counter;
      try {
        const result = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: { id: passkey.credentialId, publicKey: isoBase64URL.toBuffer(passkey.publicKey), counter: passkey.counter, transports: passkey.transports },
          requireUserVerification: false,
        });
        verified = result.verified;
        newCounter = result.authenticationInfo.newCounter;
      } catch {
        // A bad signature, origin or counter: recorded as a failed sign-in below.
      }
      const token = newSessionToken();
      const session = { tokenHash: await hashToken(token), ip: clientIp(c), userAgent: userAgent(c) };
      const done = await dir.finishPasskeyLogin({ passkeyId: passkey.id, challenge, verified, newCounter, session });
      if (!done.ok) return failure(c, done.error);
      setSessionCookie(c, token);
      return c.json(done.value);
    },
  },
];
