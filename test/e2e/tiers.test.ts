import { execFileSync } from "node:child_process";
import { existsSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findAllowedCommands, installSudoersDropIn, sudoersDropIn } from "../../agent/privilege/sudoers.ts";
import { IS_ROOT, NOT_ROOT_REASON, TEST_ACTION_USER } from "../support/action-user.ts";
import { EventCollector } from "../support/event-collector.ts";
import { Fleet, type AgentHandle } from "../support/fleet.ts";
import { pidsMatching } from "../support/leftovers.ts";
import { swapSymlink } from "../support/symlink-swapper.ts";
import { waitFor } from "../support/wait-for.ts";

/**
 * The capability tiers as the operating system enforces them, end to end: a real hub under wrangler dev, real agents
 * started as root with an action user, directives through the hub's API. Each attack here got through before.
 */

let fleet: Fleet;
let sudoNode: AgentHandle;
let reader: AgentHandle;

beforeAll(async () => {
  fleet = await Fleet.start();
  sudoNode = await fleet.connectedNode("os-sudo", "sudo");
  reader = await fleet.connectedNode("os-reader", "unprivileged");
});

afterAll(async () => {
  await fleet?.close();
});

const unique = (name: string) => `cortex-e2e-${name}-${process.pid}-${Date.now().toString(36)}`;

function gone(marker: string): Promise<true> {
  return waitFor(`every process of ${marker} to be gone`, () => pidsMatching(marker).length === 0 || undefined, { timeoutMs: 20_000 });
}

function running(marker: string): Promise<number[]> {
  return waitFor(`a process of ${marker}`, () => {
    const pids = pidsMatching(`^${marker} `);
    return pids.length ? pids : undefined;
  });
}

describe("file actions check what they open", () => {
  it("refuses <sandbox>/missing/../link-to-passwd on an unprivileged node", async () => {
    symlinkSync("/etc/passwd", join(reader.sandbox, "link-to-passwd"));
    const view = await fleet.api.runDirective("os-reader", { action: "read", params: { path: `${reader.sandbox}/missing/../link-to-passwd` } });
    expect(view.status).not.toBe("done");
    expect(view.output ?? "").not.toContain("root:");
  });

  it("refuses /tmp/x/missing/../link-to-etc/f and a dangling symlink to /etc/<new> on a sudo node, creating nothing", async () => {
    const x = fleet.dirs.makeOpen("cortex-e2e-x-");
    symlinkSync("/etc", join(x, "link-to-etc"));
    const name = unique("f");
    const climb = await fleet.api.runDirective("os-sudo", { action: "write", params: { path: `${x}/missing/../link-to-etc/${name}`, content: "owned" } });
    expect(climb.status).not.toBe("done");
    const dangling = unique("new-file");
    symlinkSync(join("/etc", dangling), join(x, "dangling"));
    const viaLink = await fleet.api.runDirective("os-sudo", { action: "write", params: { path: join(x, "dangling"), content: "owned" } });
    expect(viaLink).toMatchObject({ status: "refused", errorCode: "tier_refused" });
    expect(existsSync(join("/etc", name))).toBe(false);
    expect(existsSync(join("/etc", dangling))).toBe(false);
    expect(existsSync(join(x, "missing"))).toBe(false);
  });

  it("leaks nothing from a symlink swapped between a file and /etc/shadow 3,000 times while reads run", async () => {
    const swap = join(reader.sandbox, "swap");
    writeFileSync(swap, "harmless text\n");
    let done = false;
    const swapping = swapSymlink(reader.sandbox, 3_000).then(() => (done = true));
    let leaks = 0;
    let reads = 0;
    while (!done) {
      const views = await Promise.all(Array.from({ length: 4 }, () => fleet.api.runDirective("os-reader", { action: "read", params: { path: swap } })));
      for (const view of views) {
        if ((view.output ?? "").includes("root:")) leaks++;
        if (view.status === "done") reads++;
      }
    }
    await swapping;
    expect(leaks).toBe(0);
    expect(reads).toBeGreaterThan(0);
  });

  it("refuses to start an agent whose --sandbox is a symlink to /, in one line, exit 78", async () => {
    const creds = await fleet.register("os-badsandbox", "unprivileged");
    const link = join(fleet.dirs.makeOpen("cortex-e2e-link-"), "sandbox");
    symlinkSync("/", link);
    const agent = fleet.startAgent({ token: creds.token, tier: "unprivileged", sandbox: link });
    const exit = await agent.proc.waitForExit(30_000);
    expect(exit.code).toBe(78);
    expect(agent.proc.stderr).toContain(`error: cannot start: sandbox ${link} is a symlink`);
    expect((await fleet.api.node("os-badsandbox")).status).not.toBe("connected");
  });
});

