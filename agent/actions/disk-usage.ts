import type { ActionParams } from "../../protocol/directives.ts";
import { table, toMb, writeJson } from "../host/compact-output.ts";
import { listFilesystems } from "../host/filesystems.ts";
import { programFailure, runProgram } from "../host/programs.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";
import { openDirectoryVerified } from "../sandbox/verified-fs.ts";

/** A big tree takes du a while; past this the sizes found so far are shown, marked as partial. */
const DU_TIMEOUT_MS = 60_000;

interface Entry {
  path: string;
  bytes: number;
}

/** `du -B1` lines: the size, a tab, the path (which may hold any character but a newline). */
export function parseDu(output: string): Entry[] {
  const entries: Entry[] = [];
  for (const line of output.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab <= 0) continue;
    const bytes = Number(line.slice(0, tab));
    if (Number.isFinite(bytes)) entries.push({ path: line.slice(tab + 1), bytes });
  }
  return entries;
}

/** The largest entries directly under `path`, on its filesystem only (`-x`), symlinks not followed (du's default). */
async function largestUnder(path: string, top: number, ctx: ActionContext) {
  if (process.platform !== "linux") return { largestNote: "listing the largest entries of a folder is available on Linux only" };
  // du runs as the action user, so the kernel decides what it may measure; the folder itself is checked here, and du
  // gets the very folder that was checked, as its fd 3: a folder on the way swapped for a symlink since the check
  // cannot send it elsewhere.
  const dir = await openDirectoryVerified(path, ctx.policy);
  const folder = dir.real;
  const seenAs = "/proc/self/fd/3/";
  let result: Awaited<ReturnType<typeof runProgram>>;
  try {
    result = await runProgram(ctx, "du", ["-a", "-x", "-B1", "--max-depth=1", "--", seenAs], { timeoutMs: DU_TIMEOUT_MS, partialOnTimeout: true, maxBytes: 4 * 1024 * 1024, fd3: dir.handle.fd });
  } finally {
    await dir.handle.close();
  }
  const entries = parseDu(result.stdout).map((e) => ({ ...e, path: e.path === seenAs ? folder : `${folder}/${e.path.slice(seenAs.length)}`.replace(/^\/\//, "/") }));
  if (entries.length === 0 && !result.timedOut) throw new ActionError("exec_failed", programFailure("du", result));
  const total = entries.find((e) => e.path === folder);
  const children = entries.filter((e) => e !== total).sort((a, b) => b.bytes - a.bytes);
  const notes = [
    ...(result.timedOut ? [`du stopped after ${DU_TIMEOUT_MS / 1000} s; sizes are of the entries it had finished`] : []),
    ...(result.stderr.includes("Permission denied") ? ["some folders could not be read; their size is missing"] : []),
  ];
  return {
    folder: path,
    ...(total && { folderMb: toMb(total.bytes) }),
    largest: table(["mb", "path"], children.slice(0, top).map((e) => [toMb(e.bytes), e.path])),
    ...(children.length > top && { largestShown: `${top} of ${children.length}` }),
    ...(notes.length && { largestNote: notes.join("; ") }),
  };
}

export async function diskUsage(params: ActionParams<"disk.usage">, ctx: ActionContext): Promise<ActionOutcome> {
  const [{ filesystems, note }, largest] = await Promise.all([
    listFilesystems(ctx),
    params.path === undefined ? Promise.resolve({}) : largestUnder(params.path, params.top, ctx),
  ]);
  writeJson(ctx.out, {
    filesystems: table(
      ["mount", "device", "type", "sizeMb", "usedMb", "freeMb", "use%", "inodes%"],
      filesystems.map((fs) => [fs.mount, fs.device, fs.type, toMb(fs.sizeBytes), toMb(fs.usedBytes), toMb(fs.freeBytes), fs.usePercent, fs.inodesUsedPercent]),
    ),
    ...(note && { note }),
    ...largest,
  });
  return {};
}
