import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { nodeIdOfToken } from "../../protocol/node-token.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { issuesLine } from "../cli/cli-error.ts";
import { ConfigFile } from "../cli/config-file.ts";
import { connectUrl } from "../connection/endpoint.ts";
import { findAllowedCommands, installSudoersDropIn, sudoersDropIn, sudoersFileName } from "../privilege/sudoers.ts";
import { InstallError } from "./install-error.ts";
import { installLayout, type InstallLayout } from "./install-layout.ts";
import { readManifest, writeManifest, type InstallManifest } from "./install-manifest.ts";
import { actionUserName, createUser, lookupUser } from "./os-accounts.ts";
import { lstatOrNull, unsafeFolder } from "../host/folder-owner.ts";
import { checkNotSymlink, checkPrefix, checkReachable, isEmptyFolder } from "./prefix-check.ts";
import { renderUnit, serviceName, systemctl, systemdRunning } from "./systemd-unit.ts";

/** Where the installer meets the operating system; tests point these at temporary folders and stand-in commands. */
export interface InstallSystem {
  uid: number;
  unitDir: string;
  sudoersDir: string;
  /** Exists only when systemd manages the machine. */
  systemdRuntimeDir: string;
  systemctl: string;
  visudo: string;
}

export const SYSTEM: InstallSystem = {
  uid: process.getuid?.() ?? 0,
  unitDir: "/etc/systemd/system",
  sudoersDir: "/etc/sudoers.d",
  systemdRuntimeDir: "/run/systemd/system",
  systemctl: "systemctl",
  visudo: "visudo",
};

export interface InstallRequest {
  prefix: string;
  /** Required on a first install; an upgrade keeps the installed one unless given. */
  endpoint?: string;
  tier?: CapabilityTier;
  name?: string;
  group?: string;
  sandbox?: string;
  /** An existing account to run actions as, instead of creating `cortex-<node>`. */
  user?: string;
  service: boolean;
  /**
   * Supplies the token. Called only when one is needed: on a first install, or when `newToken` is set; an upgrade
   * keeps the installed token otherwise.
   */
  token: () => Promise<string>;
  newToken: boolean;
  /** The agent bundle to install, and the version it reports. */
  bundle: string;
  version: string;
  /** The Node.js binary that will run it. */
  node: string;
}

export interface InstallReport {
  manifest: InstallManifest;
  layout: InstallLayout;
  upgraded: boolean;
  /** What to tell the person: one line per fact. */
  lines: string[];
}

/** Single-quoted for sh, so any path is one word. */
function shellWord(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Written whole next to its place, then renamed over it: a reader sees the old file or the new one, never half. */
function replaceFile(path: string, content: string | Buffer, mode: number): void {
  checkNotSymlink(path);
  const temporary = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(temporary, content, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, path);
}

/** Refuses a folder this install may not fill: a link, not a folder, another user's, or writable by others. */
function checkOwnFolder(path: string, uid: number): void {
  const info = lstatSync(path);
  if (info.isSymbolicLink() || !info.isDirectory()) throw new InstallError(`refusing to install into ${path}: it is ${info.isSymbolicLink() ? "a symbolic link" : "not a folder"}`);
  const problem = unsafeFolder(info, uid, false);
  if (problem) throw new InstallError(`refusing to install into ${path}: it ${problem}; another user made or changed it while the install ran`);
}

/**
 * Makes `path` and its missing parents one at a time, never through a link, and checks each is this user's alone. The
 * prefix was checked before the token was asked for; under a sticky folder such as /tmp another user may have made
 * it since, to swap what root will run: such a folder is refused, never filled.
 */
function folder(path: string, mode: number, uid: number): void {
  const missing: string[] = [];
  for (let dir = path; lstatOrNull(dir) === null; dir = dirname(dir)) missing.unshift(dir);
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    checkOwnFolder(dir, uid);
  }
  checkOwnFolder(path, uid);
  chmodSync(path, mode);
}

/** Tier sudo is only as good as its sudoers drop-in: without sudo and visudo there is nothing to write it for. */
function requireSudo(system: InstallSystem): void {
  const missing = !existsSync(system.sudoersDir) ? system.sudoersDir : !commandWorks(system.visudo) ? system.visudo : null;
  if (missing) throw new InstallError(`tier sudo needs sudo, and ${missing} is missing: install sudo first (apt-get install sudo)`);
}

