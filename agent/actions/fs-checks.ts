import { stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { ActionError, fsFailure } from "./action-error.ts";

export async function statOrFail(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    throw fsFailure(err, path);
  }
}

export async function requireDirectory(path: string, what = "directory"): Promise<void> {
  const info = await statOrFail(path);
  if (!info.isDirectory()) throw new ActionError("invalid_params", `${what} ${path} is not a directory`);
}
