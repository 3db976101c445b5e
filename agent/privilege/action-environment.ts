import type { ActionUser } from "./action-user.ts";

/** PATH of a switched user's actions: what login gives a user on Debian, plus sbin so `sudo apt-get` is found. */
const USER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Carried over from the agent: they shape how text is printed, and hold nothing secret. */
const KEPT = ["LANG", "LC_ALL", "TZ"] as const;

/**
 * The environment an action starts with: who it runs as and nothing of the agent's (no token, no hub settings).
 */
export function actionEnvironment(user: ActionUser): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    PATH: user.switched ? USER_PATH : (process.env.PATH ?? USER_PATH),
  };
  if (process.platform === "win32") {
    // Windows programs need these to start at all; the agent does not switch users there.
    for (const key of ["SystemRoot", "ComSpec", "PATHEXT", "TEMP", "TMP", "USERPROFILE", "APPDATA", "LOCALAPPDATA"]) {
      if (process.env[key] !== undefined) env[key] = process.env[key];
    }
  }
  for (const key of KEPT) if (process.env[key] !== undefined) env[key] = process.env[key];
  return env;
}
