import {
  browserSupportsWebAuthn,
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/browser";
import type { MeResponse, PasskeyView } from "../../protocol/accounts.ts";
import { request } from "./api.ts";
import { AUTH } from "./paths.ts";

/** Passkeys through the hub's WebAuthn ceremony: ask for options, let the browser sign, send the answer back. */

export const passkeysSupported = browserSupportsWebAuthn();

/** Options may come bare or wrapped as `{ options }`. */
function optionsOf<T>(body: T | { options: T }): T {
  return body && typeof body === "object" && "options" in body ? body.options : body;
}

export async function signInWithPasskey(email?: string): Promise<MeResponse> {
  const options = optionsOf(
    await request<PublicKeyCredentialRequestOptionsJSON | { options: PublicKeyCredentialRequestOptionsJSON }>(AUTH.passkeyLoginOptions, {
      body: email ? { email } : {},
    }),
  );
  const response = await startAuthentication({ optionsJSON: options });
  return request<MeResponse>(AUTH.passkeyLoginVerify, { body: { response } });
}

/** The hub asks for the account's password before it hands out a registration challenge. */
export async function addPasskey(name: string, password: string): Promise<PasskeyView> {
  const options = optionsOf(
    await request<PublicKeyCredentialCreationOptionsJSON | { options: PublicKeyCredentialCreationOptionsJSON }>(AUTH.passkeyRegisterOptions, {
      body: { password },
    }),
  );
  const response = await startRegistration({ optionsJSON: options });
  return request<PasskeyView>(AUTH.passkeyRegisterVerify, { body: { name, response } });
}
