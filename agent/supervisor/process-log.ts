import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
} from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { LogPolicy } from "../../protocol/processes.ts";
import { ProcessName } from "../../protocol/processes.ts";

/**
 * A supervised process's stdout and stderr go to one file, `<name>.log`, in the agent's own folder. The process gets
 * the file as its output descriptors (opened for appending), not a pipe to the agent, so it keeps writing while the
 * agent restarts. That is also why the log is rotated by copying: once the file reaches its cap, the agent copies it
 * to `<name>.log.1` (older copies move up to `.keep`, the oldest is dropped) and truncates it; the process's next
 * write lands at the start of the now empty file. Whatever is written between reading the size and the truncation is
 * lost: logrotate's copytruncate has the same trade-off.
 *
 * A rotation copies at most `maxBytes`, however large the file is: it reads the size once and copies only the newest
 * `maxBytes` before that point. The process, not the agent, decides how large the file is and how fast it grows, so
 * copying up to the end of the file would let it decide how long the agent (running as root) copies and how much it
 * writes: a process writing as fast as it can keeps moving the end away from the copy, and one that extends its
 * output with ftruncate creates terabytes of holes that read back as zeros and would be written out as real blocks.
 * The newest bytes are the ones kept because they tell what the process is doing now; anything older than the cap
 * was over the cap anyway.
 *
 * The copy is staged in `<name>.log.new` and renamed to `.1` once complete, so a `tail` never reads half a copy.
 *
 * Every file is opened with O_NOFOLLOW, so a symlink planted under a log's name makes the open fail instead of
 * sending the agent's writes (or truncation) somewhere else.
 */

const COPY_CHUNK = 256 * 1024;
/** The most a `tail` reads, whatever the number of lines asked for. */
const MAX_TAIL_BYTES = 1024 * 1024;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const STAGING_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW;

/** The logs with a rotation under way: a second one would shuffle the copies under the first. */
const rotating = new Map<string, Promise<boolean>>();

/** The path of a process's log (`index` 0) or of one of its rotated copies; the name is checked to be a plain name. */
export function logPath(dir: string, name: string, index = 0): string {
  if (!ProcessName.safeParse(name).success) throw new Error(`not a process name: ${JSON.stringify(name).slice(0, 80)}`);
  return join(dir, index === 0 ? `${name}.log` : `${name}.log.${index}`);
}

/** Cannot be any process's log or copy: those end in `.log` or `.log.<digits>`. */
function stagingPath(dir: string, name: string): string {
  return `${logPath(dir, name)}.new`;
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

/** Moves the finished copy in as `.1`, after moving the older ones up and dropping the oldest. */
function shiftCopies(dir: string, name: string, keep: number): void {
  rmSync(logPath(dir, name, keep), { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    if (sizeOf(logPath(dir, name, i)) !== null) renameSync(logPath(dir, name, i), logPath(dir, name, i + 1));
  }
  renameSync(stagingPath(dir, name), logPath(dir, name, 1));
}

// The copy stops at `size`, read once before copying, never at the end of the file: see the comment at the top.
// A read that comes back empty early means the process truncated the file itself; what it dropped is gone.
async function copyTail(from: FileHandle, to: FileHandle, size: number, maxBytes: number): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, maxBytes));
  let position = Math.max(0, size - maxBytes);
  while (position < size) {
    const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, size - position), position);
    if (bytesRead === 0) break;
    for (let written = 0; written < bytesRead; ) written += (await to.write(buffer, written, bytesRead - written)).bytesWritten;
    position += bytesRead;
  }
}

/**
 * Rotates the log when it has reached its cap, copying in chunks between which the event loop goes on (the cap may be
 * up to 1 GiB, and the agent checks every process every second). Resolves true when this call rotated. A call while a
 * rotation of the same log is under way waits for it and resolves false: the supervisor's check does not start a
 * second one, and a new instance is started only once the old one's copy is done and the log truncated, so its first
 * output is not truncated away.
 */
export function rotateIfFull(dir: string, name: string, policy: LogPolicy): Promise<boolean> {
  const current = logPath(dir, name);
  const underWay = rotating.get(current);
  if (underWay) return underWay.then(() => false);
  const size = sizeOf(current);
  if (size === null || size < policy.maxBytes) return Promise.resolve(false);
  const rotation = rotate(dir, name, current, policy).finally(() => rotating.delete(current));
  rotating.set(current, rotation);
  return rotation;
}

async function rotate(dir: string, name: string, current: string, policy: LogPolicy): Promise<boolean> {
  const log = await open(current, constants.O_RDWR | NOFOLLOW);
  try {
    const st = await log.stat();
    if (!st.isFile() || st.size < policy.maxBytes) return false;
    if (policy.keep > 0) {
      const to = await open(stagingPath(dir, name), STAGING_FLAGS, 0o640);
      try {
        await copyTail(log, to, st.size, policy.maxBytes);
      } finally {
        await to.close();
      }
      shiftCopies(dir, name, policy.keep);
    }
    await log.truncate(0);
  } finally {
    await log.close();
  }
  return true;
}

/** Removes a process's log and its copies (the process was removed from the configuration). */
export function removeLogs(dir: string, maxKeep: number, name: string): void {
  for (let i = 0; i <= maxKeep; i++) rmSync(logPath(dir, name, i), { force: true });
  rmSync(stagingPath(dir, name), { force: true });
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
