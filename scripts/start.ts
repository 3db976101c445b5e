import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
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

const { vars, created } = ensureDevVars(join(root, ".dev.vars"));
if (created.length) console.log(`created ${created.join(", ")} in .dev.vars`);
const adminKey = vars.get("CORTEX_ADMIN_KEY")!;

const hub = await startDevHub({ cwd: root, port, host });
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
  mkdirSync(DEFAULT_SANDBOX_ROOT, { recursive: true });
  // The token goes in a file only this user can read: not on the command line, not in the agent's environment.
  const tokenFile = join(root, ".cortex-local", "local-node.token");
  writeFileSync(tokenFile, `${local.token}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  agent = spawn(
    process.execPath,
    [join(root, "bin", "cortex.mjs"), "node", "connect", "--endpoint", `${wsUrl}/api/sites/default/connect`, "--tier", "unprivileged", "--state-dir", join(root, ".cortex-local", "agent"), "--token-file", tokenFile],
    { cwd: root, stdio: "inherit" },
  );
  agent.once("exit", (code) => console.error(`local agent stopped (exit ${code}); the hub keeps running`));
  console.log(`connecting this machine as node "local" (tier unprivileged, sandbox ${DEFAULT_SANDBOX_ROOT}); CORTEX_LOCAL_NODE=0 turns this off`);
}
