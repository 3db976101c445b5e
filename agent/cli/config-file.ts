import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod";
import { SiteId } from "../../protocol/identifiers.ts";
import { AgentOptions } from "../connection/agent-options.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import type { CliIo } from "./io.ts";

/** Strict so that a misspelt key is reported instead of silently ignored. */
export const ConfigFile = z
  .object({
    hub: z.string().url().optional(),
    site: SiteId.optional(),
    apiKey: z.string().min(1).optional(),
    connect: AgentOptions.partial().strict().optional(),
  })
  .strict();
export type ConfigFile = z.output<typeof ConfigFile>;

export function defaultConfigPath(io: CliIo): string {
  return join(io.homedir, ".config", "cortex", "config.json");
}

/**
 * The config file named by --config, else $CORTEX_CONFIG, else the default path. Only the default path may be
 * missing: a file the user named explicitly and that is not there is a mistake worth stopping for.
 */
export function loadConfigFile(io: CliIo, flagPath: string | undefined): ConfigFile {
  const named = flagPath ?? (io.env.CORTEX_CONFIG || undefined);
  const path = named ?? defaultConfigPath(io);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (!named && (error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = ConfigFile.safeParse(json);
  if (!parsed.success) throw new CliError(`config file ${path}: ${issuesLine(parsed.error)}`);
  return parsed.data;
}
