import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { LogPolicy } from "../../protocol/processes.ts";
import { ProcessName } from "../../protocol/processes.ts";

/**
 * A supervised process's stdout and stderr go to one file, `<name>.log`, in the agent's own folder. The process gets
 * the file as its output descriptors (opened for appending), not a pipe to the agent, so it keeps writing while the
 * agent restarts. That is also why the log is rotated by copying: once the file reaches its cap, the agent copies it
 * to `<name>.log.1` (older copies move up to `.keep`, the oldest is dropped) and truncates it; the process's next
 * write lands at the start of the now empty file. Whatever is written between the copy and the truncation, a matter
 * of microseconds, is lost: logrotate's copytruncate has the same trade-off.
 *
 * Every file is opened with O_NOFOLLOW, so a symlink planted under a log's name makes the open fail instead of
 * sending the agent's writes (or truncation) somewhere else.
 */

const COPY_CHUNK = 256 * 1024;
/** The most a `tail` reads, whatever the number of lines asked for. */
const MAX_TAIL_BYTES = 1024 * 1024;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** The path of a process's log (`index` 0) or of one of its rotated copies; the name is checked to be a plain name. */
export function logPath(dir: string, name: string, index = 0): string {
  if (!ProcessName.safeParse(name).success) throw new Error(`not a process name: ${JSON.stringify(name).slice(0, 80)}`);
  return join(dir, index === 0 ? `${name}.log` : `${name}.log.${index}`);
}

/** Opens the log for a new instance of the process to write to; the caller passes the descriptor on and closes it. */
export function openLogForProcess(dir: string, name: string): number {
  return openSync(logPath(dir, name), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NOFOLLOW, 0o640);
}

function sizeOf(path: string): number | null {
  try {
    const st = lstatSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

function copyInto(fromFd: number, toPath: string): void {
  const to = openSync(toPath, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW, 0o640);
  try {
    const buffer = Buffer.allocUnsafe(COPY_CHUNK);
    let position = 0;
    for (;;) {
      const n = readSync(fromFd, buffer, 0, COPY_CHUNK, position);
      if (n === 0) break;
      writeSync(to, buffer, 0, n);
      position += n;
    }
  } finally {
    closeSync(to);
  }
}

/** Rotates the log when it has reached its cap; true when it did. */
export function rotateIfFull(dir: string, name: string, policy: LogPolicy): boolean {
  const current = logPath(dir, name);
  const size = sizeOf(current);
  if (size === null || size < policy.maxBytes) return false;
  const fd = openSync(current, constants.O_RDWR | NOFOLLOW);
  try {
    if (fstatSync(fd).size < policy.maxBytes) return false;
    if (policy.keep > 0) {
      rmSync(logPath(dir, name, policy.keep), { force: true });
      for (let i = policy.keep - 1; i >= 1; i--) {
        if (sizeOf(logPath(dir, name, i)) !== null) renameSync(logPath(dir, name, i), logPath(dir, name, i + 1));
      }
      copyInto(fd, logPath(dir, name, 1));
    }
    ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Removes a process's log and its copies (the process was removed from the configuration). */
export function removeLogs(dir: string, maxKeep: number, name: string): void {
  for (let i = 0; i <= maxKeep; i++) rmSync(logPath(dir, name, i), { force: true });
}

function readTail(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, size - length + read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** The last `lines` lines of the log, reaching into the newest rotated copy when the current file is short. */
export function tailLines(dir: string, name: string, lines: number): string {
  let data = readTail(logPath(dir, name), MAX_TAIL_BYTES);
  const newlines = (b: Buffer) => b.reduce((n, byte) => (byte === 0x0a ? n + 1 : n), 0);
  if (newlines(data) <= lines && data.length < MAX_TAIL_BYTES) {
    data = Buffer.concat([readTail(logPath(dir, name, 1), MAX_TAIL_BYTES - data.length), data]);
  }
  const text = data.toString("utf8");
  const all = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  const kept = all.slice(-lines);
  return kept.length === 1 && kept[0] === "" ? "" : `${kept.join("\n")}\n`;
}
