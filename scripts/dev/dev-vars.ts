import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, chmodSync } from "node:fs";

/** The secrets a local hub needs, created once in `.dev.vars` (which wrangler dev reads) and kept from then on. */
const REQUIRED = {
  CORTEX_ADMIN_KEY: () => `cx_admin_${randomBytes(32).toString("hex")}`,
  CORTEX_ENCRYPTION_KEY: () => randomBytes(32).toString("base64"),
} as const;

export function parseDevVars(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) vars.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
  }
  return vars;
}

/** Adds whatever secret is missing, never touching the ones already there; returns all of them. */
export function ensureDevVars(path: string): { vars: Map<string, string>; created: string[] } {
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const vars = parseDevVars(text);
  const created: string[] = [];
  let out = text && !text.endsWith("\n") ? `${text}\n` : text;
  for (const [name, make] of Object.entries(REQUIRED)) {
    if (vars.get(name)) continue;
    const value = make();
    vars.set(name, value);
    out += `${name}=${value}\n`;
    created.push(name);
  }
  if (created.length) {
    writeFileSync(path, out, { mode: 0o600 });
    chmodSync(path, 0o600);
  }
  return { vars, created };
}
