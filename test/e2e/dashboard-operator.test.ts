import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatedInvite } from "../../protocol/accounts.ts";
import { DirectiveView } from "../../protocol/api.ts";
import { launchBrowser, newContext, PageProblems, screenshot } from "../support/browser.ts";
import { Fleet, type AgentHandle } from "../support/fleet.ts";

/**
 * What a daily operator meets in the dashboard, in headless Chromium against a real hub and real agents: an
 * activity log with one live entry per directive, a page per directive and a history, machines sorted any way,
 * a console that opens on what the machine allows, charts over a chosen period, a fan-out previewed and confirmed,
 * settings at their own addresses, a phone layout, focus that follows navigation, and a dark theme that stays legible.
 */

const HEARTBEAT_MS = 1_000;
const ADMIN = { name: "Olga Operator", email: "olga@example.com", password: "operator password 123" };
const ALICE = { name: "Alice Member", email: "alice@example.com", password: "alice password 12345" };
const BOB = { name: "Bob Member", email: "bob@example.com", password: "bob password 1234567" };

let fleet: Fleet;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
let web: AgentHandle;
const problems = new PageProblems();

function eventually<T>(probe: () => Promise<T> | T, timeout = 15_000) {
  return expect.poll(probe, { timeout });
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${fleet.hub.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
}

async function signIn(context: BrowserContext, who: { email: string; password: string }): Promise<Page> {
  const p = problems.watch(await context.newPage());
  // The form is there once the document is; the favicon and late chunks need not hold a loaded machine up.
  await p.goto("/signin", { waitUntil: "domcontentloaded" });
  await p.getByLabel("Email").fill(who.email);
  await p.getByLabel("Password").fill(who.password);
  await p.getByRole("button", { name: "Sign in", exact: true }).click();
  await p.waitForURL(/\/machines$/);
  return p;
}

/** A member joins by an invite the bootstrap key creates, choosing a password. */
async function invite(who: { name: string; email: string; password: string }): Promise<void> {
  const created = await post("/api/sites/default/invites", { email: who.email, role: "member" }, { Authorization: `Bearer ${fleet.hub.adminKey}` });
  const token = new URL(CreatedInvite.parse(await created.json()).url).pathname.split("/").pop()!;
  const accepted = await post("/api/invites/accept", { token, name: who.name, password: who.password });
  expect(accepted.status).toBe(201);
}

/** The ratio between two CSS colours' relative luminances, as WCAG computes it. */
function contrastScript() {
  return (pairs: string[][]): [string, number][] => {
    const doc = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document;
    const style = (globalThis as unknown as { getComputedStyle(e: unknown): { color: string; backgroundColor: string } }).getComputedStyle;
    const rgb = (css: string) => (css.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
    const lum = (c: number[]) => {
      const [r, g, b] = c.map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    /** The first ancestor (or the element) with a background that is not transparent. */
    const background = (el: unknown): string => {
      let node = el as { parentElement: unknown } | null;
      while (node) {
        const bg = style(node).backgroundColor;
        if (!/rgba\(.*, 0\)$/.test(bg) && bg !== "transparent") return bg;
        node = node.parentElement as { parentElement: unknown } | null;
      }
      return "rgb(255, 255, 255)";
    };
    return pairs.map(([label, selector]): [string, number] => {
      const el = doc.querySelector(selector!);
      if (!el) return [label!, 0];
      const a = lum(rgb(style(el).color));
      const b = lum(rgb(background(el)));
      return [label!, Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100];
    });
  };
}

beforeAll(async () => {
  fleet = await Fleet.start();
  const setup = await post("/api/setup", { setupCode: fleet.hub.adminKey, ...ADMIN });
  expect(setup.status).toBe(201);
  const creds = await fleet.api.register({ name: "Web server", id: "web-1", tier: "root", group: "front" });
  web = fleet.startAgent({ token: creds.token, tier: "root", heartbeatMs: HEARTBEAT_MS });
  await fleet.waitForStatus("web-1", "connected", 30_000, web.proc);
  await fleet.connectedNode("sandboxed", "unprivileged", { group: "front" });
  await fleet.register("spare", "sudo", "back");
  await invite(ALICE);
  await invite(BOB);
  browser = await launchBrowser();
  admin = await newContext(browser, fleet.hub.url);
  page = await signIn(admin, ADMIN);
});

afterAll(async () => {
  if (problems.seen.length) console.error(`problems: ${problems.seen.join("\n")}\nwrangler output:\n${fleet.hub.output.slice(-6000)}`);
  await browser?.close();
  await fleet?.close();
});

describe("machines", () => {
  it("shows a machine that never connected as waiting for its first connection, and sorts by any column", async () => {
    const row = (id: string) => page.locator(`tr[data-node="${id}"]`);
    await eventually(() => row("spare").locator(".badge").textContent()).toBe("waiting for first connection");
    await eventually(() => row("web-1").locator(".badge").textContent()).toBe("connected");
    const order = () => page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { node: string } }).dataset.node));
    expect(await order()).toEqual(["sandboxed", "spare", "web-1"]);

    await page.getByRole("button", { name: "Machine" }).click();
    await eventually(order).toEqual(["web-1", "spare", "sandboxed"]);
    expect(page.url()).toContain("sort=name&dir=desc");
    expect(await page.locator('th[aria-sort="descending"]').textContent()).toContain("Machine");

    await page.getByRole("button", { name: "Status" }).click();
    await eventually(order).toEqual(["sandboxed", "web-1", "spare"]);
    await page.getByRole("button", { name: "Group" }).click();
    await eventually(order).toEqual(["spare", "sandboxed", "web-1"]);
    await page.getByRole("button", { name: "Group" }).click();
    await eventually(order).toEqual(["sandboxed", "web-1", "spare"]);
    await page.goto("/machines");
    await eventually(() => row("spare").count()).toBe(1);
  });

  it("opens an unprivileged machine's console on a read, offers only what its tier permits, and lists those actions", async () => {
    await page.goto("/machines/sandboxed");
    await eventually(() => page.locator("#console-action").count()).toBe(1);
    const offered = await page.locator("#console-action option").evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(offered).toEqual(["read", "glob", "grep"]);
    expect(await page.locator("#console-action").inputValue()).toBe("read");
    expect(await page.locator("#console-command").count()).toBe(0);
    // The file field starts in the sandbox the machine's agent reported.
    const { sandboxRoot } = await fleet.api.node("sandboxed");
    expect(await page.locator("#console-path").inputValue()).toBe(`${sandboxRoot}/`);
    const facts = await page.locator("dl.facts").textContent();
    // Said whichever way is shorter: the actions it permits, or every action but the ones it refuses.
    const permits = /Actions it permits(.*?)Token/.exec(facts ?? "")?.[1] ?? "";
    const refused = permits.startsWith("every action but ") ? permits.slice("every action but ".length).split(", ") : null;
    if (refused) {
      expect(refused).toEqual(expect.arrayContaining(["bash", "write", "edit", "run.launch"]));
      expect(refused).not.toContain("read");
    } else {
      expect(permits.split(", ")).toEqual(expect.arrayContaining(["read", "glob", "grep"]));
      expect(permits).not.toMatch(/\bbash\b/);
    }

    await page.goto("/machines/web-1");
    await eventually(() => page.locator("#console-action").inputValue()).toBe("bash");
    expect(await page.locator("dl.facts").textContent()).toMatch(/Actions it permitsevery action(?! but)/);
    await page.goto("/machines/spare");
    await eventually(() => page.locator("dl.facts").textContent()).toMatch(/Actions it permitsevery action but system\.cancel_shutdown, system\.reboot, system\.shutdown/);
  });

  it("draws the charts over a chosen period, zoomed to the data, with the latest values written out", async () => {
    await page.goto("/machines/web-1");
    await eventually(() => page.locator("figure.chart").count(), 30_000).toBeGreaterThanOrEqual(3);
    const latest = page.locator("figure.chart").first().locator(".chart-latest");
    await eventually(() => latest.textContent()).toMatch(/average \d+\.\d%\s+peak \d+\.\d%/);
    expect(await page.locator("#history-title").textContent()).toBe("Last 24 hours");
    for (const [button, heading] of [
      ["7d", "Last 7 days"],
      ["1h", "Last 1 hour"],
      ["6h", "Last 6 hours"],
    ] as const) {
      await page.getByRole("button", { name: button, exact: true }).click();
      await eventually(() => page.locator("#history-title").textContent()).toBe(heading);
      expect(await page.getByRole("button", { name: button, exact: true }).getAttribute("aria-pressed")).toBe("true");
      await eventually(() => page.locator("figure.chart .chart-latest strong").first().textContent()).toMatch(/^\d+\.\d%$/);
    }
    expect(page.url()).toContain("range=6h");
    // Zoomed to the data: the machine has been up a minute or two, so the chart starts there, not 6 hours back.
    const from = Number(await page.locator("figure.chart").first().getAttribute("data-from"));
    expect(Date.now() - from).toBeLessThan(20 * 60_000);
    expect(from).toBeLessThanOrEqual(Date.now());
  });
});

