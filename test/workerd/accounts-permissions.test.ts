import { beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../protocol/api.ts";
import { CreatedAlertToken } from "../../protocol/autonomy.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { createApp } from "../../worker/app.ts";
import { BOOTSTRAP, ANONYMOUS, call, createKey, join, newSite, PASSWORD, ROOT, rootSession, signIn, type Caller } from "./accounts-support.ts";

/**
 * Every API route the app registers, called by every kind of caller: the ones a row allows must get past
 * authentication and authorisation (any status but 401 and 403), every other one must be refused with 401
 * (nobody signed in) or 403, with an ApiError body saying why. Requests that are let through are built to change
 * nothing (a bad body, an id that does not exist). A route without a row fails the first test.
 */

const WHO = [
  "anonymous",
  "member",
  "siteAdmin",
  "otherSiteAdmin",
  "superadmin",
  "bootstrapKey",
  "readKey",
  "chatKey",
  "adminKeyOfMember",
  "adminKeyOfAdmin",
  "alertToken",
] as const;
type Who = (typeof WHO)[number];

const EVERYONE: Who[] = [...WHO];
/** Every credential of a person or of the hub; a site's Alertmanager token may only post that site's alerts. */
const ANY_CREDENTIAL: Who[] = WHO.filter((w) => w !== "anonymous" && w !== "alertToken");
const PEOPLE: Who[] = ["member", "siteAdmin", "otherSiteAdmin", "superadmin"];
const SUPERADMINS: Who[] = ["superadmin", "bootstrapKey"];
const SITE_READERS: Who[] = ["member", "siteAdmin", "superadmin", "bootstrapKey", "readKey", "chatKey", "adminKeyOfMember", "adminKeyOfAdmin"];
const SITE_ADMINS: Who[] = ["siteAdmin", "superadmin", "bootstrapKey", "adminKeyOfAdmin"];
const NOBODY: Who[] = [];
/** Who may keep a personal AI key: people, and their admin-scoped API keys (the CLI); never read or chat keys. */
const KEY_KEEPERS: Who[] = [...PEOPLE, "adminKeyOfMember", "adminKeyOfAdmin"];

const GHOST = "00000000-0000-0000-0000-000000000000";

interface Case {
  /** Who gets past the checks. */
  allowed: Who[];
  /** The concrete path (`:site` is filled in); the route's own path when absent. */
  path?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The request ends what it authenticates with (sign-out): each session caller uses a fresh session. */
  consumesSession?: boolean;
  /** The request replaces or removes the site's Alertmanager token: the token caller gets a fresh one before its turn. */
  revokesAlertToken?: boolean;
  /**
   * The agents' socket, authenticated by a node token in the upgrade or in the `register` message: a person's
   * credential must open nothing (a bearer key that is not a node token is a 401; otherwise the socket still
   * has to show a node token and is closed as unauthorized without one).
   */
  agentSocket?: boolean;
  /** A route for agents with a node token (roost downloads): every person's credential is a 401. */
  nodeToken?: boolean;
  label?: string;
}

const READ_ACTION = { action: "read", params: { path: "/var/log/x" } };
const SHELL_ACTION = { action: "bash", params: { command: "true" } };

/** One row per route, keyed `METHOD path` exactly as the app registers it. */
const ROWS: Record<string, Case[]> = {
  "GET /healthz": [{ allowed: EVERYONE }],
  "GET /agent/*": [{ allowed: EVERYONE, path: "/agent/release.json", label: "the agent's release and bundle hold no secret" }],
  "GET /api/sites/:site/connect": [{ allowed: NOBODY, agentSocket: true, label: "agents only, with a node token" }],

  "POST /api/setup": [{ allowed: EVERYONE, body: {} }],
  "POST /api/auth/login": [{ allowed: EVERYONE, body: {} }],
  "POST /api/auth/logout": [{ allowed: EVERYONE, consumesSession: true }],
  "POST /api/auth/logout-all": [{ allowed: PEOPLE, consumesSession: true }],
  "GET /api/auth/me": [{ allowed: ANY_CREDENTIAL }],
  "POST /api/auth/password": [{ allowed: PEOPLE, body: {} }],
  "GET /api/auth/passkeys": [{ allowed: PEOPLE }],
  "DELETE /api/auth/passkeys/:id": [{ allowed: PEOPLE, path: `/api/auth/passkeys/p-${GHOST}` }],
  "POST /api/auth/passkeys/register/options": [{ allowed: PEOPLE, body: {} }],
  "POST /api/auth/passkeys/register/verify": [{ allowed: PEOPLE, body: {} }],
  "POST /api/auth/passkeys/login/options": [{ allowed: EVERYONE, body: {} }],
  "POST /api/auth/passkeys/login/verify": [{ allowed: EVERYONE, body: {} }],
  "GET /api/auth/api-keys": [{ allowed: PEOPLE }],
  "POST /api/auth/api-keys": [{ allowed: PEOPLE, body: {} }],
  "DELETE /api/auth/api-keys/:id": [{ allowed: PEOPLE, path: `/api/auth/api-keys/k-${GHOST}` }],
  "GET /api/sites": [{ allowed: ANY_CREDENTIAL }],
  "POST /api/sites": [{ allowed: SUPERADMINS, body: {} }],
  "POST /api/invites/accept": [{ allowed: EVERYONE, body: {} }],
  "GET /api/audit": [{ allowed: SUPERADMINS }],
  "GET /api/account/llm-key": [{ allowed: KEY_KEEPERS }],
  "PUT /api/account/llm-key": [{ allowed: KEY_KEEPERS, body: {} }],
  "DELETE /api/account/llm-key": [{ allowed: KEY_KEEPERS }],

  "PATCH /api/sites/:site": [{ allowed: SITE_ADMINS, body: {} }],
  "GET /api/sites/:site/members": [{ allowed: SITE_READERS }],
  "PATCH /api/sites/:site/members/:userId": [{ allowed: SITE_ADMINS, path: `/api/sites/:site/members/u-${GHOST}`, body: { role: "member" } }],
  "DELETE /api/sites/:site/members/:userId": [{ allowed: SITE_ADMINS, path: `/api/sites/:site/members/u-${GHOST}` }],
  "GET /api/sites/:site/invites": [{ allowed: SITE_ADMINS }],
  "POST /api/sites/:site/invites": [{ allowed: SITE_ADMINS, body: {} }],
  "DELETE /api/sites/:site/invites/:id": [{ allowed: SITE_ADMINS, path: `/api/sites/:site/invites/i-${GHOST}` }],
  "GET /api/sites/:site/settings": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/agent": [{ allowed: SITE_READERS }],
  "PATCH /api/sites/:site/settings": [{ allowed: SITE_ADMINS, body: {} }],

  "POST /api/sites/:site/nodes": [{ allowed: SITE_ADMINS, body: {} }],
  "GET /api/sites/:site/nodes": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/nodes/:id": [{ allowed: SITE_READERS, path: "/api/sites/:site/nodes/ghost" }],
  "PATCH /api/sites/:site/nodes/:id": [{ allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost", body: { aiToolsAllowed: false } }],
  "DELETE /api/sites/:site/nodes/:id": [{ allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost" }],
  "POST /api/sites/:site/nodes/:id/rekey": [{ allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/rekey" }],
  "GET /api/sites/:site/nodes/:id/metrics": [{ allowed: SITE_READERS, path: "/api/sites/:site/nodes/ghost/metrics" }],
  "GET /api/sites/:site/nodes/:id/runs/:runId": [{ allowed: SITE_READERS, path: "/api/sites/:site/nodes/ghost/runs/run-ghost" }],
  "GET /api/sites/:site/nodes/:id/processes": [{ allowed: SITE_READERS, path: "/api/sites/:site/nodes/ghost/processes" }],
  "POST /api/sites/:site/nodes/:id/processes": [{ label: "add (risk tier 3)", allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/processes", body: { name: "web", command: "/bin/true" } }],
  "PATCH /api/sites/:site/nodes/:id/processes/:name": [
    { label: "launch mode (risk tier 2)", allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/processes/web", body: { launchMode: "off" } },
    { label: "command (risk tier 3)", allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/processes/web", body: { command: "/bin/sh" } },
  ],
  "DELETE /api/sites/:site/nodes/:id/processes/:name": [{ label: "remove (risk tier 3)", allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/processes/web" }],
  "POST /api/sites/:site/nodes/:id/processes/:name/:operation": [
    { label: "start (risk tier 2)", allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/processes/web/start" },
    { label: "stop (risk tier 2)", allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/processes/web/stop" },
  ],
  "POST /api/sites/:site/nodes/:id/processes/:name/logs": [{ label: "a tier-1 read, confined callers refused by the site", allowed: SITE_READERS, path: "/api/sites/:site/nodes/ghost/processes/web/logs" }],
  "POST /api/sites/:site/nodes/:id/directives": [
    { label: "a read (risk tier 1)", allowed: SITE_READERS, path: "/api/sites/:site/nodes/ghost/directives", body: READ_ACTION },
    { label: "a shell command (risk tier 3)", allowed: SITE_ADMINS, path: "/api/sites/:site/nodes/ghost/directives", body: SHELL_ACTION },
  ],
  "POST /api/sites/:site/fanouts": [
    { label: "a read (risk tier 1)", allowed: SITE_READERS, body: { ...READ_ACTION, target: { nodes: ["ghost"] } } },
    { label: "a shell command (risk tier 3)", allowed: SITE_ADMINS, body: { ...SHELL_ACTION, target: { nodes: ["ghost"] } } },
  ],
  "GET /api/sites/:site/fanouts/:id": [{ allowed: SITE_READERS, path: `/api/sites/:site/fanouts/f-${GHOST}` }],
  "POST /api/sites/:site/fanouts/:id/cancel": [{ allowed: SITE_READERS, path: `/api/sites/:site/fanouts/f-${GHOST}/cancel` }],
  "GET /api/sites/:site/directives": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/directives/:id": [{ allowed: SITE_READERS, path: `/api/sites/:site/directives/d-${GHOST}` }],
  "POST /api/sites/:site/directives/:id/cancel": [{ allowed: SITE_READERS, path: `/api/sites/:site/directives/d-${GHOST}/cancel` }],
  "GET /api/sites/:site/activity": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/live": [{ allowed: SITE_READERS, label: "without an upgrade" }],

  "POST /api/sites/:site/roost/chunks/missing": [{ allowed: SITE_ADMINS, body: {} }],
  "PUT /api/sites/:site/roost/chunks/:hash": [{ allowed: SITE_ADMINS, path: `/api/sites/:site/roost/chunks/${"0".repeat(64)}`, body: "" }],
  "POST /api/sites/:site/roosts/:roost/versions": [{ allowed: SITE_ADMINS, path: "/api/sites/:site/roosts/ghost/versions", body: {} }],
  "GET /api/sites/:site/roosts": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/roosts/:roost/versions": [{ allowed: SITE_READERS, path: "/api/sites/:site/roosts/ghost/versions" }],
  "GET /api/sites/:site/roosts/:roost/versions/:version": [{ allowed: SITE_READERS, path: "/api/sites/:site/roosts/ghost/versions/1" }],
  "GET /api/sites/:site/roosts/:roost/diff": [{ allowed: SITE_READERS, path: "/api/sites/:site/roosts/ghost/diff?from=1&to=2" }],
  "GET /api/sites/:site/roost/deployments": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/roost/deployments/:id": [{ allowed: SITE_READERS, path: `/api/sites/:site/roost/deployments/r-${GHOST}` }],
  "GET /api/sites/:site/roost/deployments/:id/events": [{ allowed: SITE_READERS, path: `/api/sites/:site/roost/deployments/r-${GHOST}/events` }],
  "POST /api/sites/:site/roosts/:roost/deployments": [{ label: "deploying (risk tier 3)", allowed: SITE_ADMINS, path: "/api/sites/:site/roosts/ghost/deployments", body: {} }],
  "POST /api/sites/:site/roosts/:roost/rollbacks": [{ label: "rolling back (risk tier 3)", allowed: SITE_ADMINS, path: "/api/sites/:site/roosts/ghost/rollbacks", body: {} }],
  "POST /api/sites/:site/roost/deployments/:id/promote": [{ allowed: SITE_ADMINS, path: `/api/sites/:site/roost/deployments/r-${GHOST}/promote` }],
  "POST /api/sites/:site/roost/deployments/:id/abort": [{ allowed: SITE_ADMINS, path: `/api/sites/:site/roost/deployments/r-${GHOST}/abort` }],
  "GET /api/sites/:site/roost/node/chunks/:hash": [{ allowed: NOBODY, nodeToken: true, path: `/api/sites/:site/roost/node/chunks/${"0".repeat(64)}`, label: "agents only, with a node token" }],
  "GET /api/sites/:site/roost/node/manifests/:roost/:version": [{ allowed: NOBODY, nodeToken: true, path: "/api/sites/:site/roost/node/manifests/ghost/1", label: "agents only, with a node token" }],
  "GET /api/sites/:site/llm-key": [{ allowed: SITE_ADMINS }],
  "PUT /api/sites/:site/llm-key": [{ allowed: SITE_ADMINS, body: {} }],
  "DELETE /api/sites/:site/llm-key": [{ allowed: SITE_ADMINS }],
  "GET /api/sites/:site/chat": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/conversations": [{ allowed: SITE_READERS }],
  "POST /api/sites/:site/conversations": [{ allowed: SITE_READERS, body: {} }],
  "GET /api/sites/:site/conversations/:id": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}` }],
  "PATCH /api/sites/:site/conversations/:id": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}`, body: { title: "x" } }],
  "DELETE /api/sites/:site/conversations/:id": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}` }],
  "POST /api/sites/:site/conversations/:id/messages": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}/messages`, body: { text: "hi" } }],
  "POST /api/sites/:site/conversations/:id/stop": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}/stop` }],
  "POST /api/sites/:site/conversations/:id/continue": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}/continue` }],
  "POST /api/sites/:site/conversations/:id/confirmations/:toolCallId": [
    { allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}/confirmations/t-${GHOST}`, body: { approve: true } },
  ],
  "GET /api/sites/:site/conversations/:id/events": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}/events` }],
  "GET /api/sites/:site/conversations/:id/socket": [{ allowed: SITE_READERS, path: `/api/sites/:site/conversations/c-${GHOST}/socket`, label: "without an upgrade" }],

  "GET /api/sites/:site/autonomy/events": [{ allowed: SITE_READERS }],
  "GET /api/sites/:site/autonomy/events/:id": [{ allowed: SITE_READERS, path: `/api/sites/:site/autonomy/events/ae-${GHOST}` }],
  "GET /api/sites/:site/alerts/alertmanager/token": [{ allowed: SITE_ADMINS }],
  "POST /api/sites/:site/alerts/alertmanager/token": [{ allowed: SITE_ADMINS, revokesAlertToken: true }],
  "DELETE /api/sites/:site/alerts/alertmanager/token": [{ allowed: SITE_ADMINS, revokesAlertToken: true }],
  "POST /api/sites/:site/alerts/alertmanager": [{ allowed: ["alertToken"], body: {}, label: "only the site's Alertmanager token" }],
};

/** Every `METHOD path` the app answers, from its own route table (middleware excluded). */
function registeredRoutes(): string[] {
  return [...new Set(createApp().routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))];
}

const callers = {} as Record<Who, Caller>;
/** How to get another session for a session caller (for the routes that end the session they are called with). */
const relogin: Partial<Record<Who, () => Promise<Caller>>> = {};
let site: string;

beforeAll(async () => {
  const root = await rootSession();
  site = await newSite();
  const otherSite = await newSite();
  const admin = await join(site, "admin", root);
  const member = await join(site, "member", root);
  const other = await join(otherSite, "admin", root);
  Object.assign(callers, {
    anonymous: ANONYMOUS,
    member: member.caller,
    siteAdmin: admin.caller,
    otherSiteAdmin: other.caller,
    superadmin: root,
    bootstrapKey: BOOTSTRAP,
    readKey: (await createKey(admin.caller, "read")).caller,
    chatKey: (await createKey(admin.caller, "chat")).caller,
    adminKeyOfMember: (await createKey(member.caller, "admin")).caller,
    adminKeyOfAdmin: (await createKey(admin.caller, "admin")).caller,
    alertToken: await alertToken(site),
  } satisfies Record<Who, Caller>);
  relogin.alertToken = async () => (callers.alertToken = await alertToken(site));
  relogin.member = () => signIn(member.email, PASSWORD);
  relogin.siteAdmin = () => signIn(admin.email, PASSWORD);
  relogin.otherSiteAdmin = () => signIn(other.email, PASSWORD);
  relogin.superadmin = () => signIn(ROOT.email, ROOT.password);
});

describe("the permission table", () => {
  it("has a row for every route the app registers, and no row for a route it does not", () => {
    const routes = registeredRoutes();
    expect(routes.filter((r) => !ROWS[r]), "routes without a row").toEqual([]);
    expect(Object.keys(ROWS).filter((r) => !routes.includes(r)), "rows without a route").toEqual([]);
  });

  const cases = Object.entries(ROWS).flatMap(([route, rows]) => rows.map((row) => ({ route, row })));
  // Sign-out everywhere ends the callers' main sessions too, so it goes last.
  cases.sort((a, b) => Number(a.route.endsWith("logout-all")) - Number(b.route.endsWith("logout-all")));

  it.each(cases.map(({ route, row }) => [`${route}${row.label ? ` (${row.label})` : ""}`, route, row] as const))(
    "%s: allowed callers get through, everyone else gets 401 or 403 with a reason",
    async (_name, route, row) => {
      const [method, pattern] = route.split(" ") as [string, string];
      const path = (row.path ?? pattern).replace(":site", site);
      const outcomes: string[] = [];
      for (const who of WHO) {
        const fresh = row.consumesSession ? relogin[who] : row.revokesAlertToken && who === "alertToken" ? relogin.alertToken : undefined;
        const caller = fresh ? await fresh() : callers[who];
        if (row.agentSocket) {
          const refused = await agentSocketRefuses(caller, path);
          if (refused) outcomes.push(`${who}: ${refused}`);
          continue;
        }
        const res = await call(caller, path, { method, body: row.body, headers: row.headers });
        const text = await res.text();
        if (row.allowed.includes(who)) {
          if (res.status === 401 || res.status === 403) outcomes.push(`${who}: expected to get through, got ${res.status} ${text}`);
          continue;
        }
        const expected = who === "anonymous" || row.nodeToken ? 401 : 403;
        const body = ApiError.safeParse(safeJson(text));
        if (res.status !== expected) {
          outcomes.push(`${who}: expected ${expected}, got ${res.status} ${text}`);
        } else if (!body.success || !body.data.error.message) {
          outcomes.push(`${who}: refusal without an ApiError body: ${text}`);
        }
      }
      expect(outcomes).toEqual([]);
    },
  );
});

/** A new Alertmanager token of the site (replacing the one before), as a caller. */
async function alertToken(siteId: string): Promise<Caller> {
  const res = await call(BOOTSTRAP, `/api/sites/${siteId}/alerts/alertmanager/token`, { method: "POST" });
  const { token } = CreatedAlertToken.parse(await res.json());
  return { kind: "bearer", key: token };
}

/** Null when the agent socket gives this caller nothing, else what went wrong. */
async function agentSocketRefuses(caller: Caller, path: string): Promise<string | null> {
  const res = await call(caller, path, { headers: { Upgrade: "websocket" } });
  if (!res.webSocket) {
    const body = ApiError.safeParse(safeJson(await res.text()));
    return res.status === 401 && body.success ? null : `expected 401 or an unauthenticated socket, got ${res.status}`;
  }
  const ws = res.webSocket;
  ws.accept();
  const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
  ws.send(JSON.stringify({ type: "register", agentId: "ghost", name: "ghost", capabilities: [], version: "test" }));
  const code = await closed;
  return code === CloseCode.UNAUTHORIZED ? null : `the socket was not closed as unauthorized (code ${code})`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
