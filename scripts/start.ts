import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { ensureSystemUser } from "../agent/privilege/system-user.ts";
import { DEFAULT_SANDBOX_ROOT } from "../protocol/tier-policy.ts";
import { dashboardUrl } from "./dev/dashboard-url.ts";
import { ensureDevVars } from "./dev/dev-vars.ts";
import { ensureLocalNode } from "./dev/local-node.ts";
import { startDevHub } from "./dev/wrangler-dev.ts";

/**
 * `npm start`: the hub under wrangler dev with its local secrets, plus (unless CORTEX_LOCAL_NODE=0) an agent that
 * connects this machine as node `local` at tier unprivileged, so a newcomer sees a live node at once.
 */
const root = resolve(import.meta.dirname, "..");
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? "127.0.0.1";
const withLocalNode = process.env.CORTEX_LOCAL_NODE !== "0";
/** The system user the local node's actions run as when `npm start` runs as root. */
const LOCAL_ACTION_USER = "cortex-local";

const { vars, created } = ensureDevVars(join(root, ".dev.vars"));
if (created.length) console.log(`created ${created.join(", ")} in .dev.vars`);
const adminKey = vars.get("CORTEX_ADMIN_KEY")!;

// A local hub may use a model server on this machine (Ollama at 127.0.0.1:11434) unless .dev.vars says otherwise.
const localModels: Record<string, string> = vars.has("CORTEX_ALLOW_PRIVATE_LLM_URLS") ? {} : { CORTEX_ALLOW_PRIVATE_LLM_URLS: "1" };
const hub = await startDevHub({ cwd: root, port, host, vars: localModels });
const wsUrl = hub.url.replace(/^http/, "ws");
let agent: ChildProcess | null = null;

async function shutdown(code: number): Promise<never> {
  agent?.kill("SIGTERM");
  await hub.stop();
  process.exit(code);
}
process.once("SIGINT", () => void shutdown(0));
process.once("SIGTERM", () => void shutdown(0));
hub.process.once("exit", (code) => {
  console.error(`wrangler dev stopped (exit ${code})`);
  agent?.kill("SIGTERM");
  process.exit(code ?? 1);
});

console.log(`
Cortex hub is running at ${dashboardUrl(host, port)}
  (open it by that name: passkeys work on a host name such as localhost, never on an IP address)
  admin API key:  ${adminKey}   (CORTEX_ADMIN_KEY in .dev.vars; the CLI finds it there when run from this folder)
  try:            npx cortex node list
  add a machine:  npx cortex node register --name <name> --tier sudo   (prints its token and the line that installs it)
`);

if (withLocalNode) {
  const local = await ensureLocalNode({ hubUrl: hub.url, adminKey, stateDir: join(root, ".cortex-local"), id: "local", tier: "unprivileged" });
  const actions = localActionUser();
  // The token goes in a file only this user can read: not on the command line, not in the agent's environment.
  const tokenFile = join(root, ".cortex-local", "local-node.token");
  writeFileSync(tokenFile, `${local.token}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  agent = spawn(
    process.execPath,
    [
      join(root, "bin", "cortex.mjs"),
      "node",
      "connect",
      "--endpoint",
      `${wsUrl}/api/sites/default/connect`,
      "--tier",
      "unprivileged",
      "--state-dir",
      join(root, ".cortex-local", "agent"),
      "--token-file",
      tokenFile,
      "--sandbox",
      actions.sandbox,
      ...(actions.runAs ? ["--run-as", actions.runAs] : []),
    ],
    { cwd: root, stdio: "inherit" },
  );
  agent.once("exit", (code) => console.error(`local agent stopped (exit ${code}); the hub keeps running`));
  console.log(
    `connecting this machine as node "local" (tier unprivileged, sandbox ${actions.sandbox}${actions.runAs ? `, actions as ${actions.runAs}` : ""}); CORTEX_LOCAL_NODE=0 turns this off`,
  );
}

/**
 * Who the local node's actions run as. Run as root, `npm start` does what the installer does: a dedicated system user,
 * `cortex-local`, so the unprivileged node never reads as root; its sandbox must be reachable by that user (a /tmp
 * closed to others, as on some machines, is not). Run as anyone else, actions run as that user.
 */
function localActionUser(): { runAs: string | null; sandbox: string } {
  if (process.platform === "win32" || process.getuid?.() !== 0) return { runAs: null, sandbox: DEFAULT_SANDBOX_ROOT };
  ensureSystemUser(LOCAL_ACTION_USER);
  const openTmp = (statSync(dirname(DEFAULT_SANDBOX_ROOT)).mode & 0o001) !== 0;
  return { runAs: LOCAL_ACTION_USER, sandbox: openTmp ? DEFAULT_SANDBOX_ROOT : join("/var/tmp", basename(DEFAULT_SANDBOX_ROOT)) };
}
