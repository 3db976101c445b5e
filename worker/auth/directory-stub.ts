import { DIRECTORY_NAME } from "../../durable-objects/directory/directory.ts";
import type { Env } from "../env.ts";

export function directoryOf(env: Env) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));
}
