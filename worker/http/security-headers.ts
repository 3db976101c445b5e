import type { Context, Next } from "hono";

/**
 * Response headers that lock the dashboard down. The static pages get them from a `_headers` file the web build
 * writes from this module (assets are served without running the Worker); API responses get the API set below.
 * The dashboard runs no inline script or style: everything comes from its own origin, including its WebSocket
 * (CSP Level 3 lets 'self' match the same host over ws: and wss:).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const COMMON: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Resource-Policy": "same-origin",
};

export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  ...COMMON,
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "Cross-Origin-Opener-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
  // Browsers ignore it over plain http, so local `wrangler dev` is unaffected.
  "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
};

/** JSON and event streams are never documents: nothing in them may load or frame anything. */
export const API_SECURITY_HEADERS: Record<string, string> = {
  ...COMMON,
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
};

const API_HEADER_ENTRIES = Object.entries(API_SECURITY_HEADERS);

/**
 * Adds the API set to every Worker response but a WebSocket upgrade. Responses the Worker builds through the context
 * (`c.json`, errors) take them from the context's prepared headers, at no cost. A response returned whole (an event
 * stream, one relayed from a Durable Object, whose headers are immutable) is copied with them (the body streams
 * through untouched).
 */
export async function apiSecurityHeaders(c: Context, next: Next): Promise<void> {
  for (const [name, value] of API_HEADER_ENTRIES) c.header(name, value);
  await next();
  if (c.res.status === 101) return;
  if (API_HEADER_ENTRIES.every(([name, value]) => c.res.headers.get(name) === value)) return;
  const res = new Response(c.res.body, c.res);
  for (const [name, value] of API_HEADER_ENTRIES) res.headers.set(name, value);
  c.res = res;
}
