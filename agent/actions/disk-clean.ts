import type { ActionParams } from "../../protocol/directives.ts";
import { actsOnRootOwned } from "../../protocol/tier-policy.ts";
import { toMb, writeJson } from "../host/compact-output.ts";
import { requireLinux } from "../host/procfs.ts";
import { programFailure, runProgram } from "../host/programs.ts";
import { cleanTemporaryFiles } from "../host/temp-cleaner.ts";
import { removeAs } from "../privilege/act-as.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";

const HOUR_MS = 3_600_000;
const TEMP_TIME_LIMIT_MS = 120_000;
const JOURNAL_TIMEOUT_MS = 120_000;

const UNITS: Record<string, number> = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** journalctl's sizes ("0B", "120.0M", "1.5G"), in bytes. */
export function parseSize(text: string): number | null {
  const match = /^([0-9.]+)([BKMGT])$/.exec(text);
  return match ? Math.round(Number(match[1]) * UNITS[match[2]!]!) : null;
}

/** Bytes the journal takes now, from `journalctl --disk-usage`. */
async function journalUsage(ctx: ActionContext): Promise<number | null> {
  const result = await runProgram(ctx, "journalctl", ["--disk-usage"], { timeoutMs: JOURNAL_TIMEOUT_MS });
  const size = /take up ([0-9.]+[BKMGT])/.exec(result.stdout + result.stderr)?.[1];
  return size ? parseSize(size) : null;
}

/** Shrinks archived journal files to `maxMb`; returns what journalctl reports freed (one line per journal folder). */
async function vacuumJournal(maxMb: number, dryRun: boolean, ctx: ActionContext) {
  const before = await journalUsage(ctx);
  const limit = maxMb * UNITS.M!;
  if (dryRun) {
    return { usedMb: before === null ? null : toMb(before), limitMb: maxMb, note: "archived files above the limit would be removed; the active file stays" };
  }
  const result = await runProgram(ctx, "journalctl", [`--vacuum-size=${maxMb}M`], { asRoot: true, timeoutMs: JOURNAL_TIMEOUT_MS });
  if (result.code !== 0) throw new ActionError("exec_failed", programFailure("journalctl", result));
  const freed = [...(result.stdout + result.stderr).matchAll(/freed ([0-9.]+[BKMGT])/g)].reduce((sum, m) => sum + (parseSize(m[1]!) ?? 0), 0);
  const after = await journalUsage(ctx);
  return {
    usedMbBefore: before === null ? null : toMb(before),
    usedMbAfter: after === null ? null : toMb(after),
    limitMb: maxMb,
    freedBytes: freed,
    ...(after !== null && after > limit && { note: "the active journal file is never vacuumed, so usage can stay above the limit" }),
  };
}

export async function diskClean(params: ActionParams<"disk.clean">, ctx: ActionContext): Promise<ActionOutcome> {
  requireLinux("cleaning disk space");
  const temp =
    params.tempOlderThanHours === undefined
      ? null
      : await cleanTemporaryFiles({
          roots: ctx.host.tempRoots,
          olderThanMs: params.tempOlderThanHours * HOUR_MS,
          keep: ctx.host.keep,
          removeRootOwned: actsOnRootOwned(ctx.host.tier),
          remove: (dir, name, folder) => removeAs(ctx.processes, dir, name, folder),
          dryRun: params.dryRun,
          signal: ctx.signal,
          deadline: Date.now() + TEMP_TIME_LIMIT_MS,
        });
  const journal = params.journalMaxMb === undefined ? null : await vacuumJournal(params.journalMaxMb, params.dryRun, ctx);
  const freedBytes = (temp?.freedBytes ?? 0) + (journal && "freedBytes" in journal ? journal.freedBytes : 0);
  writeJson(ctx.out, {
    ...(params.dryRun && { dryRun: true }),
    [params.dryRun ? "wouldFreeMb" : "freedMb"]: toMb(freedBytes),
    [params.dryRun ? "wouldFreeBytes" : "freedBytes"]: freedBytes,
    ...(temp && {
      temporaryFiles: {
        folders: ctx.host.tempRoots,
        olderThanHours: params.tempOlderThanHours,
        [params.dryRun ? "wouldRemove" : "removed"]: temp.removedFiles,
        ...(!params.dryRun && { removedFolders: temp.removedFolders }),
        skipped: temp.skipped,
        largest: temp.largest.map((f) => [toMb(f.bytes), f.path]),
        ...(temp.incomplete && { incomplete: temp.incomplete }),
      },
    }),
    ...(journal && { journal }),
  });
  return {};
}
