import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookupUser } from "../../agent/install/os-accounts.ts";
import { AgentRelease, agentUpdateAvailable } from "../../protocol/agent-release.ts";
import { DirectiveView, NodeCredentials } from "../../protocol/api.ts";
import { sharedTempRoot } from "../support/action-user.ts";
import { launchBrowser, newContext } from "../support/browser.ts";
import { Fleet } from "../support/fleet.ts";
import { ManagedProcess } from "../support/processes.ts";
import { waitFor } from "../support/wait-for.ts";

/**
 * The agent installed the way a machine outside this repository gets it: the hub (wrangler dev) serves
 * /install.sh, which is piped into sh from a folder far from the repository, with nothing on PATH but the system
 * and Node. As root (CI runs as root) the node is at tier sudo, so the installer also creates the action user and
 * writes the sudoers drop-in into /etc/sudoers.d, all removed by the uninstall at the end; otherwise it is
 * unprivileged and the agent runs as the current user.
 */

const ROOT = process.getuid!() === 0;
const TIER = ROOT ? "sudo" : "unprivileged";
const NODE_ID = `inst-${randomBytes(3).toString("hex")}`;
const ACTION_USER = `cortex-${NODE_ID}`;
const SUDOERS = `/etc/sudoers.d/cortex-${NODE_ID}`;
/** What sudo keeps on PATH, plus wherever this Node lives: a machine with the system and Node, nothing of ours. */
const MACHINE_PATH = [...new Set([dirname(process.execPath), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])].join(":");

let fleet: Fleet;
let release: AgentRelease;
let creds: NodeCredentials;
/** The machine: a home and working folder outside the repository, and the install's prefix inside it. */
let machine: string;
let prefix: string;
let tokenFile: string;
let agent: ManagedProcess | null = null;
/** How the installer said to run the agent. */
let runLine: string[] = [];

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function machineEnv(): Record<string, string> {
  return { PATH: MACHINE_PATH, HOME: machine, LANG: "C.UTF-8" };
}

