import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatedApiKey } from "../../protocol/accounts.ts";
import { launchBrowser, newContext, PageProblems, signInWithPassword } from "../support/browser.ts";
import { Fleet } from "../support/fleet.ts";
import { ANY_JSON, HubSession } from "../support/hub-session.ts";

/**
 * Access that ends, in the dashboard: a new password (with "also revoke my API keys" ticked) ends the other
 * browsers' sessions, whose open pages are sent to sign-in at once by their live socket closing, and revokes the
 * keys; "Sign out everywhere" with the box ticked does the same for every browser and key.
 */

const ROOT = { email: "root@example.com", name: "Root", password: "root password 0123456789" };
const NEW_PASSWORD = "a brand new password 42";

let fleet: Fleet;
let browser: Browser;
const problems = new PageProblems();

beforeAll(async () => {
  fleet = await Fleet.start();
  browser = await launchBrowser();
  await new HubSession(fleet.hub.url).post("/api/setup", { setupCode: fleet.hub.adminKey, ...ROOT }, ANY_JSON, 201);
});

afterAll(async () => {
  if (problems.unexpected([/401/]).length) console.error(`problems: ${problems.seen.join("\n")}`);
  await browser?.close();
  await fleet?.close();
});

async function signedInPage(password: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser, fleet.hub.url);
  const page = problems.watch(await context.newPage());
  await signInWithPassword(page, ROOT.email, password);
  return { context, page };
}

async function newKey(password: string): Promise<string> {
  const session = new HubSession(fleet.hub.url);
  await session.post("/api/auth/login", { email: ROOT.email, password }, ANY_JSON);
  return (await session.post("/api/auth/api-keys", { name: "ci", scope: "read" }, CreatedApiKey, 201)).key;
}

async function keyWorks(key: string): Promise<boolean> {
  return (await fetch(`${fleet.hub.url}/api/auth/me`, { headers: { Authorization: `Bearer ${key}` } })).status === 200;
}

describe("ending access from the dashboard", () => {
  it("a new password with the box ticked signs the other browsers out at once and revokes the API keys", async () => {
    const key = await newKey(ROOT.password);
    const here = await signedInPage(ROOT.password);
    const elsewhere = await signedInPage(ROOT.password);

    await here.page.goto("/settings");
    await here.page.getByLabel("Current password").fill(ROOT.password);
    await here.page.getByLabel(/^New password \(/).fill(NEW_PASSWORD);
    await here.page.getByLabel("New password again").fill(NEW_PASSWORD);
    await here.page.locator("#pw-revoke-keys").check();
    await here.page.getByRole("button", { name: "Change password" }).click();
    await expect.poll(() => here.page.getByText(/^Password changed;/).textContent(), { timeout: 15_000 }).toMatch(/^Password changed; \d+ other sessions signed out, 1 API key revoked\.$/);

    // The other browser was on /machines with its live socket open: it is sent to sign-in without a reload.
    await elsewhere.page.waitForURL(/\/signin/, { timeout: 15_000 });
    expect(await keyWorks(key)).toBe(false);
    expect(here.page.url()).toMatch(/\/settings\/account$/);
    await here.context.close();
    await elsewhere.context.close();
  });

  it("sign out everywhere with the box ticked ends every browser and revokes the keys", async () => {
    const key = await newKey(NEW_PASSWORD);
    const here = await signedInPage(NEW_PASSWORD);
    const elsewhere = await signedInPage(NEW_PASSWORD);
    await here.page.goto("/settings");
    here.page.once("dialog", (d) => void d.accept());
    await here.page.locator("#all-revoke-keys").check();
    await here.page.getByRole("button", { name: "Sign out everywhere" }).click();
    await here.page.waitForURL(/\/signin/, { timeout: 15_000 });
    await elsewhere.page.waitForURL(/\/signin/, { timeout: 15_000 });
    expect(await keyWorks(key)).toBe(false);
    await here.context.close();
    await elsewhere.context.close();
  });
});
