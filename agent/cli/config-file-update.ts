import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CliError, issuesLine } from "./cli-error.ts";
import type { z } from "zod";
import { ConfigFile, defaultConfigPath } from "./config-file.ts";

/** The file as written: checked against the schema, but kept without the defaults parsing would fill in. */
export type ConfigFileText = z.input<typeof ConfigFile>;
import type { CliIo } from "./io.ts";

/** The config file `cortex login` writes: --config, else $CORTEX_CONFIG, else the default path. */
export function configPathFor(io: CliIo, flagPath: string | undefined): string {
  return flagPath ?? (io.env.CORTEX_CONFIG || undefined) ?? defaultConfigPath(io);
}

/** The config file at `path` as it is now; a file that does not exist yet reads as empty. */
export function readConfigForUpdate(path: string): ConfigFileText {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`config file ${path} is not valid JSON, so it was left alone: ${(error as Error).message}`);
  }
  const parsed = ConfigFile.safeParse(json);
  if (!parsed.success) throw new CliError(`config file ${path} was left alone: ${issuesLine(parsed.error)}`);
  return json as ConfigFileText;
}

/**
 * Rewrites the config file with `change` applied, keeping everything else in it. The file holds an API key, so it
 * is readable by its owner only (0600, in a 0700 folder when the folder is new), whatever its mode was before.
 */
export function updateConfigFile(path: string, change: (config: ConfigFileText) => ConfigFileText): ConfigFileText {
  const next = change(readConfigForUpdate(path));
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return next;
}
