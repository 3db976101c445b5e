import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { ApiError } from "../../protocol/api.ts";
import type { HubFailure, HubResult } from "../../durable-objects/shared/hub-result.ts";

export function apiError(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  issues?: NonNullable<ApiError["error"]["issues"]>,
): Response {
  const body: ApiError = { error: { code, message, ...(issues ? { issues } : {}) } };
  return c.json(body, status);
}

export function failure(c: Context, f: HubFailure): Response {
  if (f.retryAfterSeconds !== undefined) c.header("Retry-After", String(f.retryAfterSeconds));
  return apiError(c, f.status, f.code, f.message);
}

/** Answers with the value of a Durable Object result, or its failure as an API error. */
export function respond<T>(c: Context, result: HubResult<T>, status: ContentfulStatusCode = 200): Response {
  return result.ok ? c.json(result.value as object, status) : failure(c, result.error);
}

export function zodIssues(error: z.ZodError): NonNullable<ApiError["error"]["issues"]> {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.join(".") || "(body)", message: i.message }));
}
