import type { ErrorCode } from "../../protocol/directives.ts";

/** A failure whose cause is known: it becomes the result's `errorCode` and `error`. */
export class ActionError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ActionError";
  }
}

/** Turns the usual filesystem errors into ones a person can act on; anything else is passed through. */
export function fsFailure(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case "ENOENT":
      return new ActionError("not_found", `no such file or directory: ${path}`);
    case "ENOTDIR":
      return new ActionError("not_found", `a parent of ${path} is not a directory`);
    case "EACCES":
    case "EPERM":
      return new ActionError("exec_failed", `permission denied: ${path}`);
    case "EISDIR":
      return new ActionError("invalid_params", `${path} is a directory`);
    default:
      return err;
  }
}
