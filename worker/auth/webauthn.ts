import { decodeClientDataJSON } from "@simplewebauthn/server/helpers";

/** The relying party is the hub itself, as the browser reached it: its host name and origin. */
export function relyingParty(requestUrl: string): { rpID: string; origin: string } {
  const url = new URL(requestUrl);
  return { rpID: url.hostname, origin: url.origin };
}

/** The challenge a ceremony's answer claims to sign, to find the stored one; null when clientDataJSON is garbage. */
export function claimedChallenge(clientDataJSON: string): string | null {
  try {
    const challenge = decodeClientDataJSON(clientDataJSON).challenge;
    return typeof challenge === "string" && challenge.length > 0 && challenge.length <= 512 ? challenge : null;
  } catch {
    return null;
  }
}