/** Runs a shell command line on "the machine", optionally feeding `stdin` (the script, as `curl | sh` does). */
function onMachine(line: string, stdin?: string): Promise<Outcome> {
  const child = spawn("/bin/sh", ["-c", line], { cwd: machine, env: machineEnv(), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t));
  child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
  child.stdin.end(stdin ?? "");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/**
 * Runs a line on a terminal of its own (`script` gives it a pty), as a person types it, and answers `answer` once
 * `prompt` shows: what is read from /dev/tty, as the installer's token prompt is.
 */
function onTerminal(line: string, prompt: string, answer: string): Promise<Outcome & { prompted: boolean }> {
  const child = spawn("script", ["-q", "-e", "-c", line, "/dev/null"], { cwd: machine, env: machineEnv(), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let prompted = false;
  child.stdout.setEncoding("utf8").on("data", (t: string) => {
    stdout += t;
    if (!prompted && stdout.includes(prompt)) {
      prompted = true;
      child.stdin.write(`${answer}\r`);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
  return new Promise((resolve) => child.on("close", (code) => (child.stdin.end(), resolve({ code, stdout, stderr, prompted }))));
}

/** The line the hub printed, run as root already (no sudo), with the options of a test install. */
function installLine(extra: string): string {
  return `${creds.installCommand.replace("| sudo sh", "| sh")} --no-service --prefix ${prefix} ${extra}`;
}

/** The command the installer printed for running the agent without a service. */
function runCommand(output: string): string[] {
  const line = /run the agent with:\n\s+(.+)\n/.exec(output)?.[1];
  if (!line) throw new Error(`the installer printed no run command:\n${output}`);
  return line.split(" ");
}

function startAgent(command: string[]): ManagedProcess {
  agent = fleet.procs.add(new ManagedProcess("installed agent", command[0]!, command.slice(1), { cwd: machine, env: machineEnv() }));
  return agent;
}

async function stopAgent(): Promise<void> {
  if (!agent) return;
  agent.signal("SIGTERM");
  await agent.waitForExit(20_000);
  agent = null;
}

async function bash(command: string): Promise<DirectiveView> {
  return fleet.api.runDirective(NODE_ID, { action: "bash", params: { command } });
}

/** Every readable command line and environment on the machine that holds `secret`. */
function processesShowing(secret: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    for (const file of ["cmdline", "environ"]) {
      try {
        if (readFileSync(`/proc/${pid}/${file}`).includes(secret)) found.push(`${pid}/${file}`);
      } catch {
        continue;
      }
    }
  }
  return found;
}

beforeAll(async () => {
  fleet = await Fleet.start();
  release = AgentRelease.parse(await (await fetch(`${fleet.hub.url}/agent/release.json`)).json());
  creds = await fleet.api.register({ name: NODE_ID, id: NODE_ID, tier: TIER });
  // Like /opt, others may pass through it: the action user must reach the bundle and the sandbox in the prefix.
  machine = fleet.dirs.makeUnder(sharedTempRoot(), "cortex-machine-");
  chmodSync(machine, 0o755);
  prefix = join(machine, "opt", "cortex");
  tokenFile = join(machine, "node.token");
  writeFileSync(tokenFile, `${creds.token}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await stopAgent().catch(() => undefined);
  // Whatever a failed test left behind on the machine itself.
  if (existsSync(join(prefix ?? "/nonexistent", "install.json"))) await onMachine(`${prefix}/bin/cortex agent uninstall --prefix ${prefix}`);
  if (ROOT && lookupUser(ACTION_USER) !== null) execFileSync("userdel", [ACTION_USER]);
  if (ROOT) rmSync(SUDOERS, { force: true });
  await fleet?.close();
});

describe("installing the agent from the hub", () => {
  it("serves the script and the bundle to anyone, the release to signed-in callers only, and no page for a bundle it does not have", async () => {
    const script = await fetch(`${fleet.hub.url}/install.sh`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await script.text()).toContain(`AGENT_SHA256='${release.sha256}'`);
    const bundle = await fetch(`${fleet.hub.url}${release.bundle}`);
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBe(release.bytes);
    expect((await fetch(`${fleet.hub.url}/agent/cortex-000000000000.mjs`)).status).toBe(404);
    expect((await fetch(`${fleet.hub.url}/api/sites/default/agent`)).status).toBe(401);
    const served = await fleet.api.raw("GET", "/api/sites/default/agent");
    expect(AgentRelease.parse(served.json)).toEqual(release);
  });

  it("refuses, installing nothing: a token on the command line, a bundle whose checksum does not match, a Node older than 20", async () => {
    const onCommandLine = await onMachine(installLine(`--token ${creds.token}`));
    expect(onCommandLine.code).toBe(1);
    expect(onCommandLine.stderr).toMatch(/error: the token is not accepted on the command line, where ps and your shell history show it/);

    const script = await (await fetch(`${fleet.hub.url}/install.sh`)).text();
    const tampered = script.replace(release.sha256, "0".repeat(64));
    const mismatch = await onMachine(`sh -s -- --endpoint ${fleet.hub.url}/api/sites/default --tier ${TIER} --no-service --prefix ${prefix} --token-file ${tokenFile}`, tampered);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain(`has SHA-256 ${release.sha256}, not ${"0".repeat(64)} as this script expects; nothing was installed`);

    const oldNode = join(machine, "node18");
    writeFileSync(oldNode, "#!/bin/sh\necho 18\n", { mode: 0o755 });
    const tooOld = await onMachine(installLine(`--token-file ${tokenFile} --node ${oldNode}`));
    expect(tooOld.code).toBe(1);
    expect(tooOld.stderr).toContain(`Node.js 20 or newer is needed; '${oldNode}' is 18`);

    const loose = join(machine, "loose.token");
    writeFileSync(loose, creds.token, { mode: 0o644 });
    const looseFile = await onMachine(installLine(`--token-file ${loose}`));
    expect(looseFile.stderr).toContain(`error: token file ${loose}: mode 0644 lets group or others read it; run chmod 600 ${loose}`);
    rmSync(loose);

    expect(existsSync(prefix)).toBe(false);
  });

  it("installs with the hub's one line into a prefix, and the agent connects with the token from its file, which no process shows", async () => {
    const installed = await onMachine(installLine(`--token-file ${tokenFile}`));
    expect(installed.stderr).toBe(`cortex install: agent ${release.version} downloaded from ${fleet.hub.url} and verified\n`);
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain(`Installed the Cortex agent ${release.version} for node ${NODE_ID} in ${prefix} (tier ${TIER}`);
    expect(installed.stdout).not.toContain(creds.token);
    expect(statSync(join(prefix, "etc", "token")).mode & 0o777).toBe(0o600);

    runLine = runCommand(installed.stdout);
    const proc = startAgent(runLine);
    const view = await fleet.waitForStatus(NODE_ID, "connected", 60_000, proc);
    expect(view.version).toBe(release.version);
    expect(view.sandboxRoot).toBe(join(prefix, "sandbox"));
    expect(processesShowing(creds.token)).toEqual([]);
    expect(readFileSync(`/proc/${proc.pid}/cmdline`, "utf8")).toContain(join(prefix, "lib", "cortex.mjs"));
  });

  it.skipIf(!ROOT)("runs actions as the user it created, with sudo for the package managers only, out of reach of the token (as root; skipped otherwise)", async () => {
    expect((await bash("id -un")).output?.trim()).toBe(ACTION_USER);
    const env = await bash("env");
    expect(env.status).toBe("done");
    expect(env.output).not.toContain(creds.token);
    expect(env.output).not.toMatch(/CORTEX_(NODE_TOKEN|ENDPOINT|API_KEY)/);
    const token = await bash(`cat ${join(prefix, "etc", "token")}`);
    expect(token.status).toBe("failed");
    expect(token.output).toContain("Permission denied");
    expect((await bash("sudo -n apt-get --version")).status).toBe("done");
    // File actions run in the action worker, which the bundle also starts from itself, as the action user.
    const manifest = await fleet.api.runDirective(NODE_ID, { action: "read", params: { path: join(prefix, "install.json") } });
    expect(manifest.status).toBe("done");
    expect(manifest.output).toContain(`"nodeId": "${NODE_ID}"`);
    const tokenRead = await fleet.api.runDirective(NODE_ID, { action: "read", params: { path: join(prefix, "etc", "token") } });
    expect(tokenRead.status).not.toBe("done");
    expect(JSON.stringify(tokenRead)).not.toContain(creds.token);
    expect(readFileSync(SUDOERS, "utf8")).toContain(`${ACTION_USER} ALL=(root) NOPASSWD: `);
  });

  it.skipIf(TIER === "unprivileged")("runs a long run from the bundle: its watcher is the same one file (needs a shell: tier sudo, as root)", async () => {
    const launched = await fleet.api.runDirective(NODE_ID, { action: "run.launch", params: { command: "echo from-the-watcher" } });
    expect(launched.status).toBe("done");
    const runId = (launched.data as { runId: string }).runId;
    const finished = await waitFor(
      "the long run to finish",
      async () => {
        const status = await fleet.api.runDirective(NODE_ID, { action: "run.status", params: { runId } });
        const data = status.data as { state: string } | null;
        return data && data.state !== "running" ? status : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(finished.data).toMatchObject({ state: "done", exitCode: 0 });
    expect(finished.output).toContain("from-the-watcher");
  });

  it("flags an older agent in the API and on the dashboard, and upgrades it in place with the same token, user and state", async () => {
    await stopAgent();
    // An agent installed from an older hub: the same file with an older version in it.
    const bundle = join(prefix, "lib", "cortex.mjs");
    const older = "0.0.1+0123456789ab";
    writeFileSync(bundle, readFileSync(bundle, "utf8").replaceAll(release.version, older));
    const outdated = await fleet.waitForStatus(NODE_ID, "connected", 60_000, startAgent(runLine));
    expect(outdated.version).toBe(older);
    expect(agentUpdateAvailable(outdated.version, release.version)).toBe(true);
    await expectDashboardFlag(true);

    await stopAgent();
    const tokenBefore = readFileSync(join(prefix, "etc", "token"), "utf8");
    const uidBefore = ROOT ? statSync(join(prefix, "home")).uid : null;
    const upgraded = await onMachine(installLine(""));
    expect(upgraded.code).toBe(0);
    expect(upgraded.stdout).toContain(`Upgraded the Cortex agent ${release.version} for node ${NODE_ID}`);
    expect(runCommand(upgraded.stdout)).toEqual(runLine);
    expect(upgraded.stdout).toContain(", kept");
    expect(readFileSync(join(prefix, "etc", "token"), "utf8")).toBe(tokenBefore);
    if (ROOT) expect(statSync(join(prefix, "home")).uid).toBe(uidBefore);
    expect(execFileSync("sha256sum", [bundle], { encoding: "utf8" }).split(" ")[0]).toBe(release.sha256);

    const since = Date.now();
    startAgent(runCommand(upgraded.stdout));
    const current = await fleet.waitForConnectionSince(NODE_ID, since, 60_000, agent!);
    expect(current.version).toBe(release.version);
    await expectDashboardFlag(false);
  });

  it("gives the installed agent a new token after a rekey: the line with --new-token asks for it on the terminal, without echo", async () => {
    await stopAgent();
    const rekeyed = NodeCredentials.parse((await fleet.api.raw("POST", `/api/sites/default/nodes/${NODE_ID}/rekey`)).json);
    const typed = await onTerminal(installLine("--new-token"), "Token of this node, as the hub showed it (not echoed): ", rekeyed.token);
    expect(typed.prompted).toBe(true);
    expect(typed.code).toBe(0);
    expect(typed.stdout).toContain(", replaced");
    expect(typed.stdout).not.toContain(rekeyed.token);
    expect(readFileSync(join(prefix, "etc", "token"), "utf8")).toBe(`${rekeyed.token}\n`);
    const since = Date.now();
    startAgent(runLine);
    await fleet.waitForConnectionSince(NODE_ID, since, 60_000, agent!);
    expect(processesShowing(rekeyed.token)).toEqual([]);
  });

  it("uninstalls everything it created: the folder, the user, the sudoers drop-in", async () => {
    const refused = await onMachine(`${prefix}/bin/cortex agent uninstall --prefix ${prefix}`);
    expect(refused.code).toBe(1);
    const named = /the agent or its actions are still running \(pids ([\d, ]+)\): stop them first; nothing was removed/.exec(refused.stderr);
    const pids = named![1]!.split(", ").map(Number);
    expect(pids).toContain(agent!.pid);
    expect(new Set(pids).size).toBe(pids.length);
    await stopAgent();
    const removed = await onMachine(`${prefix}/bin/cortex agent uninstall --prefix ${prefix}`);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    expect(existsSync(prefix)).toBe(false);
    if (ROOT) {
      expect(removed.stdout).toContain(`removed the user ${ACTION_USER}`);
      expect(lookupUser(ACTION_USER)).toBeNull();
      expect(existsSync(SUDOERS)).toBe(false);
    }
  });
});

/** Whether the Machines page marks the node "update available", as an administrator signed in with a password sees it. */
async function expectDashboardFlag(shown: boolean): Promise<void> {
  const cookie = await adminSession();
  const browser = await launchBrowser();
  try {
    const context = await newContext(browser, fleet.hub.url);
    // A __Host- cookie is host-only, Secure and Path=/: given by host and path, as the browser stores the hub's own.
    const host = new URL(fleet.hub.url).hostname;
    await context.addCookies([{ name: "__Host-cortex_session", value: cookie, domain: host, path: "/", secure: true, httpOnly: true, sameSite: "Strict" }]);
    const page = await context.newPage();
    await page.goto("/machines");
    const row = page.locator(`tr[data-node="${NODE_ID}"]`);
    await expect.poll(() => row.locator("td[data-label=Version]").textContent(), { timeout: 15_000 }).toContain(shown ? "0.0.1+" : release.version);
    // The badge needs the hub's own release too, which the page may learn after the row's version: wait for it.
    await expect.poll(() => row.locator(".update-available").count(), { timeout: 15_000 }).toBe(shown ? 1 : 0);
    await page.goto(`/machines/${NODE_ID}`);
    await expect.poll(() => page.locator(".facts").textContent(), { timeout: 15_000 }).toContain("Agent version");
    await expect.poll(() => page.locator(".facts .update-available").count(), { timeout: 15_000 }).toBe(shown ? 1 : 0);
  } finally {
    await browser.close();
  }
}

let session: string | null = null;
const ADMIN = { name: "Installer Admin", email: "installer@example.com", password: "a long enough password 42" };

/** Sets the hub up on first use (as the dashboard's Set it up does), then signs in. */
async function adminSession(): Promise<string> {
  if (session) return session;
  const setup = await fetch(`${fleet.hub.url}/api/setup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ setupCode: fleet.hub.adminKey, ...ADMIN }),
  });
  if (setup.status !== 201) throw new Error(`setup: ${setup.status} ${await setup.text()}`);
  session = /__Host-cortex_session=([^;]+)/.exec(setup.headers.get("set-cookie") ?? "")![1]!;
  return session;
}
