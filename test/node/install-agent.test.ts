import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigFile } from "../../agent/cli/config-file.ts";
import { installAgent, type InstallRequest, type InstallSystem } from "../../agent/install/installer.ts";
import { installLayout } from "../../agent/install/install-layout.ts";
import { InstallManifest } from "../../agent/install/install-manifest.ts";
import { actionUserName, lookupUser } from "../../agent/install/os-accounts.ts";
import { processesOfInstall } from "../../agent/install/running-processes.ts";
import { uninstallAgent } from "../../agent/install/uninstaller.ts";
import { sharedTempRoot } from "../support/action-user.ts";
import { emptyDir } from "./cli-run.ts";

const uid = process.getuid!();
const root = uid === 0;
const NOT_ROOT = "needs root: creating users and writing sudoers is what is tested (CI runs as root)";
const hasVisudo = (() => {
  try {
    execFileSync("visudo", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Every account a test may have created, removed at the end whatever happened. */
const accounts = new Set<string>();
afterAll(() => {
  for (const name of accounts) if (lookupUser(name)) execFileSync("userdel", [name]);
});

function nodeId(): string {
  const id = `it-${randomBytes(4).toString("hex")}`;
  accounts.add(actionUserName(id));
  return id;
}

function token(node: string): string {
  return `cxn_${node}_${randomBytes(32).toString("hex")}`;
}

/** A machine of its own: temporary unit and sudoers folders, and a systemctl that records what it was asked. */
function fakeSystem(overrides: Partial<InstallSystem> = {}): InstallSystem & { calls(): string[] } {
  const dir = emptyDir();
  for (const sub of ["units", "sudoers.d", "run-systemd"]) mkdirSync(join(dir, sub));
  const log = join(dir, "systemctl.log");
  const systemctl = join(dir, "systemctl");
  writeFileSync(systemctl, `#!/bin/sh\necho "$*" >> '${log}'\n`, { mode: 0o755 });
  return {
    uid,
    unitDir: join(dir, "units"),
    sudoersDir: join(dir, "sudoers.d"),
    systemdRuntimeDir: join(dir, "run-systemd"),
    systemctl,
    visudo: "visudo",
    ...overrides,
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []),
  };
}

function fakeBundle(text = "console.log('agent');\n"): string {
  const path = join(emptyDir(), "cortex.mjs");
  writeFileSync(path, text);
  return path;
}

const openDirs: string[] = [];
afterAll(() => {
  for (const dir of openDirs) rmSync(dir, { recursive: true, force: true });
});

/** A folder others may pass through, as /opt is: the action user must reach the install. */
function openDir(): string {
  const dir = mkdtempSync(join(sharedTempRoot(), "cortex-install-"));
  chmodSync(dir, 0o755);
  openDirs.push(dir);
  return dir;
}

function request(node: string, overrides: Partial<InstallRequest> = {}): InstallRequest {
  const secret = token(node);
  return {
    prefix: join(openDir(), "cortex"),
    endpoint: "https://hub.example.com/api/sites/prod",
    tier: "unprivileged",
    service: false,
    newToken: false,
    token: async () => secret,
    bundle: fakeBundle(),
    version: "0.1.0+0123456789ab",
    node: process.execPath,
    ...overrides,
  };
}

const mode = (path: string) => statSync(path).mode & 0o7777;

describe("cortex agent install", () => {
  it("installs into a new prefix without a service: the bundle, a wrapper, the token (0600) and a config that names its file", async () => {
    const node = nodeId();
    const secret = token(node);
    const req = request(node, { token: async () => secret, tier: "root" });
    const report = await installAgent(req, fakeSystem());
    const layout = installLayout(req.prefix);
    expect(readFileSync(layout.bundle, "utf8")).toBe(readFileSync(req.bundle, "utf8"));
    expect(readFileSync(layout.token, "utf8")).toBe(`${secret}\n`);
    expect(mode(layout.token)).toBe(0o600);
    expect(statSync(layout.token).uid).toBe(uid);
    expect(mode(layout.etc)).toBe(0o700);
    expect(mode(layout.prefix)).toBe(0o755);
    const config = JSON.parse(readFileSync(layout.config, "utf8"));
    ConfigFile.parse(config);
    expect(config.connect).toEqual({
      endpoint: req.endpoint,
      tier: "root",
      tokenFile: layout.token,
      stateDir: layout.state,
      sandboxRoot: layout.sandbox,
    });
    expect(readFileSync(layout.config, "utf8")).not.toContain(secret);
    expect(execFileSync(layout.wrapper, { encoding: "utf8" })).toBe("agent\n");
    const manifest = InstallManifest.parse(JSON.parse(readFileSync(layout.manifest, "utf8")));
    expect(manifest).toMatchObject({ nodeId: node, tier: "root", actionUser: null, sudoers: null, service: null, owner: uid, upgradedAt: null });
    expect(report.upgraded).toBe(false);
    expect(report.lines.join("\n")).toContain(`${layout.wrapper} node connect --config ${layout.config}`);
  });

  it("uninstalls a prefix reached through a link above it (/opt linked to /data/opt)", async () => {
    const node = nodeId();
    const base = openDir();
    mkdirSync(join(base, "real"), { mode: 0o755 });
    symlinkSync(join(base, "real"), join(base, "linked"));
    const req = request(node, { tier: "root", prefix: join(base, "linked", "cortex") });
    await installAgent(req, fakeSystem());
    expect(existsSync(join(base, "real", "cortex", "install.json"))).toBe(true);
    expect(await uninstallAgent(req.prefix, fakeSystem())).toContain(`  removed ${req.prefix}`);
    expect(existsSync(join(base, "real", "cortex"))).toBe(false);
  });

  it("upgrades in place when run again: new bundle, same token, state kept; --new-token replaces the token", async () => {
    const node = nodeId();
    const secret = token(node);
    const first = request(node, { tier: "root", token: async () => secret });
    await installAgent(first, fakeSystem());
    const layout = installLayout(first.prefix);
    writeFileSync(join(layout.state, "seen.json"), "[1]");
    const asked: string[] = [];
    const again = await installAgent(
      { ...first, endpoint: undefined, tier: undefined, bundle: fakeBundle("console.log('v2');\n"), version: "0.2.0+0123456789ab", token: async () => (asked.push("asked"), token(node)) },
      fakeSystem(),
    );
    expect(again.upgraded).toBe(true);
    expect(asked).toEqual([]);
    expect(readFileSync(layout.token, "utf8")).toBe(`${secret}\n`);
    expect(readFileSync(join(layout.state, "seen.json"), "utf8")).toBe("[1]");
    expect(execFileSync(layout.wrapper, { encoding: "utf8" })).toBe("v2\n");
    expect(again.manifest).toMatchObject({ version: "0.2.0+0123456789ab", endpoint: first.endpoint, tier: "root" });
    expect(again.manifest.upgradedAt).not.toBeNull();

    const rotated = token(node);
    await installAgent({ ...first, newToken: true, token: async () => rotated }, fakeSystem());
    expect(readFileSync(layout.token, "utf8")).toBe(`${rotated}\n`);
    expect(mode(layout.token)).toBe(0o600);
  });

  it("refuses, before changing anything: a non-token, another node's token on upgrade, a folder that is not an install, a tier change", async () => {
    const node = nodeId();
    const notToken = request(node, { token: async () => "hunter2" });
    await expect(installAgent(notToken, fakeSystem())).rejects.toThrow("that is not a node token");
    expect(existsSync(notToken.prefix)).toBe(false);

    const first = request(node, { tier: "root" });
    await installAgent(first, fakeSystem());
    const other = nodeId();
    await expect(installAgent({ ...first, newToken: true, token: async () => token(other) }, fakeSystem())).rejects.toThrow(
      `${first.prefix} holds the agent of node ${node}, not ${other}`,
    );
    await expect(installAgent({ ...first, tier: "sudo" }, fakeSystem())).rejects.toThrow("this install is at tier root; to change it to sudo, uninstall it");

    const target = join(openDir(), "real");
    mkdirSync(target, { mode: 0o755 });
    const linked = join(openDir(), "cortex");
    symlinkSync(target, linked);
    await expect(installAgent(request(node, { prefix: linked }), fakeSystem())).rejects.toThrow(`refusing to install into ${linked}: it is a symbolic link`);
    expect(readdirSync(target)).toEqual([]);

    const foreign = join(emptyDir(), "app");
    mkdirSync(foreign, { mode: 0o755 });
    writeFileSync(join(foreign, "data.db"), "precious");
    await expect(installAgent(request(node, { prefix: foreign }), fakeSystem())).rejects.toThrow("holds files but no Cortex install");
    expect(readFileSync(join(foreign, "data.db"), "utf8")).toBe("precious");
  });

  it("installs a service only as root on a machine systemd runs, saying so otherwise", async () => {
    const node = nodeId();
    const notRoot = request(node, { service: true });
    // Root may pose as another user here: the folders are root's, which every user trusts.
    await expect(installAgent(notRoot, fakeSystem({ uid: root ? 4242 : uid }))).rejects.toThrow("installing a service needs root: run this with sudo, or pass --no-service");
    expect(existsSync(notRoot.prefix)).toBe(false);
    if (!root) return;
    const noSystemd = request(node, { service: true });
    await expect(installAgent(noSystemd, fakeSystem({ systemdRuntimeDir: join(emptyDir(), "absent") }))).rejects.toThrow("systemd is not running on this machine");
    expect(existsSync(noSystemd.prefix)).toBe(false);
  });

  it("names each still-running process of an install once, though the action worker both runs the bundle and is the action user's", async () => {
    const bundle = join(emptyDir(), "cortex.mjs");
    writeFileSync(bundle, "setTimeout(() => {}, 60_000);\n");
    const worker = spawn(process.execPath, [bundle, "--action-worker"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => worker.once("spawn", resolve));
      const named = processesOfInstall(bundle, process.getuid!());
      expect(named.filter((pid) => pid === worker.pid)).toEqual([worker.pid]);
      expect(new Set(named).size).toBe(named.length);
      expect(processesOfInstall(bundle, null)).toEqual([worker.pid]);
    } finally {
      worker.kill("SIGKILL");
    }
  });

  describe.skipIf(!root)(`as root (skipped otherwise: ${NOT_ROOT})`, () => {
    it("creates the action user cortex-<node> with its home in the prefix, runs actions as it, and keeps it on upgrade", async () => {
      const node = nodeId();
      const req = request(node, { tier: "unprivileged" });
      const report = await installAgent(req, fakeSystem());
      const layout = installLayout(req.prefix);
      const user = lookupUser(actionUserName(node))!;
      expect(user).toMatchObject({ name: `cortex-${node}`, home: layout.home });
      expect(user.uid).toBeGreaterThan(0);
      expect(statSync(layout.home).uid).toBe(user.uid);
      expect(mode(layout.home)).toBe(0o700);
      // The token stays root's: the action user cannot read it.
      expect(statSync(layout.token).uid).toBe(0);
      expect(ConfigFile.parse(JSON.parse(readFileSync(layout.config, "utf8"))).connect).toMatchObject({ runAs: user.name, tier: "unprivileged" });
      expect(report.manifest.actionUser).toEqual({ name: user.name, created: true });

      const again = await installAgent({ ...req, tier: undefined, endpoint: undefined }, fakeSystem());
      expect(lookupUser(user.name)!.uid).toBe(user.uid);
      expect(again.manifest.actionUser).toEqual({ name: user.name, created: true });
      expect(await uninstallAgent(req.prefix, fakeSystem())).toContain(`  removed the user ${user.name}`);
      expect(lookupUser(user.name)).toBeNull();
    });

    it("refuses a prefix another user owns, who could swap what root runs", async () => {
      const node = nodeId();
      const theirs = join(openDir(), "cortex");
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, 65534, 65534);
      await expect(installAgent(request(node, { prefix: theirs }), fakeSystem())).rejects.toThrow(`refusing to install into ${theirs}: it is owned by uid 65534`);
      expect(readdirSync(theirs)).toEqual([]);
      expect(lookupUser(`cortex-${node}`)).toBeNull();
    });

    it("refuses a prefix another user makes while the token is asked for, under a sticky folder like /tmp", async () => {
      const node = nodeId();
      const sticky = openDir();
      chmodSync(sticky, 0o1777);
      const prefix = join(sticky, "cortex");
      const secret = token(node);
      const racing = request(node, {
        prefix,
        token: async () => {
          mkdirSync(prefix, { mode: 0o755 });
          chownSync(prefix, 65534, 65534);
          return secret;
        },
      });
      await expect(installAgent(racing, fakeSystem())).rejects.toThrow(`refusing to install into ${prefix}: it is owned by uid 65534`);
      expect(readdirSync(prefix)).toEqual([]);
      expect(lookupUser(`cortex-${node}`)).toBeNull();
    });

    it("refuses a prefix the action user could not reach, before changing anything", async () => {
      const node = nodeId();
      const closed = emptyDir();
      chmodSync(closed, 0o700);
      const req = request(node, { prefix: join(closed, "cortex") });
      await expect(installAgent(req, fakeSystem())).rejects.toThrow(
        `the action user cortex-${node} could not reach ${req.prefix}: ${closed} is closed to other users (mode 0700); choose a --prefix`,
      );
      expect(existsSync(req.prefix)).toBe(false);
      expect(lookupUser(`cortex-${node}`)).toBeNull();
    });

    it("uninstalls by descriptor: an action user swapping a folder of its sandbox for a link mid-removal deletes nothing outside", async () => {
      const node = nodeId();
      const victim = join(openDir(), "victim");
      mkdirSync(victim);
      const names = Array.from({ length: 50 }, (_, i) => `important-${i}`);
      for (const name of names) writeFileSync(join(victim, name), "root's data");
      const req = request(node, { user: "nobody" });
      await installAgent(req, fakeSystem());
      const sandbox = join(req.prefix, "sandbox");
      mkdirSync(sandbox, { mode: 0o700 });
      chownSync(sandbox, 65534, 65534);
      // As nobody (an existing account given with --user, so still able to run things): fill a folder with files named
      // like the victim's, and once root starts deleting in it, put a link to the victim in its place.
      const racer = [
        "const fs = require('node:fs'); const path = require('node:path');",
        "const [sandbox, victim, ...names] = process.argv.slice(1); const d = path.join(sandbox, 'd'); fs.mkdirSync(d);",
        "for (let i = 0; i < 20000; i++) fs.writeFileSync(path.join(d, 'filler-' + i), '');",
        "for (const n of names) fs.writeFileSync(path.join(d, n), '');",
        "const w = fs.watch(d, () => { w.close(); try { fs.renameSync(d, path.join(sandbox, 'held')); fs.symlinkSync(victim, d); } catch {} });",
        "process.stdout.write('ready'); setTimeout(() => process.exit(0), 20000);",
      ].join("\n");
      const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", racer, sandbox, victim, ...names], { stdio: ["ignore", "pipe", "ignore"] });
      try {
        await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
        await uninstallAgent(req.prefix, fakeSystem()).catch(() => undefined);
      } finally {
        child.kill("SIGKILL");
      }
      expect(readdirSync(victim).sort()).toEqual([...names].sort());
    }, 60_000);

    it("refuses to take over an account it did not create, and runs actions as one given with --user, which uninstall keeps", async () => {
      const node = nodeId();
      const name = actionUserName(node);
      execFileSync("useradd", ["--system", "--no-create-home", name]);
      await expect(installAgent(request(node), fakeSystem())).rejects.toThrow(`user ${name} already exists and this installer did not create it: pass --user ${name}`);
      const req = request(node, { user: name });
      const report = await installAgent(req, fakeSystem());
      expect(report.manifest.actionUser).toEqual({ name, created: false });
      await uninstallAgent(req.prefix, fakeSystem());
      expect(lookupUser(name)).not.toBeNull();
      expect(existsSync(req.prefix)).toBe(false);
      await expect(installAgent(request(node, { user: "root" }), fakeSystem())).rejects.toThrow("user root is root: at tier unprivileged actions must not run as root");
      await expect(installAgent(request(node, { user: `nobody-${node}` }), fakeSystem())).rejects.toThrow(`user nobody-${node} does not exist`);
    });

    it.skipIf(!hasVisudo)("at tier sudo writes a sudoers drop-in (0440) that visudo accepts and that allows the user only the package managers", async () => {
      const node = nodeId();
      const system = fakeSystem();
      const req = request(node, { tier: "sudo" });
      const report = await installAgent(req, system);
      const file = join(system.sudoersDir, `cortex-${node}`);
      expect(report.manifest.sudoers).toBe(file);
      expect(mode(file)).toBe(0o440);
      execFileSync("visudo", ["-cf", file], { stdio: "pipe" });
      const rules = readFileSync(file, "utf8").split("\n").filter((line) => line.startsWith(`cortex-${node} `));
      expect(rules).toHaveLength(1);
      expect(rules[0]).toMatch(new RegExp(`^cortex-${node} ALL=\\(root\\) NOPASSWD: (/[a-z/]+/(apt|apt-get|npm|pip|pip3)(, )?)+$`));
      await uninstallAgent(req.prefix, system);
      expect(existsSync(file)).toBe(false);
    });

    it("with a service: writes the unit, reloads, enables and restarts it; uninstall disables it and removes everything", async () => {
      const node = nodeId();
      const system = fakeSystem({ uid: 0 });
      const req = request(node, { service: true, tier: "unprivileged" });
      await installAgent(req, system);
      const unit = join(system.unitDir, `cortex-${node}.service`);
      expect(readFileSync(unit, "utf8")).toContain(`ExecStart=${process.execPath} ${installLayout(req.prefix).bundle} node connect --config`);
      expect(mode(unit)).toBe(0o644);
      expect(system.calls()).toEqual(["daemon-reload", `enable cortex-${node}.service`, `restart cortex-${node}.service`]);
      await expect(installAgent({ ...req, service: false }, system)).rejects.toThrow(`this install runs as the service cortex-${node}.service`);

      const lines = await uninstallAgent(req.prefix, system);
      expect(system.calls().slice(3)).toEqual([`disable --now cortex-${node}.service`, "daemon-reload"]);
      expect(lines).toEqual([
        `Uninstalled the Cortex agent of node ${node}:`,
        `  stopped and removed the service cortex-${node}.service`,
        `  removed the user cortex-${node}`,
        `  removed ${req.prefix}`,
      ]);
      expect(existsSync(unit)).toBe(false);
      expect(existsSync(req.prefix)).toBe(false);
      expect(lookupUser(`cortex-${node}`)).toBeNull();
    });

    it("uninstall refuses while the agent runs without a service, and a prefix that holds no install", async () => {
      const node = nodeId();
      const req = request(node, { tier: "root", bundle: fakeBundle("setTimeout(() => {}, 60_000);\n") });
      await installAgent(req, fakeSystem());
      const running = spawn(process.execPath, [installLayout(req.prefix).bundle], { stdio: "ignore" });
      try {
        await new Promise((resolve) => running.once("spawn", resolve));
        await expect(uninstallAgent(req.prefix, fakeSystem())).rejects.toThrow(`the agent or its actions are still running (pids ${running.pid}): stop them first; nothing was removed`);
        expect(existsSync(installLayout(req.prefix).manifest)).toBe(true);
      } finally {
        running.kill("SIGKILL");
      }
      const empty = join(emptyDir(), "nothing");
      mkdirSync(empty, { mode: 0o755 });
      await expect(uninstallAgent(empty, fakeSystem())).rejects.toThrow(`${empty} holds no Cortex install (no install.json): nothing was removed`);
    });

    it("does not trust a manifest someone else could have written", async () => {
      const node = nodeId();
      const req = request(node, { tier: "root" });
      await installAgent(req, fakeSystem());
      const manifest = installLayout(req.prefix).manifest;
      chmodSync(manifest, 0o666);
      await expect(uninstallAgent(req.prefix, fakeSystem())).rejects.toThrow(`refusing to trust ${manifest}`);
      await expect(installAgent(req, fakeSystem())).rejects.toThrow(`refusing to trust ${manifest}`);
      rmSync(req.prefix, { recursive: true });
    });
  });
});
