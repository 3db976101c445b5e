import { tmpdir } from "node:os";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { REPO_ROOT } from "./test-hub.ts";

/** Debian's Chromium (`apt-get install chromium`); playwright-core never downloads a browser of its own. */
export const CHROMIUM = process.env.CORTEX_CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = join(REPO_ROOT, "docs", "screenshots");

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it with apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/**
 * What went wrong inside the pages of a context: uncaught errors and console errors, among them every
 * Content-Security-Policy violation (Chromium reports those on the console). Failed API answers the test provokes
 * on purpose are console errors too, so they can be let through by pattern.
 */
export class PageProblems {
  readonly seen: string[] = [];

  watch(page: Page): Page {
    page.on("pageerror", (err) => this.seen.push(`page error: ${err.message}`));
    page.on("response", (res) => {
      if (res.status() >= 500) this.seen.push(`server error: ${res.status()} ${res.request().method()} ${res.url()}`);
    });
    page.on("console", (msg) => {
      if (msg.type() === "error") this.seen.push(`console: ${msg.text()}`);
    });
    return page;
  }

  /** Problems other than those matching `allowed`. */
  unexpected(allowed: RegExp[] = []): string[] {
    return this.seen.filter((p) => !allowed.some((re) => re.test(p)));
  }

  cspViolations(): string[] {
    return this.seen.filter((p) => /Content Security Policy/i.test(p));
  }
}

export async function newContext(browser: Browser, baseURL: string, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport, reducedMotion: "reduce", colorScheme: "light" });
}

/**
 * Takes a screenshot of the page. With CORTEX_SCREENSHOTS=1 it refreshes the README's docs/screenshots/<name>.png;
 * otherwise it goes to a temporary folder, so an ordinary test run leaves the work tree as it was.
 */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  const dir = process.env.CORTEX_SCREENSHOTS === "1" ? SCREENSHOTS : join(tmpdir(), "cortex-screenshots");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: options.fullPage ?? false, animations: "disabled" });
  return path;
}

/** Signs in through the sign-in page with a password, and waits for the machines list it leads to. */
export async function signInWithPassword(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/\/machines$/);
}
