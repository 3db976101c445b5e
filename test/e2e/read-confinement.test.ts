import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatedApiKey, CreatedInvite } from "../../protocol/accounts.ts";
import { DirectiveView, FanOutResponse } from "../../protocol/api.ts";
import { SiteSettingsResponse } from "../../protocol/site-settings.ts";
import { Fleet } from "../support/fleet.ts";
import { HubApi } from "../support/hub-api.ts";
import { ANY_JSON, HubSession } from "../support/hub-session.ts";

/**
 * Who may read what, end to end with a real agent on a `root` machine: a member and a read key read inside the
 * site's readable paths and nowhere else. The hub refuses the obvious paths itself; a symlink inside a readable
 * folder that leads to an admin's CLI config passes the hub's lexical check and is refused by the agent, which
 * checks the file it really opened against the folders the hub sent (`confineTo`).
 */

let fleet: Fleet;
let member: HubApi;
let readKey: HubApi;
let logs: string;
let secrets: string;
const ADMIN_CONFIG = JSON.stringify({ hub: "https://hub.example.com", site: "default", apiKey: `cxk_${"ab".repeat(32)}` });

beforeAll(async () => {
  fleet = await Fleet.start();
  await fleet.connectedNode("box", "root");

  logs = fleet.dirs.make("cortex-e2e-logs-");
  secrets = fleet.dirs.make("cortex-e2e-admin-home-");
  mkdirSync(join(secrets, ".config", "cortex"), { recursive: true });
  writeFileSync(join(secrets, ".config", "cortex", "config.json"), ADMIN_CONFIG);
  writeFileSync(join(secrets, ".dev.vars"), `CORTEX_ADMIN_KEY=${"9f".repeat(32)}\n`);
  writeFileSync(join(logs, "app.log"), "started\nlistening on 8080\n");
  symlinkSync(join(secrets, ".config", "cortex", "config.json"), join(logs, "link-to-admin-config"));
  symlinkSync(secrets, join(logs, "link-to-admin-home"));

  const settings = await fleet.api.raw("PATCH", fleet.api.sitePath("/settings"), {
    body: JSON.stringify({ readablePaths: [logs] }),
    headers: { "Content-Type": "application/json" },
  });
  expect(SiteSettingsResponse.parse(settings.json).settings.readablePaths).toEqual([logs]);

  // The first superadmin invites a member; both keep their sessions. The superadmin's read key is confined too.
  const root = new HubSession(fleet.hub.url);
  await root.post("/api/setup", { setupCode: fleet.hub.adminKey, email: "root@example.com", name: "Root", password: "root password 0123456789" }, ANY_JSON, 201);
  const invite = await root.post("/api/sites/default/invites", { role: "member" }, CreatedInvite, 201);
  const person = new HubSession(fleet.hub.url);
  const token = new URL(invite.url).pathname.split("/").pop();
  await person.post("/api/invites/accept", { token, name: "Max", email: "max@example.com", password: "member password 1234" }, ANY_JSON, 201);
  member = new HubApi(fleet.hub.url, (await person.post("/api/auth/api-keys", { name: "member key", scope: "admin" }, CreatedApiKey, 201)).key);
  readKey = new HubApi(fleet.hub.url, (await root.post("/api/auth/api-keys", { name: "read key", scope: "read" }, CreatedApiKey, 201)).key);
});

afterAll(async () => {
  await fleet?.close();
});

function read(api: HubApi, path: string) {
  return api.raw("POST", api.sitePath("/nodes/box/directives"), {
    body: JSON.stringify({ action: "read", params: { path } }),
    headers: { "Content-Type": "application/json" },
  });
}

describe("reading on a root machine as someone who may only read", () => {
  it("reads a file inside the readable paths", async () => {
    for (const api of [member, readKey]) {
      const res = await read(api, join(logs, "app.log"));
      expect(res.status).toBe(200);
      expect(DirectiveView.parse(res.json)).toMatchObject({ status: "done", output: expect.stringContaining("listening on 8080") });
    }
  });

  it("is refused by the hub, before anything is sent, outside them", async () => {
    for (const api of [member, readKey]) {
      for (const path of [join(secrets, ".config", "cortex", "config.json"), join(secrets, ".dev.vars"), join(logs, "..", secrets.split("/").pop()!, ".dev.vars")]) {
        const res = await read(api, path);
        expect(res.status, path).toBe(403);
        expect(res.text).toContain("not_readable");
      }
    }
  });

  it("is refused by the agent through a symlink in a readable folder, and the admin's key never leaves the machine", async () => {
    for (const api of [member, readKey]) {
      for (const path of [join(logs, "link-to-admin-config"), join(logs, "link-to-admin-home", ".dev.vars")]) {
        const res = await read(api, path);
        expect(res.status, path).toBe(200);
        const view = DirectiveView.parse(res.json);
        expect(view.status, path).toBe("refused");
        expect(res.text).not.toContain("cxk_");
        expect(res.text).not.toContain("9f9f9f9f");
      }
    }
  });

  it("finds nothing through a symlink either: a search through the link is refused", async () => {
    const res = await member.raw("POST", member.sitePath("/nodes/box/directives"), {
      body: JSON.stringify({ action: "grep", params: { path: join(logs, "link-to-admin-home"), pattern: "cxk_" } }),
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(200);
    expect(DirectiveView.parse(res.json).status).toBe("refused");
    expect(res.text).not.toContain("abababab");
  });

  it("fans out to every machine and gets nothing out of any of them", async () => {
    const res = await member.raw("POST", member.sitePath("/fanouts"), {
      body: JSON.stringify({ action: "read", params: { path: join(logs, "link-to-admin-config") }, target: { all: true } }),
      headers: { "Content-Type": "application/json" },
    });
    const outcome = FanOutResponse.parse(res.json);
    expect(outcome.aggregate).toMatchObject({ total: 1, refused: 1, succeeded: 0 });
    expect(res.text).not.toContain("cxk_");
  });

  it("leaves an admin free to read through the same link", async () => {
    const view = await fleet.api.runDirective("box", { action: "read", params: { path: join(logs, "link-to-admin-config") } });
    expect(view).toMatchObject({ status: "done", output: expect.stringContaining("cxk_") });
  });
});
