import type { PathPolicy } from "../sandbox/path-policy.ts";
import { statVerified } from "../sandbox/verified-fs.ts";
import { ActionError } from "./action-error.ts";

/** A working directory by its real path, checked by the policy. */
export async function verifiedDirectory(path: string, policy: PathPolicy, what = "directory"): Promise<string> {
  const { real, stats } = await statVerified(path, policy);
  if (!stats.isDirectory()) throw new ActionError("invalid_params", `${what} ${path} is not a directory`);
  return real;
}