describe("the activity log and directive history", () => {
  let directiveId = "";

  it("shows one entry per directive that changes in place when it ends, live, with secrets redacted and the id linked", async () => {
    await page.goto("/logs");
    await eventually(() => page.locator("table.activity tbody tr").count()).toBeGreaterThan(0);
    const secret = "s3cr3t-value-do-not-show";
    const running = fleet.api.runDirective("web-1", { action: "bash", params: { command: `API_TOKEN=${secret} sh -c 'sleep 2; echo done-$((20+3))'` } });
    const row = page.locator("table.activity tbody tr", { hasText: "sleep 2" });
    await eventually(() => row.count()).toBe(1);
    expect(await row.locator("td.message .entry-text").textContent()).toMatch(/: (started|running)/);
    const view: DirectiveView = await running;
    directiveId = view.id;
    await eventually(() => row.locator("td.message .entry-text").textContent()).toMatch(/: done \(exit 0\) in/);
    expect(await row.count()).toBe(1);
    const text = await row.locator("td.message .entry-text").textContent();
    expect(text).toMatch(/^admin key ran bash "API_TOKEN=\[REDACTED:secret setting\] sh -c 'sleep 2; echo done-\$\(\(20\+3\)\)'" on Web server \(web-1\): done/);
    expect(text).toContain("[REDACTED:");
    expect(await page.locator("table.activity").textContent()).not.toContain(secret);
    expect(await row.locator('td[data-label="Machine"]').textContent()).toBe("Web server");
    expect(await row.locator(".level-badge-info").count()).toBe(1);

    const failing = fleet.api.runDirective("web-1", { action: "bash", params: { command: "echo about to fail; exit 3" } });
    const failed = page.locator("table.activity tbody tr", { hasText: "about to fail" });
    await failing;
    await eventually(() => failed.locator(".badge").first().textContent()).toBe("warn");
    await screenshot(page, "activity-logs");

    await row.getByRole("link", { name: /^d-/ }).click();
    await page.waitForURL(new RegExp(`/directives/${directiveId}$`));
  });

  it("shows a directive's parameters, timeline, output, exit code and who ran it, and moves the focus to its heading", async () => {
    await eventually(() => page.locator("#directive-title").textContent()).toBe("bash on Web server");
    await eventually(() => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe("directive-title");
    expect(await page.locator(".params").textContent()).toContain("sleep 2");
    const steps = await page.locator(".timeline li .timeline-step").allTextContents();
    expect(steps).toEqual(["queued", "sent", "running", "ended: done"]);
    expect(await page.locator(".timeline time").count()).toBe(4);
    expect(await page.locator(".console-output").textContent()).toBe("done-23\n");
    expect(await page.locator(".outcome").textContent()).toContain("exit 0");
    expect(await page.locator("dl.facts").textContent()).toContain("admin key");
  });

  it("lists every directive with the API's filters, names for machines, and each linked to its page", async () => {
    await page.getByRole("link", { name: "Directives", exact: true }).first().click();
    await page.waitForURL(/\/directives$/);
    await eventually(() => page.locator("table.history tbody tr").count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator(`tr[data-directive="${directiveId}"] td[data-label="Machine"]`).textContent()).toBe("Web server");
    await page.locator("#history-status").selectOption("done");
    // One read, polled until the filtered list has replaced the whole one (a second read could catch it re-rendering).
    await eventually(async () => new Set(await page.locator('table.history td[data-label="Outcome"] .badge').allTextContents())).toEqual(new Set(["done"]));
    await page.locator("#history-node").selectOption("sandboxed");
    await eventually(() => page.getByText("No directives match these filters.").count()).toBe(1);
    expect(page.url()).toMatch(/status=done.*node=sandboxed|node=sandboxed.*status=done/);
  });
});

describe("run on many", () => {
  it("previews the machines by name, confirms a shell command with the count, and names each result", async () => {
    await page.goto("/run");
    const preview = page.locator(".preview");
    await eventually(() => preview.textContent()).toContain("2 machines will be asked");
    expect(await preview.textContent()).toContain("1 offline machine will not (spare)");
    expect(await page.locator(".preview-list li").allTextContents()).toEqual(expect.arrayContaining(["Web server", "sandboxed"]));

    await page.getByLabel("A group").check();
    await page.locator(".target select").selectOption("back");
    await eventually(() => preview.textContent()).toContain("1 machine will be asked");
    expect(await page.getByRole("button", { name: "Run on 1 machine" }).count()).toBe(1);
    expect(await page.locator(".preview-list li").textContent()).toContain("waiting for first connection");

    await page.locator(".target select").selectOption("front");
    await page.locator("#many-command").fill("echo from $(hostname)");
    const messages: string[] = [];
    page.once("dialog", (dialog) => (messages.push(dialog.message()), void dialog.dismiss()));
    await page.getByRole("button", { name: "Run on 2 machines" }).click();
    await eventually(() => messages.length).toBe(1);
    expect(messages[0]).toContain("on 2 machines?");
    expect(messages[0]).toContain("echo from $(hostname)");
    expect(await page.locator(".node-result").count()).toBe(0);

    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Run on 2 machines" }).click();
    await eventually(() => page.locator(".aggregate").textContent(), 30_000).toMatch(/2\s*machines/);
    expect(await page.locator('.node-result[data-node="web-1"] .node-result-name').textContent()).toBe("Web server");
    await screenshot(page, "run-on-many", { fullPage: true });

    // Each result links to its directive's page, which lists the other members of the fan-out by name.
    await page.locator('.node-result[data-node="web-1"]').getByRole("link", { name: "details" }).click();
    await eventually(() => page.locator("#directive-title").textContent()).toBe("bash on Web server");
    await eventually(() => page.locator(".fanout-members li").allTextContents()).toEqual([expect.stringMatching(/^sandboxed\s*refused/), expect.stringMatching(/^Web server \(this one\)\s*done/)]);
    expect(await page.locator(".fanout-members").getByRole("link", { name: "sandboxed" }).count()).toBe(1);
    await screenshot(page, "directive", { fullPage: true });
    await page.goto("/run");
    await page.getByLabel("A group").check();
    await page.locator(".target select").selectOption("front");

    await page.locator("#many-action").selectOption("read");
    await page.locator("#many-path").fill("/etc/hostname");
    let asked = false;
    page.once("dialog", (dialog) => ((asked = true), void dialog.dismiss()));
    await page.getByRole("button", { name: "Run on 2 machines" }).click();
    await eventually(() => page.locator('.node-result[data-node="web-1"] .console-output').textContent(), 30_000).toMatch(/^\s*1\t/);
    await eventually(() => page.locator(".aggregate").textContent(), 30_000).toMatch(/1\s*refused by tier/);
    expect(asked).toBe(false);
    page.removeAllListeners("dialog");
  });
});

describe("settings", () => {
  it("has a section per address, lists everyone with access with their role, and asks before revoking an invite", async () => {
    await page.goto("/settings");
    await page.waitForURL(/\/settings\/account$/);
    expect(await page.locator("h1").textContent()).toBe("Settings: Account");
    await page.locator(".subnav").getByRole("link", { name: "API keys" }).click();
    await page.waitForURL(/\/settings\/keys$/);
    await eventually(() => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe("settings-title");
    await page.goto("/settings/members");
    await eventually(() => page.locator("#members-title").count()).toBe(1);
    const role = (email: string) => page.locator("tr", { hasText: email }).locator('td[data-label="Role"]').textContent();
    await eventually(() => role(ADMIN.email)).toContain("superadmin");
    expect(await page.locator("tr", { hasText: ALICE.email }).locator("select").inputValue()).toBe("member");

    await page.getByRole("button", { name: "Create invite" }).click();
    const open = page.locator(".plain-list li", { hasText: "anyone with the link" });
    await eventually(() => open.count()).toBe(1);
    const asked: string[] = [];
    page.once("dialog", (dialog) => (asked.push(dialog.message()), void dialog.dismiss()));
    await open.getByRole("button", { name: "Revoke" }).click();
    await eventually(() => asked.length).toBe(1);
    expect(asked[0]).toContain("Revoke the invite");
    expect(await open.count()).toBe(1);
    page.once("dialog", (dialog) => void dialog.accept());
    await open.getByRole("button", { name: "Revoke" }).click();
    await eventually(() => open.count()).toBe(0);
    await screenshot(page, "settings-members", { fullPage: true });
  });

  it("says why a passkey cannot be added on an IP address, and where it can", async () => {
    await page.goto("/settings/account");
    const note = page.locator(".notice", { hasText: "Passkeys cannot be added here" });
    await eventually(() => note.count()).toBe(1);
    expect(await note.textContent()).toContain("127.0.0.1, an IP address");
    expect(await note.getByRole("link").getAttribute("href")).toBe(fleet.hub.url.replace("127.0.0.1", "localhost") + "/settings/account");
    expect(await page.getByRole("button", { name: "Add a passkey" }).count()).toBe(0);
  });
});

describe("access events", () => {
  it("reach the admins live, and a member sees their own but never another person's", async () => {
    await page.goto("/logs?kind=access");
    await eventually(() => page.locator("table.activity, .empty").count()).toBe(1);
    const bobContext = await newContext(browser, fleet.hub.url);
    const bob = await signIn(bobContext, BOB);
    const wrong = await post("/api/auth/login", { email: ALICE.email, password: "not alice's password" });
    expect(wrong.status).toBe(401);

    await eventually(() => page.locator("table.activity td.message .entry-text").allTextContents()).toEqual(
      expect.arrayContaining([`failed sign-in as ${ALICE.email}: wrong email or password`, `${BOB.email} signed in with a password`]),
    );
    await bob.goto("/logs?kind=access");
    await eventually(() => bob.locator("table.activity td.message .entry-text").allTextContents()).toEqual(expect.arrayContaining([`${BOB.email} signed in with a password`]));
    const seen = (await bob.locator("table.activity td.message .entry-text").allTextContents()).join("\n");
    expect(seen).not.toContain(ALICE.email);
    await screenshot(bob, "member-activity");
    await bobContext.close();
  });
});

describe("on a phone and in the dark", () => {
  it("keeps the header compact behind a Menu button that opens the navigation", async () => {
    const phone = await newContext(browser, fleet.hub.url, { width: 390, height: 844 });
    const p = await signIn(phone, ADMIN);
    const nav = p.getByRole("navigation", { name: "Main" });
    expect(await nav.isVisible()).toBe(false);
    const header = await p.locator("header.topbar").boundingBox();
    expect(header!.height).toBeLessThan(70);
    const menu = p.getByRole("button", { name: "Menu" });
    expect(await menu.getAttribute("aria-expanded")).toBe("false");
    await menu.click();
    expect(await menu.getAttribute("aria-expanded")).toBe("true");
    expect(await nav.isVisible()).toBe(true);
    await screenshot(p, "phone-menu");
    await nav.getByRole("link", { name: "Activity" }).click();
    await p.waitForURL(/\/logs$/);
    expect(await nav.isVisible()).toBe(false);
    await eventually(() => p.locator("table.activity tbody tr").count()).toBeGreaterThan(0);
    const overflow = await p.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(p, "activity-phone");
    await phone.close();
  });

  it("follows the system's dark setting, with text that keeps its contrast", async () => {
    for (const scheme of ["light", "dark"] as const) {
      const context = await browser.newContext({ baseURL: fleet.hub.url, viewport: { width: 1280, height: 800 }, colorScheme: scheme, reducedMotion: "reduce" });
      const p = await signIn(context, ADMIN);
      await eventually(() => p.locator('tr[data-node="web-1"] .badge').textContent()).toBe("connected");
      const background = await p.evaluate(() => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle((globalThis as unknown as { document: { documentElement: unknown } }).document.documentElement).backgroundColor);
      expect(background, scheme).toBe(scheme === "dark" ? "rgb(13, 17, 23)" : "rgb(246, 247, 249)");
      const ratios = await p.evaluate(contrastScript(), [
        ["body text", "tbody th a"],
        ["muted text", ".page-head .muted"],
        ["current page in the menu", '.topbar nav a[aria-current="page"]'],
        ["connected badge", ".tone-ok"],
        ["waiting badge", ".tone-pending"],
        ["table header", "thead th button.sort"],
        ["primary button", ".page-head .button"],
      ]);
      for (const [label, ratio] of ratios) expect(ratio, `${scheme}: ${label}`).toBeGreaterThanOrEqual(4.5);
      if (scheme === "dark") {
        await screenshot(p, "machines-dark");
        await p.goto("/logs");
        await eventually(() => p.locator("table.activity tbody tr").count()).toBeGreaterThan(0);
        const logRatios = await p.evaluate(contrastScript(), [
          ["info level", ".level-badge-info"],
          ["warning level", ".level-badge-warn"],
          ["link to a directive", ".entry-link"],
        ]);
        for (const [label, ratio] of logRatios) expect(ratio, `${scheme}: ${label}`).toBeGreaterThanOrEqual(4.5);
        await screenshot(p, "activity-dark");
        // The unprivileged machine: its directives carry no test secret, which an admin would see whole.
        await p.goto("/machines/sandboxed");
        await eventually(() => p.locator("figure.chart").count(), 30_000).toBeGreaterThanOrEqual(3);
        await screenshot(p, "machine-detail-dark", { fullPage: true });
      }
      await context.close();
    }
  });

  it("ran everything without a page error or a Content-Security-Policy violation", () => {
    expect(problems.cspViolations()).toEqual([]);
    // The only errors allowed are answers the flows provoke: none here besides the sign-in page's first 401.
    expect(problems.unexpected([/status of 401/])).toEqual([]);
  });
});
