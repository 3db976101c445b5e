/**
 * Cross-site request forgery defence for state changes. A browser attaches the session cookie (and the Access
 * cookie) by itself, so a state-changing request authenticated that way must carry an `Origin` equal to the hub's
 * own; any request whose `Origin` names another site is refused, whatever authenticates it (that also stops a
 * forged sign-in). Programs using an API key send no Origin and need none.
 */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export type OriginVerdict = { ok: true } | { ok: false; code: string; message: string };

export function checkOrigin(request: Request, ambientCredential: boolean): OriginVerdict {
  if (SAFE_METHODS.has(request.method)) return { ok: true };
  const origin = request.headers.get("Origin");
  const own = new URL(request.url).origin;
  if (origin !== null && origin !== own) return { ok: false, code: "cross_origin", message: `requests from ${origin} are not accepted` };
  if (origin === null && ambientCredential) {
    return { ok: false, code: "origin_required", message: "a state-changing request signed in by cookie must send an Origin header" };
  }
  return { ok: true };
}
