import type { z } from "zod";

/** A failure the user can act on: printed as one `error: ...` line, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** The hub refused a request: the line to print, with the HTTP status and the ApiError code to decide on. */
export class HubRefusal extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
    this.name = "HubRefusal";
  }
}

/** Zod issues folded into one line: `path: message; path: message`. */
export function issuesLine(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message)).join("; ");
}
