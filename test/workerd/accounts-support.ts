import { env, runInDurableObject, SELF } from "cloudflare:test";
import type { CredentialShard } from "../../durable-objects/credentials/credential-shard.ts";
import { credentialShard, personalKeyShard } from "../../durable-objects/credentials/shard-name.ts";
import { DIRECTORY_NAME, type Directory } from "../../durable-objects/directory/directory.ts";
import { sha256Hex } from "../../durable-objects/shared/secrets.ts";
import { CreatedApiKey, CreatedInvite, MeResponse, type ApiKeyScope, type SiteRole } from "../../protocol/accounts.ts";
import { ApiError } from "../../protocol/api.ts";
import { ADMIN_KEY, BASE, ensureSite, freshSite } from "./support.ts";

/** The hub's first superadmin, the same in every test file: whichever file runs first sets the hub up. */
export const ROOT = { email: "root@example.com", name: "Root", password: "root password 0123456789" };
export const PASSWORD = "a fine long password 42";

/** How a test calls the hub: as nobody, with a session cookie (and the hub's own Origin), or with a bearer key. */
export type Caller = { kind: "anonymous" } | { kind: "cookie"; cookie: string } | { kind: "bearer"; key: string };

export const ANONYMOUS: Caller = { kind: "anonymous" };
export const BOOTSTRAP: Caller = { kind: "bearer", key: ADMIN_KEY };

export function call(caller: Caller, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (caller.kind === "cookie") {
    headers.Cookie = `__Host-cortex_session=${caller.cookie}`;
    headers.Origin ??= BASE;
  }
  if (caller.kind === "bearer") headers.Authorization = `Bearer ${caller.key}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    // Header names are case-insensitive: a caller's own `content-type` must not become a second value.
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) headers["Content-Type"] = "application/json";
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
  }
  return SELF.fetch(`${BASE}${path}`, { method: init.method ?? (body === undefined ? "GET" : "POST"), headers, body });
}

/** The session token a response sets, or null. */
export function sessionCookieOf(res: Response): string | null {
  return /__Host-cortex_session=(cxs_[0-9a-f]{64})/.exec(res.headers.get("Set-Cookie") ?? "")?.[1] ?? null;
}

export async function expectJson<T>(res: Response, status: number, schema: { parse(v: unknown): T }): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return schema.parse(JSON.parse(text));
}

/** The ApiError of a refused request, after checking its status. */
export async function refusal(res: Response, status: number): Promise<ApiError["error"]> {
  return (await expectJson(res, status, ApiError)).error;
}

/** A session of the superadmin: sets the hub up if nobody has yet, else signs in. */
export async function rootSession(): Promise<Caller> {
  const setup = await call(ANONYMOUS, "/api/setup", { body: { setupCode: ADMIN_KEY, ...ROOT } });
  if (setup.status !== 201 && setup.status !== 409) throw new Error(`setup: ${setup.status} ${await setup.text()}`);
  if (setup.status === 201) return { kind: "cookie", cookie: sessionCookieOf(setup)! };
  return signIn(ROOT.email, ROOT.password);
}

export async function signIn(email: string, password: string, headers: Record<string, string> = {}): Promise<Caller> {
  const res = await call(ANONYMOUS, "/api/auth/login", { body: { email, password }, headers });
  if (res.status !== 200) throw new Error(`sign-in of ${email}: ${res.status} ${await res.text()}`);
  return { kind: "cookie", cookie: sessionCookieOf(res)! };
}

/** A site that exists on the hub. */
export async function newSite(): Promise<string> {
  const site = freshSite();
  await ensureSite(site);
  return site;
}

let people = 0;
export function uniqueEmail(label: string): string {
  people += 1;
  return `${label}-${people}-${crypto.randomUUID().slice(0, 6)}@example.com`;
}

export interface Person {
  caller: Caller;
  userId: string;
  email: string;
}

/** Invites a new person to `site` with `role` (as `inviter`) and has them accept with a new account. */
export async function join(site: string, role: SiteRole, inviter: Caller, label: string = role): Promise<Person> {
  const email = uniqueEmail(label);
  const created = await expectJson(await call(inviter, `/api/sites/${site}/invites`, { body: { email, role } }), 201, CreatedInvite);
  const token = new URL(created.url).pathname.split("/").pop()!;
  const accepted = await call(ANONYMOUS, "/api/invites/accept", { body: { token, name: label, password: PASSWORD } });
  const me = await expectJson(accepted, 201, MeResponse);
  return { caller: { kind: "cookie", cookie: sessionCookieOf(accepted)! }, userId: me.user.id, email };
}

export async function createKey(owner: Caller, scope: ApiKeyScope, extra: { expiresAt?: number } = {}): Promise<{ caller: Caller; id: string; key: string }> {
  const created = await expectJson(await call(owner, "/api/auth/api-keys", { body: { name: `${scope} key`, scope, ...extra } }), 201, CreatedApiKey);
  return { caller: { kind: "bearer", key: created.key }, id: created.apiKey.id, key: created.key };
}

/** Runs `fn` against the storage of the shard that holds a credential (a session token or an API key). */
export async function credentialSql<T>(secret: string, fn: (sql: SqlStorage, hash: string) => T): Promise<T> {
  const hash = await sha256Hex(secret);
  return runInDurableObject(credentialShard(env, hash), (_shard: CredentialShard, state) => fn(state.storage.sql, hash));
}

/** Runs `fn` against the storage of the shard that holds a user's personal AI key. */
export async function personalKeySql<T>(userId: string, fn: (sql: SqlStorage) => T | Promise<T>): Promise<T> {
  return runInDurableObject(await personalKeyShard(env, userId), (_shard: CredentialShard, state) => fn(state.storage.sql));
}

/** Runs `fn` against the Directory's own SQLite storage, to look at what it stores or to move time along. */
export async function directorySql<T>(fn: (sql: SqlStorage) => T): Promise<T> {
  const stub = env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));
  return runInDurableObject(stub, (_instance: Directory, state) => fn(state.storage.sql));
}
