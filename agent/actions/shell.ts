/** The program and arguments that run a shell command line on this platform. */
export function shellCommand(command: string): { file: string; args: string[] } {
  if (process.platform === "win32") {
    return { file: "powershell.exe", args: ["-NoLogo", "-NoProfile", "-NonInteractive", "-Command", command] };
  }
  // A login shell, so the PATH and environment match what the machine's user gets in a terminal.
  return { file: "/bin/bash", args: ["-l", "-c", command] };
}
