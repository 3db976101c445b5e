import { accessSync, constants } from "node:fs";
import type { ActionUser } from "./action-user.ts";
import { StartupError } from "./startup-error.ts";

/**
 * How a program is started as the action user. Node's `uid`/`gid` spawn options drop every supplementary group
 * (libuv calls setgroups(0, NULL)), so a user in `adm` could not read the logs it may read in a terminal. setpriv
 * (util-linux) sets uid, gid and exactly the user's groups, then execs the program: nothing of root's groups or
 * capabilities survives it.
 */

const SETPRIV_PATHS = ["/usr/bin/setpriv", "/bin/setpriv"];
/** Moves itself into the cgroup before anything else runs, so nothing the command starts can be outside it. */
const ENTER_CGROUP = 'echo $$ > "$1" || exit 126; shift; exec "$@"';

let setprivPath: string | null | undefined;

export function findSetpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = SETPRIV_PATHS.find((path) => {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }) ?? null;
  }
  return setprivPath;
}

/** Fails the agent's start when it must switch users and has no way to. */
export function requireUserSwitch(user: ActionUser): void {
  if (user.switched && !findSetpriv()) throw new StartupError("switching to the action user needs setpriv (util-linux), which is not installed");
}

/** The program and arguments that run `file args` as the action user, inside `cgroup` when given. */
export function actionCommand(user: ActionUser, file: string, args: string[], cgroup: string | null): { file: string; args: string[] } {
  let command = [file, ...args];
  if (user.switched) {
    const setpriv = findSetpriv();
    if (!setpriv) throw new Error("setpriv is not installed");
    command = [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, `--groups=${user.groups.join(",")}`, "--inh-caps=-all", "--", ...command];
  }
  if (cgroup) command = ["/bin/sh", "-c", ENTER_CGROUP, "cortex-track", `${cgroup}/cgroup.procs`, ...command];
  return { file: command[0]!, args: command.slice(1) };
}
