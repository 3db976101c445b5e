import type { Command } from "commander";
import { HubClient } from "./hub-client.ts";
import type { CliIo } from "./io.ts";
import { resolveHubSettings, type GlobalOptions } from "./settings.ts";

/** The `--json` flag every hub command takes. */
export interface JsonOption {
  json?: boolean;
}

/** What every command action gets: the io, a hub client built from the merged settings, and the exit code. */
export class CliContext {
  exitCode = 0;

  constructor(readonly io: CliIo) {}

  client(command: Command): HubClient {
    return new HubClient(resolveHubSettings(command.optsWithGlobals<GlobalOptions>(), this.io));
  }

  out(text: string): void {
    this.io.stdout(text);
  }

  err(text: string): void {
    this.io.stderr(text);
  }

  /** Wraps an action so the exit code it returns becomes the process's. */
  action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
    return async (...args) => {
      const code = await fn(...args);
      if (code) this.exitCode = code;
    };
  }
}
