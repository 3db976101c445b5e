import { statfs } from "node:fs/promises";
import { ActionError } from "../actions/action-error.ts";
import { programFailure, runProgram, type ProgramRun } from "./programs.ts";

export interface Filesystem {
  mount: string;
  device: string;
  type: string;
  sizeBytes: number;
  usedBytes: number;
  freeBytes: number;
  usePercent: number;
  inodesUsedPercent: number | null;
}

/** Memory-backed and image filesystems: no disk to fill, and they would crowd the list. */
const SKIPPED_TYPES = ["tmpfs", "devtmpfs", "squashfs", "efivarfs", "ramfs"];
const DF_COLUMNS = "source,fstype,size,used,avail,itotal,iused,target";
const DF_TIMEOUT_MS = 10_000;
const MAX_FILESYSTEMS = 50;

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

/** `df --output` lines after the header: seven fixed columns, then the mount point, which may contain spaces. */
export function parseDf(output: string): Filesystem[] {
  const found: Filesystem[] = [];
  for (const line of output.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const [device, type, size, used, avail, itotal, iused] = fields as [string, string, string, string, string, string, string];
    const numbers = [size, used, avail].map(Number);
    if (numbers.some((n) => !Number.isFinite(n))) continue;
    const [sizeBytes, usedBytes, freeBytes] = numbers as [number, number, number];
    const inodes = Number(itotal);
    found.push({
      mount: fields.slice(7).join(" "),
      device,
      type,
      sizeBytes,
      usedBytes,
      freeBytes,
      // As df computes Use%: of the space ordinary users can have, which excludes root's reserved blocks.
      usePercent: percent(usedBytes, usedBytes + freeBytes),
      inodesUsedPercent: Number.isFinite(inodes) && inodes > 0 ? percent(Number(iused), inodes) : null,
    });
  }
  return found;
}

async function linuxFilesystems(run: ProgramRun): Promise<{ filesystems: Filesystem[]; note?: string }> {
  const args = ["-B1", `--output=${DF_COLUMNS}`, ...SKIPPED_TYPES.flatMap((t) => ["-x", t])];
  let note: string | undefined;
  let result;
  try {
    result = await runProgram(run, "df", args, { timeoutMs: DF_TIMEOUT_MS });
  } catch (err) {
    if (!(err instanceof ActionError) || err.code !== "timeout") throw err;
    // A hung network filesystem blocks df; the local ones still answer.
    result = await runProgram(run, "df", ["--local", ...args], { timeoutMs: DF_TIMEOUT_MS });
    note = "network filesystems are left out: df did not finish with them (one may be hanging)";
  }
  // df exits 1 when one mount cannot be read but still lists the others.
  const filesystems = parseDf(result.stdout);
  if (filesystems.length === 0 && result.code !== 0) throw new ActionError("exec_failed", programFailure("df", result));
  return { filesystems: filesystems.slice(0, MAX_FILESYSTEMS), ...(note && { note }) };
}

async function windowsFilesystems(): Promise<Filesystem[]> {
  const letters = "CDEFGHIJKLMNOPQRSTUVWXYZ".split("");
  const found = await Promise.all(
    letters.map(async (letter): Promise<Filesystem | null> => {
      try {
        const info = await statfs(`${letter}:\\`);
        const sizeBytes = info.blocks * info.bsize;
        const freeBytes = info.bavail * info.bsize;
        const usedBytes = sizeBytes - info.bfree * info.bsize;
        return { mount: `${letter}:\\`, device: `${letter}:`, type: "", sizeBytes, usedBytes, freeBytes, usePercent: percent(usedBytes, usedBytes + freeBytes), inodesUsedPercent: null };
      } catch {
        return null;
      }
    }),
  );
  return found.filter((fs): fs is Filesystem => fs !== null);
}

/** The machine's disk-backed filesystems with their space. */
export async function listFilesystems(run: ProgramRun): Promise<{ filesystems: Filesystem[]; note?: string }> {
  if (process.platform === "win32") return { filesystems: await windowsFilesystems() };
  return linuxFilesystems(run);
}
