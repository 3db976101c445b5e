import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivityPage } from "../../protocol/api.ts";
import { MISSED_HEARTBEATS_ALLOWED } from "../../protocol/limits.ts";
import { CONTENT_SECURITY_POLICY } from "../../worker/http/security-headers.ts";
import { launchBrowser, newContext, PageProblems, screenshot, signInWithPassword } from "../support/browser.ts";
import { Fleet, type AgentHandle } from "../support/fleet.ts";

/**
 * The dashboard in headless Chromium against a real hub under wrangler dev, with real agents: an administrator
 * sets the hub up and signs in, watches machines come and go live, runs commands, adds a machine, invites a
 * member who sees no admin control, and reads it all back in /logs. The pages' screenshots go to docs/screenshots.
 */

const HEARTBEAT_MS = 1_000;
const SWEEP_SLACK_MS = 6_000;
const ADMIN = { name: "Ada Admin", email: "ada@example.com", password: "correct horse battery staple" };
const MEMBER = { name: "Max Member", email: "max@example.com", password: "member password 1234" };

let fleet: Fleet;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
const problems = new PageProblems();

/** Polls until the expectation holds; the page reacts to live events, so a few seconds are allowed on a loaded machine. */
function eventually<T>(probe: () => Promise<T> | T) {
  return expect.poll(probe, { timeout: 15_000 });
}

/** A machine's row on the Machines page. */
function row(p: Page, id: string) {
  return p.locator(`tr[data-node="${id}"]`);
}

beforeAll(async () => {
  fleet = await Fleet.start();
  browser = await launchBrowser();
  admin = await newContext(browser, fleet.hub.url);
  page = problems.watch(await admin.newPage());
});

afterAll(async () => {
  if (problems.seen.length) console.error(`problems: ${problems.seen.join("\n")}\nwrangler output:\n${fleet.hub.output.slice(-6000)}`);
  await browser?.close();
  await fleet?.close();
});

