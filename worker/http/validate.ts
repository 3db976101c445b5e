import type { Context } from "hono";
import type { z } from "zod";
import { apiError, zodIssues } from "./api-error.ts";
import { MAX_JSON_DEPTH, nestedDeeperThan } from "./json-depth.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; response: Response };

/** Parses a JSON body with a protocol schema: malformed JSON and schema violations are both a clear 400. */
export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<Parsed<z.output<S>>> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    return { ok: false, response: apiError(c, 400, "invalid_json", "request body must be valid JSON") };
  }
  return checkBody(c, schema, json);
}

function checkBody<S extends z.ZodType>(c: Context, schema: S, json: unknown): Parsed<z.output<S>> {
  if (nestedDeeperThan(json, MAX_JSON_DEPTH)) {
    return { ok: false, response: apiError(c, 400, "too_deep", `request body nests deeper than ${MAX_JSON_DEPTH} levels`) };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    return { ok: false, response: apiError(c, 400, "invalid_body", "request body does not match the expected shape", zodIssues(result.error)) };
  }
  return { ok: true, value: result.data };
}

/** Like `parseBody`, for routes whose body may be left out: an empty body reads as `{}`. */
export async function parseOptionalBody<S extends z.ZodType>(c: Context, schema: S): Promise<Parsed<z.output<S>>> {
  const text = await c.req.text();
  if (text.trim() === "") return checkBody(c, schema, {});
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, response: apiError(c, 400, "invalid_json", "request body must be valid JSON") };
  }
  return checkBody(c, schema, json);
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): Parsed<z.output<S>> {
  const result = schema.safeParse(c.req.query());
  if (!result.success) {
    return { ok: false, response: apiError(c, 400, "invalid_query", "query parameters are invalid", zodIssues(result.error)) };
  }
  return { ok: true, value: result.data };
}

export function parseParam<S extends z.ZodType>(c: Context, schema: S, name: string): Parsed<z.output<S>> {
  const result = schema.safeParse(c.req.param(name));
  if (!result.success) {
    return { ok: false, response: apiError(c, 400, `invalid_${name}`, `${name}: ${result.error.issues[0]?.message ?? "invalid"}`) };
  }
  return { ok: true, value: result.data };
}
