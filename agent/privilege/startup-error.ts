/**
 * A setting the agent cannot start with (no action user, a sandbox it cannot trust). `cortex node connect` prints
 * its one line and exits 78, like a refusal by the hub: restarting would not help.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}
