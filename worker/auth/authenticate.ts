import type { Env } from "../env.ts";
import { secretsEqual } from "../../durable-objects/shared/secrets.ts";
import type { Principal } from "./principal.ts";

export type Authentication = { ok: true; principal: Principal } | { ok: false; message: string };

/** Establishes who is calling from the `Authorization: Bearer` header. */
export async function authenticate(request: Request, env: Env): Promise<Authentication> {
  const header = request.headers.get("Authorization");
  if (!header) return { ok: false, message: "missing Authorization: Bearer <api key>" };
  const key = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!key) return { ok: false, message: "Authorization must be 'Bearer <api key>'" };
  const admin = env.CORTEX_ADMIN_KEY;
  if (admin && admin.length >= 32 && (await secretsEqual(key, admin))) {
    return { ok: true, principal: { kind: "admin_key", label: "admin key" } };
  }
  return { ok: false, message: "invalid API key" };
}
