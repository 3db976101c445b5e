import { mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, newContext, PageProblems, screenshot, signInWithPassword } from "../support/browser.ts";
import { Fleet } from "../support/fleet.ts";

/**
 * The /roosts pages in headless Chromium against a real hub and real agents: roosts and versions with what
 * changed, a deployment held by its canary promoted from the page, and a rollback started from the page, all under
 * the dashboard's strict Content-Security-Policy.
 */
const ADMIN = { name: "Rosa Roost", email: "rosa@example.com", password: "roost password 123456" };

let fleet: Fleet;
let browser: Browser;
let page: Page;
let project: string;
let base: string;
const problems = new PageProblems();

function eventually<T>(probe: () => Promise<T> | T) {
  return expect.poll(probe, { timeout: 20_000 });
}

async function push(message: string): Promise<void> {
  await fleet.cortex.json(["roost", "push", project, "--roost", "web", "-m", message]);
}

beforeAll(async () => {
  fleet = await Fleet.start();
  project = fleet.dirs.make("cortex-roost-web-");
  base = fleet.dirs.make("cortex-roost-dash-");
  mkdirSync(join(project, "css"));
  writeFileSync(join(project, "index.html"), "<h1>one</h1>\n");
  writeFileSync(join(project, "css/site.css"), "body{}\n");
  await push("first");
  writeFileSync(join(project, "index.html"), "<h1>two</h1>\n");
  writeFileSync(join(project, "about.html"), "about\n");
  await push("second");
  for (const node of ["d1", "d2"]) await fleet.connectedNode(node, "root");

  const setup = await fetch(`${fleet.hub.url}/api/setup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ setupCode: fleet.hub.adminKey, ...ADMIN }),
  });
  expect(setup.status).toBe(201);
  browser = await launchBrowser();
  page = problems.watch(await (await newContext(browser, fleet.hub.url)).newPage());
  await signInWithPassword(page, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  if (problems.seen.length) console.error(`problems: ${problems.seen.join("\n")}`);
  await browser?.close();
  await fleet?.close();
});

describe("the roost pages", () => {
  it("list the roosts, and a roost's versions with what each one changed", async () => {
    await page.getByRole("link", { name: "Roosts" }).click();
    await page.waitForURL(/\/roosts$/);
    await page.getByRole("link", { name: "web" }).click();
    await page.waitForURL(/\/roosts\/web$/);
    const rows = page.locator("table.versions tbody tr");
    await eventually(() => rows.count()).toBe(2);
    await expect.poll(() => rows.first().textContent()).toMatch(/^2.*\+1 ~1 −0.*second/);
    await rows.first().locator("summary").click();
    await eventually(() => rows.first().locator(".changes li").allTextContents()).toEqual(["+ about.html", expect.stringMatching(/^~ index\.html/)]);
    await screenshot(page, "roosts");
  });

  it("shows a deployment held by its canary, and promotes it from the page", async () => {
    const failOnD1 = 'case "$PWD" in */d1/*) exit 4;; esac';
    const started = await fleet.cortex.run([
      "roost",
      "deploy",
      "web@2",
      "--nodes",
      "d1,d2",
      "--path",
      join(base, "{node}"),
      "--canary",
      "50%",
      "--abort-above",
      "100%",
      "--after",
      failOnD1,
      "--no-wait",
    ]);
    expect(started.code, started.stderr).toBe(0);
    const id = started.stdout.trim();
    await page.goto(`/roosts/deployment/${id}`);
    await eventually(() => page.locator("[role=status] .badge").textContent()).toBe("held");
    await eventually(() => page.locator('tr[data-node="d1"] .badge').textContent()).toBe("failed");
    expect(await page.locator('tr[data-node="d2"] .badge').textContent()).toBe("pending");
    await screenshot(page, "roost-deployment-held");

    await page.getByRole("button", { name: "Promote" }).click();
    await eventually(() => page.locator('tr[data-node="d2"] .badge').textContent()).toBe("done");
    await eventually(() => page.locator("[role=status] .badge").textContent()).toBe("completed");
    expect(readlinkSync(join(base, "d2", "current"))).toBe("versions/2");
  });

  it("rolls machines back from the roost page", async () => {
    const first = await fleet.cortex.run(["roost", "deploy", "web@1", "--nodes", "d2", "--path", join(base, "{node}"), "--canary", "0"], 60_000);
    expect(first.code, first.stderr).toBe(0);
    const again = await fleet.cortex.run(["roost", "deploy", "web@2", "--nodes", "d2", "--path", join(base, "{node}"), "--canary", "0"], 60_000);
    expect(again.code, again.stderr).toBe(0);

    await page.goto("/roosts/web");
    const form = page.locator("form.rollback");
    await form.getByLabel("Version").selectOption("1");
    await form.getByLabel(/Machines/).fill("d2");
    await form.getByRole("button", { name: "Roll back to version 1" }).click();
    await page.waitForURL(/\/roosts\/deployment\/r-/);
    await eventually(() => page.locator("[role=status] .badge").textContent()).toBe("completed");
    expect(await page.locator('tr[data-node="d2"] .badge').textContent()).toBe("done");
    expect(readlinkSync(join(base, "d2", "current"))).toBe("versions/1");
  });

  it("broke no Content-Security-Policy rule and raised no error on the way", () => {
    expect(problems.cspViolations()).toEqual([]);
    // The one error allowed is the hub's 401 to the sign-in page asking who is signed in, before anyone is.
    expect(problems.unexpected([/status of 401/])).toEqual([]);
  });
});
