import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { SESSION_MAX_MS } from "../../durable-objects/directory/sessions.ts";

/**
 * The dashboard's session: a random token in an HttpOnly, Secure, SameSite=Strict cookie; the server keeps its
 * SHA-256 with the session's expiry, so signing out (here or everywhere) ends it at once.
 */
export const SESSION_COOKIE = "__Host-cortex_session";

export function readSessionToken(c: Context): string | null {
  const value = getCookie(c, SESSION_COOKIE);
  return value === undefined ? null : value;
}

export function setSessionCookie(c: Context, token: string): void {
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    secure: true,
    sameSite: "Strict",
    maxAge: Math.floor(SESSION_MAX_MS / 1000),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/", httpOnly: true, secure: true, sameSite: "Strict" });
}
