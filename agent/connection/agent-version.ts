import { readFileSync } from "node:fs";
import { z } from "zod";

const PackageJson = z.object({ version: z.string().min(1).max(64) });

/** The package version, sent in `register` so the hub can tell agent builds apart. */
export const AGENT_VERSION = PackageJson.parse(
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")),
).version;