function commandWorks(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The token to install, checked: a node token of the node this install is for. */
async function newToken(request: InstallRequest, installed: InstallManifest | null): Promise<{ token: string; nodeId: string }> {
  const token = (await request.token()).trim();
  const nodeId = nodeIdOfToken(token);
  if (nodeId === null) throw new InstallError("that is not a node token (cxn_<node>_<64 hex digits>, as the hub showed it)");
  if (installed && installed.nodeId !== nodeId) {
    throw new InstallError(`${request.prefix} holds the agent of node ${installed.nodeId}, not ${nodeId}: uninstall it first, or install into another --prefix`);
  }
  return { token, nodeId };
}

interface UserPlan {
  name: string;
  /** Created by this installer, now or before: removed on uninstall. */
  created: boolean;
  exists: boolean;
}

/**
 * Who actions run as. Root nodes run them as root; so does an agent that is not root, which cannot switch users (its
 * actions run as itself). Otherwise the `--user` given, or `cortex-<node>`, created unless it is this install's.
 */
function planActionUser(request: InstallRequest, tier: CapabilityTier, nodeId: string, installed: InstallManifest | null, uid: number): UserPlan | null {
  if (request.user !== undefined && uid !== 0) throw new InstallError("--user needs root: only an agent running as root can switch to another user");
  if (request.user !== undefined && tier === "root") throw new InstallError("--user does not apply at tier root: its actions run as root");
  if (tier === "root" || uid !== 0) return null;
  const name = request.user ?? installed?.actionUser?.name ?? actionUserName(nodeId);
  const account = lookupUser(name);
  if (request.user !== undefined) {
    if (!account) throw new InstallError(`user ${name} does not exist: create it first, or leave out --user to have cortex-${nodeId} created`);
    if (account.uid === 0) throw new InstallError(`user ${name} is root: at tier ${tier} actions must not run as root`);
  }
  const ours = installed?.actionUser?.name === name && installed.actionUser.created;
  if (account && !ours && request.user === undefined) {
    throw new InstallError(`user ${name} already exists and this installer did not create it: pass --user ${name} to run actions as it`);
  }
  return { name, created: ours || !account, exists: account !== null };
}

/** Refuses changes an upgrade cannot make in place: they would leave the old user or sudoers behind. */
function checkUpgrade(installed: InstallManifest, tier: CapabilityTier, user: UserPlan | null, service: boolean): void {
  if (installed.tier !== tier) {
    throw new InstallError(`this install is at tier ${installed.tier}; to change it to ${tier}, uninstall it and install again`);
  }
  if ((installed.actionUser?.name ?? null) !== (user?.name ?? null)) {
    throw new InstallError(`this install runs actions as ${installed.actionUser?.name ?? "the agent's own user"}; to change that, uninstall it and install again`);
  }
  if (installed.service && !service) {
    throw new InstallError(`this install runs as the service ${installed.service.name}; uninstall it first to install without a service`);
  }
}

/**
 * Installs the agent into `request.prefix`, or upgrades the install already there in place, keeping its token,
 * state and user. Everything is checked before anything is changed; what was created is recorded in the manifest as
 * soon as it exists, so a failed step can be retried or uninstalled.
 */
export async function installAgent(request: InstallRequest, system: InstallSystem = SYSTEM): Promise<InstallReport> {
  const { uid } = system;
  const layout = installLayout(request.prefix);
  const { exists } = checkPrefix(layout.prefix, uid);
  const installed = exists ? readManifest(layout.manifest, uid) : null;
  if (exists && !installed && !isEmptyFolder(layout.prefix)) {
    throw new InstallError(`${layout.prefix} holds files but no Cortex install (no install.json): choose an empty or new folder as --prefix`);
  }

  if (request.service) {
    if (uid !== 0) throw new InstallError("installing a service needs root: run this with sudo, or pass --no-service");
    if (!systemdRunning(system.systemdRuntimeDir)) {
      throw new InstallError("systemd is not running on this machine, so no service can be installed: pass --no-service and run the agent under your own supervisor");
    }
  }

  const tokenNeeded = !installed || request.newToken || !existsSync(layout.token);
  const fresh = tokenNeeded ? await newToken(request, installed) : null;
  const nodeId = installed?.nodeId ?? fresh!.nodeId;
  const endpoint = request.endpoint ?? installed?.endpoint;
  if (!endpoint) throw new InstallError("--endpoint is required: the hub's site URL, as the hub printed it (https://<hub>/api/sites/<site>)");
  try {
    connectUrl(endpoint);
  } catch (error) {
    throw new InstallError((error as Error).message);
  }
  const tier = request.tier ?? installed?.tier ?? "unprivileged";
  const user = planActionUser(request, tier, nodeId, installed, uid);
  if (installed) checkUpgrade(installed, tier, user, request.service);
  if (user) checkReachable(layout.prefix, `the action user ${user.name}`);

  const sudoers = tier === "sudo" && uid === 0 ? join(system.sudoersDir, sudoersFileName(nodeId)) : null;
  if (sudoers) requireSudo(system);
  const sudoersText = sudoers && user ? sudoersDropIn({ nodeId, user: user.name, commands: findAllowedCommands() }) : null;

  const now = Date.now();
  const manifest: InstallManifest = {
    format: 1,
    nodeId,
    endpoint,
    tier,
    ...((request.name ?? installed?.name) === undefined ? {} : { name: request.name ?? installed?.name }),
    ...((request.group ?? installed?.group) === undefined ? {} : { group: request.group ?? installed?.group }),
    sandbox: request.sandbox ?? installed?.sandbox ?? layout.sandbox,
    version: request.version,
    node: request.node,
    owner: uid,
    actionUser: user ? { name: user.name, created: user.created } : null,
    sudoers: installed?.sudoers ?? null,
    service: installed?.service ?? null,
    installedAt: installed?.installedAt ?? now,
    upgradedAt: installed ? now : null,
  };
  // Checked against the schema the agent reads it with, but written as given: defaults stay the agent's to choose.
  const config = {
    connect: {
      endpoint,
      tier,
      tokenFile: layout.token,
      stateDir: layout.state,
      sandboxRoot: manifest.sandbox,
      ...(user ? { runAs: user.name } : {}),
      ...(manifest.name === undefined ? {} : { name: manifest.name }),
      ...(manifest.group === undefined ? {} : { group: manifest.group }),
    },
  };
  const checked = ConfigFile.safeParse(config);
  if (!checked.success) throw new InstallError(`invalid settings for the agent: ${issuesLine(checked.error)}`);

  // Nothing has changed so far. From here on, each step is recorded once done.
  folder(layout.prefix, 0o755, uid);
  folder(dirname(layout.bundle), 0o755, uid);
  folder(dirname(layout.wrapper), 0o755, uid);
  folder(layout.etc, 0o700, uid);
  folder(layout.state, 0o700, uid);
  if (request.bundle !== layout.bundle) replaceFile(layout.bundle, readFileSync(request.bundle), 0o644);
  replaceFile(layout.wrapper, `#!/bin/sh\nexec ${shellWord(request.node)} ${shellWord(layout.bundle)} "$@"\n`, 0o755);
  writeManifest(layout.manifest, manifest);

  if (user && !user.exists) {
    folder(layout.home, 0o700, uid);
    const account = createUser(user.name, layout.home, nodeId);
    chownSync(layout.home, account.uid, account.gid);
  }
  if (fresh) replaceFile(layout.token, `${fresh.token}\n`, 0o600);
  replaceFile(layout.config, `${JSON.stringify(config, null, 2)}\n`, 0o600);

  if (sudoers && sudoersText) {
    checkNotSymlink(sudoers);
    installSudoersDropIn(sudoers, sudoersText, system.visudo);
    manifest.sudoers = sudoers;
    writeManifest(layout.manifest, manifest);
  }

  if (request.service) {
    const name = serviceName(nodeId);
    const file = join(system.unitDir, name);
    const unit = renderUnit({ nodeId, tier, node: request.node, bundle: layout.bundle, config: layout.config, prefix: layout.prefix });
    replaceFile(file, unit, 0o644);
    manifest.service = { name, file };
    writeManifest(layout.manifest, manifest);
    systemctl(system.systemctl, ["daemon-reload"]);
    systemctl(system.systemctl, ["enable", name]);
    systemctl(system.systemctl, ["restart", name]);
  }

  return { manifest, layout, upgraded: installed !== null, lines: reportLines(manifest, layout, installed !== null, fresh !== null, uid) };
}

function reportLines(m: InstallManifest, layout: InstallLayout, upgraded: boolean, tokenWritten: boolean, uid: number): string[] {
  const run = `${layout.wrapper} node connect --config ${layout.config}`;
  const lines = [
    `${upgraded ? "Upgraded" : "Installed"} the Cortex agent ${m.version} for node ${m.nodeId} in ${layout.prefix} (tier ${m.tier}, hub ${m.endpoint}).`,
    `  token:          ${layout.token} (mode 0600, readable by ${uid === 0 ? "root" : `uid ${uid}`} only)${upgraded && !tokenWritten ? ", kept" : tokenWritten && upgraded ? ", replaced" : ""}`,
    `  actions run as: ${m.actionUser ? `${m.actionUser.name}${m.actionUser.created ? " (created for this node)" : ""}` : uid === 0 ? "root" : `uid ${uid}, the agent's own user (not root, so it cannot switch users)`}`,
  ];
  if (m.sudoers) lines.push(`  sudoers:        ${m.sudoers} (package managers only, checked by visudo)`);
  if (m.service) {
    const unit = m.service.name.replace(/\.service$/, "");
    lines.push(`  service:        ${m.service.name}, enabled and ${upgraded ? "restarted" : "started"}; logs: journalctl -u ${unit} -f`);
  } else {
    lines.push(`  service:        none (--no-service); run the agent with:`, `    ${run}`);
  }
  lines.push(`Uninstall: ${uid === 0 ? "sudo " : ""}${layout.wrapper} agent uninstall --prefix ${layout.prefix}`);
  return lines;
}
