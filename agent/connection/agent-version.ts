import { readFileSync } from "node:fs";
import * as z from "zod";
import { SOURCE_BUILD } from "../../protocol/agent-release.ts";
import { BUNDLE_VERSION } from "../bundle.ts";

const PackageJson = z.object({ version: z.string().min(1).max(64) });

/**
 * Sent in `register` so the hub can tell agent builds apart: the bundle's own version (package version and a hash of
 * its code), or `<package version>+source` when run from a checkout.
 */
export const AGENT_VERSION = BUNDLE_VERSION ?? `${checkoutVersion()}+${SOURCE_BUILD}`;

function checkoutVersion(): string {
  return PackageJson.parse(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))).version;
}
