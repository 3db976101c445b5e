import { constants, realpathSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { removeIn } from "../sandbox/verified-dir.ts";
import { sudoersFileName } from "../privilege/sudoers.ts";
import { InstallError } from "./install-error.ts";
import { SYSTEM, type InstallSystem } from "./installer.ts";
import { installLayout } from "./install-layout.ts";
import { readManifest } from "./install-manifest.ts";
import { deleteUser, lookupUser } from "./os-accounts.ts";
import { checkPrefix } from "./prefix-check.ts";
import { processesOfInstall } from "./running-processes.ts";
import { serviceName, systemctl, systemdRunning } from "./systemd-unit.ts";

const O_PATH = 0o10000000;

/**
 * Removes the prefix by descriptor, one entry at a time from its folder's, never following a link: its sandbox and
 * the action user's home belong to that user, who (given with --user, so not removed) may still run something that
 * swaps a folder in them for a link while root deletes, which a removal by path would follow.
 */
async function removeFolder(prefix: string): Promise<void> {
  // The folders above were checked (checkPrefix) to be root's or ours alone, so the path to them stays put; a link
  // among them (/opt to /data/opt) is resolved, as the descriptors below are checked against real paths.
  const parent = realpathSync(dirname(prefix));
  const handle = await open(parent, (process.platform === "linux" ? O_PATH : constants.O_RDONLY) | constants.O_DIRECTORY);
  try {
    await removeIn({ handle, real: parent }, basename(prefix));
  } catch (error) {
    throw new InstallError(`could not remove all of ${prefix}: ${(error as Error).message}; nothing outside it was touched, run uninstall again`);
  } finally {
    await handle.close();
  }
}

/**
 * Removes the install in `prefix` and everything it created: the service, the sudoers drop-in, the action user if
 * this installer created it, and the folder. Only what the manifest records is touched, and only if the manifest is
 * one nobody else could have written; an agent still running is a reason to stop before removing anything.
 */
export async function uninstallAgent(prefix: string, system: InstallSystem = SYSTEM): Promise<string[]> {
  const { uid } = system;
  const layout = installLayout(prefix);
  if (!checkPrefix(prefix, uid).exists) throw new InstallError(`there is no ${prefix}: nothing to uninstall`);
  const manifest = readManifest(layout.manifest, uid);
  if (!manifest) throw new InstallError(`${prefix} holds no Cortex install (no install.json): nothing was removed`);
  const outside = manifest.service || manifest.sudoers || manifest.actionUser?.created;
  if (outside && uid !== 0) throw new InstallError("this install created a service, a user or a sudoers file: uninstall it as root (sudo)");
  if (manifest.service && basename(manifest.service.file) !== serviceName(manifest.nodeId)) {
    throw new InstallError(`${layout.manifest} names an unexpected unit file ${manifest.service.file}: nothing was removed`);
  }
  if (manifest.sudoers && basename(manifest.sudoers) !== sudoersFileName(manifest.nodeId)) {
    throw new InstallError(`${layout.manifest} names an unexpected sudoers file ${manifest.sudoers}: nothing was removed`);
  }
  const user = manifest.actionUser?.created ? lookupUser(manifest.actionUser.name) : null;
  const stillRunning = () => processesOfInstall(layout.bundle, user?.uid ?? null);
  if (!manifest.service && stillRunning().length > 0) {
    throw new InstallError(`the agent or its actions are still running (pids ${stillRunning().join(", ")}): stop them first; nothing was removed`);
  }

  const lines: string[] = [];
  if (manifest.service) {
    if (systemdRunning(system.systemdRuntimeDir)) systemctl(system.systemctl, ["disable", "--now", manifest.service.name]);
    rmSync(manifest.service.file, { force: true });
    if (systemdRunning(system.systemdRuntimeDir)) systemctl(system.systemctl, ["daemon-reload"]);
    lines.push(`  stopped and removed the service ${manifest.service.name}`);
    const left = stillRunning();
    if (left.length > 0) throw new InstallError(`the service is gone but processes of the agent remain (pids ${left.join(", ")}): stop them and run uninstall again`);
  }
  if (manifest.sudoers) {
    rmSync(manifest.sudoers, { force: true });
    lines.push(`  removed ${manifest.sudoers}`);
  }
  if (user) {
    deleteUser(user.name);
    lines.push(`  removed the user ${user.name}`);
  }
  await removeFolder(prefix);
  lines.push(`  removed ${prefix}`);
  return [`Uninstalled the Cortex agent of node ${manifest.nodeId}:`, ...lines];
}