describe("the dashboard", () => {
  it("serves every page with the strict Content-Security-Policy and the security headers", async () => {
    for (const path of ["/", "/signin", "/machines/x", "/logs"]) {
      const res = await fetch(`${fleet.hub.url}${path}`, { headers: { Accept: "text/html", "Sec-Fetch-Mode": "navigate" } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-security-policy"), path).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
    const api = await fetch(`${fleet.hub.url}/api/sites/default/nodes`, { headers: { "Sec-Fetch-Mode": "navigate" } });
    expect(api.status).toBe(401);
    expect(api.headers.get("content-type")).toContain("application/json");
  });

  it("sets the hub up with its setup code, then signs in with a password", async () => {
    await page.goto("/");
    await page.waitForURL(/\/signin/);
    await screenshot(page, "sign-in");
    await page.getByRole("link", { name: "Set it up" }).click();
    await page.getByLabel("Setup code").fill(fleet.hub.adminKey);
    await page.getByLabel("Your name").fill(ADMIN.name);
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel(/^Password \(/).fill(ADMIN.password);
    await page.getByLabel("Password again").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.waitForURL(/\/machines$/);

    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.waitForURL(/\/signin/);
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(/\/machines$/);
    await eventually(() => page.locator(".live-dot").textContent()).toBe("live");
  });

  let alpha: AgentHandle;
  let alphaToken = "";

  it("shows a node go connected with live metrics, then disconnected when its agent is killed, without a reload", async () => {
    await page.evaluate(() => ((globalThis as unknown as { stayed: boolean }).stayed = true));
    const creds = await fleet.register("alpha", "root", "render");
    alphaToken = creds.token;
    await eventually(() => row(page, "alpha").getAttribute("data-status")).toBe("disconnected");

    alpha = fleet.startAgent({ token: creds.token, tier: "root", heartbeatMs: HEARTBEAT_MS });
    await expect.poll(() => row(page, "alpha").getAttribute("data-status"), { timeout: 30_000 }).toBe("connected");
    // Metrics come with every second heartbeat; the CPU gauge fills in without any request from the page.
    await eventually(() => row(page, "alpha").locator('td[data-label="CPU"] meter').count()).toBe(1);
    await fleet.connectedNode("beta-render", "sudo", { group: "render" });
    await fleet.register("gamma-idle", "unprivileged", "storage");
    await eventually(() => row(page, "gamma-idle").count()).toBe(1);
    await eventually(() => row(page, "beta-render").locator('td[data-label="CPU"] meter').count()).toBe(1);
    await screenshot(page, "machines");

    const killedAt = Date.now();
    alpha.proc.killGroup("SIGKILL");
    await alpha.proc.exited;
    const limit = MISSED_HEARTBEATS_ALLOWED * HEARTBEAT_MS + SWEEP_SLACK_MS;
    await expect.poll(() => row(page, "alpha").getAttribute("data-status"), { timeout: limit }).toBe("disconnected");
    expect(Date.now() - killedAt).toBeLessThanOrEqual(limit);
    expect(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(true);

    await page.getByLabel("Status").selectOption("connected");
    await eventually(() => page.locator("tbody tr").count()).toBe(1);
    await page.getByLabel("Group").selectOption("storage");
    await eventually(() => page.getByText("No machine matches these filters.").count()).toBe(1);
    await page.getByLabel("Status").selectOption("active");
    await eventually(() => page.locator("tbody tr").allTextContents()).toEqual([expect.stringContaining("gamma-idle")]);
  });

  it("runs a command from a machine's console and shows its output as it streams, in colour", async () => {
    alpha = fleet.startAgent({ token: alphaToken, tier: "root", heartbeatMs: HEARTBEAT_MS });
    await fleet.waitForStatus("alpha", "connected", 30_000, alpha.proc);
    await page.goto("/machines/alpha");
    await eventually(() => page.locator("#machine-title + .badge").count()).toBe(1);
    expect(await page.locator("#machine-title + .badge").textContent()).toBe("connected");
    await page.locator("#console-command").fill("printf '\\033[32mfirst green\\033[0m\\n'; sleep 2; echo second plain");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    const output = page.locator(".console-output");
    await eventually(() => output.textContent()).toContain("first green");
    // Streamed: the first line is on screen while the command is still sleeping.
    expect(await output.textContent()).not.toContain("second plain");
    expect(await output.locator("span.ansi-green-fg").textContent()).toBe("first green");
    await eventually(() => output.textContent()).toContain("second plain");
    await eventually(() => page.locator(".outcome").textContent()).toContain("exit 0");
    await eventually(() => page.locator(".compact tbody tr").count()).toBeGreaterThan(0);
    await eventually(() => page.getByText(/^Loading/).count()).toBe(0);
    await screenshot(page, "machine-detail", { fullPage: true });

    await page.locator("#console-command").fill("sleep 30; echo never");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.getByRole("button", { name: "Cancel" }).click();
    await eventually(() => page.locator(".outcome").textContent()).toContain("cancelled");
  });

  it("runs a command on every online machine and shows each result and the aggregate", async () => {
    await page.goto("/run");
    await page.locator("#many-command").fill("echo hello from $(hostname)");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: /^Run on 2 machines$/ }).click();
    await expect.poll(() => page.locator(".aggregate").textContent(), { timeout: 30_000 }).toContain("2 succeeded");
    expect(await page.locator(".node-result").count()).toBe(2);
    expect(await page.locator('.node-result[data-node="alpha"] .console-output').textContent()).toContain("hello from");
  });

  it("registers a machine from the page, gives its install line and its token once, and shows it come online", async () => {
    await page.goto("/add");
    await page.locator("#add-name").fill("delta");
    await page.locator("#add-group").fill("render");
    await page.getByLabel(/^sudo/).check();
    await page.getByRole("button", { name: "Register" }).click();
    const values = page.locator(".copy-field .copy-value");
    const command = await values.nth(0).textContent();
    expect(command).toBe(`curl -fsSL ${fleet.hub.url}/install.sh | sudo sh -s -- --endpoint ${fleet.hub.url}/api/sites/default --tier sudo`);
    const token = (await values.nth(1).textContent())!;
    expect(token).toMatch(/^cxn_delta_[0-9a-f]{64}$/);
    // The README shows the page, not this throwaway hub's token.
    await page.locator(".copy-value").evaluateAll((els) => {
      for (const el of els) el.textContent = (el.textContent ?? "").replace(/[0-9a-f]{64}/, "…");
    });
    await screenshot(page, "add-machine");
    const delta = fleet.startAgent({ token, tier: "sudo", heartbeatMs: HEARTBEAT_MS });
    await expect.poll(() => page.locator(".waiting").textContent(), { timeout: 30_000 }).toContain("delta is online");
    delta.proc.killGroup("SIGTERM");
  });

  it("lets a member in by invite, and shows them the pages without any control they may not use", async () => {
    await page.goto("/settings/members");
    await page.locator("#invite-role").selectOption("member");
    await page.getByRole("button", { name: "Create invite" }).click();
    const link = await page.locator(".secret-once .copy-value").last().textContent();
    expect(link).toContain(fleet.hub.url);

    const memberContext = await newContext(browser, fleet.hub.url);
    const m = problems.watch(await memberContext.newPage());
    await m.goto(link!);
    await m.getByLabel("Your name").fill(MEMBER.name);
    await m.getByLabel(/^Email/).fill(MEMBER.email);
    await m.getByLabel(/^Password/).fill(MEMBER.password);
    await m.getByRole("button", { name: "Accept the invite" }).click();
    await m.waitForURL(/\/machines$/);
    await eventually(() => row(m, "alpha").count()).toBe(1);
    expect(await m.locator(".who .role").textContent()).toBe("member");
    expect(await m.getByRole("link", { name: "Add a machine" }).count()).toBe(0);

    await m.goto("/machines/alpha");
    await eventually(() => m.locator("#console-title").count()).toBe(1);
    const actions = await m.locator("#console-action option").evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(actions).toEqual(["read", "glob", "grep"]);
    expect(await m.getByRole("button", { name: "Remove machine" }).count()).toBe(0);
    expect(await m.getByRole("button", { name: "New token" }).count()).toBe(0);
    await eventually(() => m.getByText(/^Loading/).count()).toBe(0);
    await screenshot(m, "member-view", { fullPage: true });

    await m.goto("/add");
    await eventually(() => m.locator("main").textContent()).toContain("Only the site's admins can add machines.");
    expect(await m.getByRole("button", { name: "Register" }).count()).toBe(0);

    await m.goto("/settings/members");
    await eventually(() => m.locator("#members-title").count()).toBe(1);
    expect(await m.locator("#invites-title").count()).toBe(0);
    expect(await m.getByRole("button", { name: "Remove" }).count()).toBe(0);
    expect(await m.locator('select[aria-label^="Role of"]').count()).toBe(0);
    await memberContext.close();
  });

  it("adds a passkey in Settings and signs in with it", async () => {
    // WebAuthn refuses IP addresses as relying-party ids, so this part browses the hub as localhost.
    const local = await newContext(browser, fleet.hub.url.replace("127.0.0.1", "localhost"));
    const p = problems.watch(await local.newPage());
    const cdp = await local.newCDPSession(p);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await signInWithPassword(p, ADMIN.email, ADMIN.password);

    await p.goto("/settings");
    await p.locator("#passkey-name").fill("test authenticator");
    await p.locator("#passkey-password").fill(ADMIN.password);
    await p.getByRole("button", { name: "Add a passkey" }).click();
    await eventually(() => p.locator(".plain-list").first().textContent()).toContain("test authenticator");

    await p.getByRole("button", { name: "Sign out", exact: true }).click();
    await p.waitForURL(/\/signin/);
    await p.getByRole("button", { name: "Sign in with a passkey" }).click();
    await p.waitForURL(/\/machines$/);
    expect(await p.locator(".who").textContent()).toContain(ADMIN.name);
    await local.close();
  });

  it("shows the site's activity at /logs, with filters by machine and kind, paged", async () => {
    await page.goto("/logs");
    const messages = () => page.locator("table.activity td.message .entry-text").allTextContents();
    await eventually(messages).toEqual(
      expect.arrayContaining([
        expect.stringContaining("node alpha registered"),
        expect.stringContaining("node alpha connected"),
        expect.stringMatching(/node alpha (disconnected|missed its heartbeats)/),
        expect.stringMatching(/ran bash ".*" on alpha: /),
        expect.stringContaining("node delta registered"),
      ]),
    );

    await page.getByLabel("Machine").selectOption("alpha");
    await page.getByLabel("Kind").selectOption("directive");
    const column = (label: string) => page.locator(`table.activity td[data-label="${label}"]`).allTextContents();
    await eventually(async () => new Set([...(await column("Machine")), ...(await column("Kind"))])).toEqual(new Set(["alpha", "directive"]));
    expect(page.url()).toContain("node=alpha");

    const all = ActivityPage.parse((await fleet.api.raw("GET", fleet.api.sitePath("/activity?limit=500"))).json).entries;
    expect(all.length).toBeGreaterThan(20);
    await page.goto("/logs?limit=10");
    await eventually(messages).toEqual(all.slice(0, 10).map((e) => e.message));
    await page.getByRole("button", { name: "Older entries" }).click();
    await eventually(messages).toEqual(all.slice(0, 20).map((e) => e.message));

    // An answer for filters left behind, arriving late, never replaces the list of the filters chosen after them.
    const slow = /\/activity\?(.*&)?kind=directive/;
    let held = 0;
    await page.route(slow, async (route) => {
      held++;
      await sleep(1_500);
      await route.continue();
    });
    await page.goto("/logs");
    await eventually(messages).not.toEqual([]);
    await page.getByLabel("Kind").selectOption("directive");
    await page.getByLabel("Kind").selectOption("node");
    await eventually(async () => new Set(await column("Kind"))).toEqual(new Set(["node"]));
    await eventually(() => held).toBe(1);
    await sleep(2_500);
    expect(new Set(await column("Kind"))).toEqual(new Set(["node"]));
    expect(page.url()).toContain("kind=node");
    await page.unroute(slow);
  });

  it("reads well on a phone", async () => {
    const phone = await newContext(browser, fleet.hub.url, { width: 390, height: 844 });
    await phone.addCookies(await admin.cookies());
    const p = problems.watch(await phone.newPage());
    await p.goto("/machines");
    await eventually(() => row(p, "alpha").count()).toBe(1);
    const overflow = await p.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(p, "machines-phone", { fullPage: true });
    await phone.close();
  });

  it("ran everything without a page error or a Content-Security-Policy violation", () => {
    expect(problems.cspViolations()).toEqual([]);
    // The only errors allowed are the hub's answers the flows provoke: 401 before signing in.
    expect(problems.unexpected([/status of 401/])).toEqual([]);
  });
});
