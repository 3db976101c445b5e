/**
 * The program and arguments that run a shell command line on this platform. A login shell by default, so the PATH
 * and environment match what the machine's user gets in a terminal; `login: false` skips the profile scripts.
 */
export function shellCommand(command: string, login = true): { file: string; args: string[] } {
  if (process.platform === "win32") {
    return { file: "powershell.exe", args: ["-NoLogo", "-NoProfile", "-NonInteractive", "-Command", command] };
  }
  return { file: "/bin/bash", args: login ? ["-l", "-c", command] : ["-c", command] };
}
