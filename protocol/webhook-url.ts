import * as z from "zod";
import { isLoopbackHost, isPrivateHost } from "./private-hosts.ts";

/**
 * Where the hub may send an escalation webhook. The hub makes the request itself, so a URL is also a way to make the
 * hub reach something on its own network: only https to a public host is accepted, and plain http only to the
 * machine's own loopback (a local receiver while developing), which the hub further refuses unless
 * CORTEX_ALLOW_LOOPBACK_WEBHOOKS is set. Host names are checked as written: a public name that resolves to a private
 * address cannot be caught here (Workers have no resolver), but on Cloudflare a Worker's fetch reaches only the
 * public internet, and redirects are never followed.
 */

export type WebhookUrlProblem = string | null;

/** Why a URL may not be a webhook, or null when it may (loopback over http is the hub's own decision on top). */
export function webhookUrlProblem(value: string): WebhookUrlProblem {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not a URL";
  }
  if (url.username || url.password) return "must not contain a user name or password (put a token in the path or query instead)";
  if (url.protocol === "http:") return isLoopbackHost(url.hostname) ? null : "must use https (plain http only to 127.0.0.1 or localhost, for a local receiver)";
  if (url.protocol !== "https:") return "must use https";
  if (isPrivateHost(url.hostname)) return `must point to a public host, not ${url.hostname}`;
  return null;
}

/** Whether a webhook URL (already accepted by the schema) goes to this machine's loopback over plain http. */
export function isLoopbackWebhook(value: string): boolean {
  const url = new URL(value);
  return url.protocol === "http:" && isLoopbackHost(url.hostname);
}

export const WebhookUrl = z
  .string()
  .trim()
  .max(2048)
  .superRefine((value, ctx) => {
    const problem = webhookUrlProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `webhook URL ${problem}` });
  });