describe.skipIf(!IS_ROOT)(`actions run as the action user, not root (${NOT_ROOT_REASON})`, () => {
  it("runs shell actions as the action user with a clean environment", async () => {
    const view = await fleet.api.runDirective("os-sudo", { action: "bash", params: { command: "id -un; id -G; env | grep -c CORTEX_NODE_TOKEN || true" } });
    const [user, groups, tokens] = (view.output ?? "").trim().split("\n");
    expect(view.status).toBe("done");
    expect(user).toBe(TEST_ACTION_USER);
    expect(groups!.split(" ")).not.toContain("0");
    expect(tokens).toBe("0");
  });

  it("lets sudo run the package managers the sudoers drop-in allows, and nothing else", async () => {
    const file = `/etc/sudoers.d/cortex-e2e-${process.pid}`;
    installSudoersDropIn(file, sudoersDropIn({ nodeId: "os-sudo", user: TEST_ACTION_USER, commands: findAllowedCommands() }));
    try {
      const allowed = await fleet.api.runDirective("os-sudo", { action: "bash", params: { command: "sudo -n -u root apt-get --version | head -1" } });
      expect(allowed).toMatchObject({ status: "done", exitCode: 0 });
      expect(allowed.output).toMatch(/^apt /);
      const sneaked = await fleet.api.runDirective("os-sudo", { action: "bash", params: { command: "s=sudo; $s -n id -u" } });
      expect(sneaked.status).toBe("failed");
      expect(sneaked.output ?? "").not.toMatch(/^0$/m);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe("cancel, timeouts and restarts reach every process a directive started", () => {
  it("cancel stops a setsid child, a double-forked daemon and a child in its own process group", async () => {
    const marker = fleet.marker("escape");
    const command = [
      `setsid bash -c 'exec -a ${marker} sleep 301' &`,
      `( nohup bash -c 'exec -a ${marker} sleep 302' >/dev/null 2>&1 & ) ;`,
      `set -m; bash -c 'exec -a ${marker} sleep 303' & set +m;`,
      "sleep 60",
    ].join(" ");
    const events = new EventCollector(fleet.api.streamDirective("os-sudo", { action: "bash", params: { command } }));
    const id = await events.directiveId();
    await waitFor("three escaped sleeps", () => (pidsMatching(`^${marker} `).length >= 3 ? true : undefined));
    await fleet.api.cancel(id);
    expect((await events.result(30_000)).directive).toMatchObject({ status: "cancelled" });
    await gone(marker);
  });

  it("a timeout stops what left the process group too", async () => {
    const marker = fleet.marker("timeout");
    const view = await fleet.api.runDirective("os-sudo", { action: "bash", params: { command: `setsid bash -c 'exec -a ${marker} sleep 304' & sleep 60`, timeoutMs: 1_500 } });
    expect(view).toMatchObject({ status: "timed_out" });
    await gone(marker);
  });

  it("an agent restarted after kill -9 stops what its interrupted directive left running", async () => {
    const victim = await fleet.connectedNode("os-victim", "sudo");
    const marker = fleet.marker("crash");
    const events = new EventCollector(fleet.api.streamDirective("os-victim", { action: "bash", params: { command: `setsid bash -c 'exec -a ${marker} sleep 305' & sleep 60` } }));
    await events.directiveId();
    await running(marker);
    victim.proc.killGroup("SIGKILL");
    expect((await events.result(30_000)).directive).toMatchObject({ status: "lost" });
    // Killing the agent does not stop what left its process group.
    expect(pidsMatching(`^${marker} `).length).toBeGreaterThan(0);
    const back = fleet.startAgent({ token: victim.creds.token, tier: "sudo", sandbox: victim.sandbox, stateDir: victim.stateDir });
    await fleet.waitForStatus("os-victim", "connected", 30_000, back.proc);
    await gone(marker);
  });

  it("a restarted agent reports at once a long run that ended while it was down", async () => {
    const node = await fleet.connectedNode("os-runner", "sudo");
    const launched = await fleet.api.runDirective("os-runner", { action: "run.launch", params: { command: "sleep 2; echo finished" } });
    expect(launched.status).toBe("done");
    const runId = (launched.data as { runId: string }).runId;
    node.proc.killGroup("SIGKILL");
    await waitFor("the run to end while the agent is down", () => {
      try {
        return execFileSync("cat", [join(node.stateDir, "runs", runId, "status.json")], { encoding: "utf8" }).includes('"state":"done"') || undefined;
      } catch {
        return undefined;
      }
    });
    const back = fleet.startAgent({ token: node.creds.token, tier: "sudo", sandbox: node.sandbox, stateDir: node.stateDir });
    await fleet.waitForStatus("os-runner", "connected", 30_000, back.proc);
    const connectedAt = Date.now();
    await waitFor(
      "the run's completion in the activity log",
      // The launch's own entry says how the run ended.
      async () => ((await fleet.api.activity({ kind: "directive", node: "os-runner" })).entries.some((e) => e.data?.runId === runId && e.data?.runState === "done") ? true : undefined),
      { timeoutMs: 10_000 },
    );
    expect(Date.now() - connectedAt).toBeLessThan(10_000);
  });
});

describe("a directive the hub gave up as lost", () => {
  it("keeps the result the agent delivers once it is back, as a late result beside the lost record", async () => {
    const node = await fleet.connectedNode("os-late", "sudo");
    const marker = fleet.marker("late");
    const events = new EventCollector(fleet.api.streamDirective("os-late", { action: "bash", params: { command: `bash -c 'exec -a ${marker} sleep 8'; echo finished-late` } }));
    const id = await events.directiveId();
    await running(marker);
    // The hub restarts while the command runs: nobody holds the node's socket, so the directive is lost.
    await fleet.hub.stop();
    const downAt = Date.now();
    await fleet.hub.start();
    await fleet.waitForConnectionSince("os-late", downAt, 60_000, node.proc);
    const view = await waitFor(
      "the late result",
      async () => {
        const seen = await fleet.api.directive(id);
        return seen.lateResult ? seen : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(view).toMatchObject({ status: "lost", lateResult: { success: true, exitCode: 0, output: "finished-late\n" } });
  });
});
