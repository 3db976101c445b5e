import { pathToFileURL } from "node:url";
import { printTable, type BenchResult } from "./results.ts";

/** Runs a bench file's `run` when the file is started on its own (`tsx bench/<name>.bench.ts`). */
export async function runIfMain(moduleUrl: string, run: () => Promise<BenchResult[]>): Promise<void> {
  if (!process.argv[1] || pathToFileURL(process.argv[1]).href !== moduleUrl) return;
  printTable(await run());
}
