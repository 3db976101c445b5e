import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** A token is one short line; anything much larger is not a token file. */
const MAX_TOKEN_FILE_BYTES = 4096;

export class TokenFileError extends Error {
  constructor(path: string, problem: string) {
    super(`token file ${path}: ${problem}`);
    this.name = "TokenFileError";
  }
}

export interface TokenFileOptions {
  /** The user reading it (default: this process's). */
  uid?: number;
  /**
   * Accept a file of any owner: for a token read once, such as the installer's input, which a person made with
   * their own account and runs the installer on with sudo.
   */
  anyOwner?: boolean;
}

/**
 * The node token kept in `path`. The checks are made on the opened descriptor, so a file swapped after the check
 * cannot slip through: it must be a regular file, owned by this user or root, and neither readable nor writable by
 * anyone else — a token others can read is already leaked, and one others can write lets them point this agent at a
 * node of their own.
 */
export function readTokenFile(path: string, options: TokenFileOptions = {}): string {
  const uid = options.uid ?? process.getuid?.() ?? 0;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch (error) {
    throw new TokenFileError(path, (error as Error).message);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new TokenFileError(path, "not a regular file");
    if (!options.anyOwner && stat.uid !== uid && stat.uid !== 0) throw new TokenFileError(path, `owned by uid ${stat.uid}, not by this user (${uid}) or root`);
    const loose = stat.mode & 0o077;
    if (loose !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
      throw new TokenFileError(path, `mode ${mode} lets group or others ${loose & 0o044 ? "read" : "write"} it; run chmod 600 ${path}`);
    }
    if (stat.size > MAX_TOKEN_FILE_BYTES) throw new TokenFileError(path, `${stat.size} bytes is too large for a token`);
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const lines = buffer.toString("utf8", 0, length).split(/\r?\n/).filter((line) => line.trim() !== "");
    if (lines.length === 0) throw new TokenFileError(path, "empty");
    if (lines.length > 1) throw new TokenFileError(path, "holds more than one line; it must hold only the token");
    return lines[0]!.trim();
  } finally {
    closeSync(fd);
  }
}
