import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventCollector } from "../support/event-collector.ts";
import { Fleet, type AgentHandle } from "../support/fleet.ts";
import { pidsMatching } from "../support/leftovers.ts";
import { waitFor } from "../support/wait-for.ts";

let fleet: Fleet;
let worker: AgentHandle;
let reader: AgentHandle;

beforeAll(async () => {
  fleet = await Fleet.start();
  worker = await fleet.connectedNode("worker", "sudo");
  reader = await fleet.connectedNode("reader", "unprivileged");
});

afterAll(async () => {
  await fleet?.close();
});

/** A remote `sleep 30` whose process is named after the marker, so the test can see it on this machine. */
function markedSleep(marker: string): string {
  return `(exec -a ${marker} sleep 30); echo woke-up`;
}

/** The remote sleep itself (its command line starts with the marker), not the CLI that mentions it. */
function remoteSleepRunning(marker: string): Promise<number[]> {
  return waitFor(`the remote sleep ${marker} to start`, () => {
    const pids = pidsMatching(`^${marker} 30`);
    return pids.length ? pids : undefined;
  });
}

function nothingLeft(marker: string): Promise<true> {
  return waitFor(`every process of ${marker} to be gone`, () => pidsMatching(marker).length === 0 || undefined, { timeoutMs: 15_000 });
}

describe("directives through the real CLI, hub and agent", () => {
  it("streams every line of a command's output exactly once and in order", async () => {
    const out = await fleet.cortex.run(["exec", "worker", "--", "for i in $(seq 1 200); do echo line-$i; done"]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(Array.from({ length: 200 }, (_, i) => `line-${i + 1}\n`).join(""));
  });

  it("delivers output chunks while the command still runs, well before the result", async () => {
    const events = new EventCollector(fleet.api.streamDirective("worker", { action: "bash", params: { command: "echo first; sleep 3; echo second" } }));
    const result = await events.result();
    await events.done;
    const chunks = events.events.filter((e) => e.event === "chunk");
    expect(chunks.map((c) => (c.event === "chunk" ? c.chunk : "")).join("")).toBe("first\nsecond\n");
    const firstChunk = chunks[0]!;
    expect(firstChunk.event === "chunk" && firstChunk.chunk).toBe("first\n");
    expect(result.receivedAt - firstChunk.receivedAt).toBeGreaterThanOrEqual(2_000);
    expect(result.directive).toMatchObject({ status: "done", exitCode: 0, output: "first\nsecond\n" });
  });

  it("makes the remote exit code the CLI's exit code, with stdout and stderr kept apart", async () => {
    const out = await fleet.cortex.run(["exec", "worker", "--", "echo to-out; echo to-err >&2; exit 7"]);
    expect(out.code).toBe(7);
    expect(out.stdout).toBe("to-out\n");
    expect(out.stderr).toContain("to-err\n");
  });

  it("exits 128 + the signal's number when a signal kills the remote command, as a shell would", async () => {
    const out = await fleet.cortex.run(["exec", "worker", "--", "echo before; kill -KILL $$"]);
    expect(out.code).toBe(137);
    expect(out.stdout).toBe("before\n");
    expect(out.stderr).toContain("killed by SIGKILL");
  });

  it("cancels a running command through the API and leaves no process of it behind on the node", async () => {
    const marker = fleet.marker("api-cancel");
    const events = new EventCollector(fleet.api.streamDirective("worker", { action: "bash", params: { command: markedSleep(marker) } }));
    const id = await events.directiveId();
    await remoteSleepRunning(marker);
    const cancelled = await fleet.api.cancel(id);
    expect(cancelled.status).toBe("cancelled");
    const { directive } = await events.result();
    expect(directive.status).toBe("cancelled");
    await nothingLeft(marker);
    expect(directive.output ?? "").not.toContain("woke-up");
  });

  it("cancels the remote command when `cortex exec` gets Ctrl-C, exits 130, and leaves no process behind", async () => {
    const marker = fleet.marker("sigint");
    const exec = fleet.cortex.spawn(["exec", "worker", "--", markedSleep(marker)]);
    await remoteSleepRunning(marker);
    exec.signal("SIGINT");
    const exit = await exec.waitForExit(20_000);
    expect(exit.code).toBe(130);
    await nothingLeft(marker);
    const latest = (await fleet.api.directives({ node: "worker", limit: 1 })).directives[0]!;
    expect(latest.params.command).toBe(markedSleep(marker));
    expect(latest.status).toBe("cancelled");
  });

  it("stops a command at its --timeout, records it as timed_out, and leaves no process behind", async () => {
    const marker = fleet.marker("timeout");
    const started = Date.now();
    const out = await fleet.cortex.run(["exec", "--timeout", "2", "worker", "--", markedSleep(marker)]);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/timed out/);
    const latest = (await fleet.api.directives({ node: "worker", limit: 1 })).directives[0]!;
    expect(latest).toMatchObject({ status: "timed_out", errorCode: "timeout" });
    await nothingLeft(marker);
  });

  it("marks a directive lost when its node is killed mid-run, and never runs it again", async () => {
    const victim = await fleet.connectedNode("victim", "sudo");
    const marker = fleet.marker("lost");
    const events = new EventCollector(fleet.api.streamDirective("victim", { action: "bash", params: { command: markedSleep(marker) } }));
    const id = await events.directiveId();
    await remoteSleepRunning(marker);
    victim.proc.killGroup("SIGKILL");
    const { directive } = await events.result(30_000);
    expect(directive).toMatchObject({ id, status: "lost", errorCode: "lost" });

    // The machine comes back (same state folder): the hub does not send the lost directive again.
    const back = fleet.startAgent({ token: victim.creds.token, tier: "sudo", sandbox: victim.sandbox, stateDir: victim.stateDir });
    await fleet.waitForStatus("victim", "connected", 30_000, back.proc);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await fleet.api.directive(id)).toMatchObject({ status: "lost" });
    expect((await fleet.api.directives({ node: "victim" })).directives).toHaveLength(1);
  });

  it("refuses on the hub a shell command for an unprivileged node, without sending it", async () => {
    const out = await fleet.cortex.run(["exec", "reader", "--", "echo should-not-run"]);
    expect(out.code).toBe(1);
    expect(out.stdout).not.toContain("should-not-run");
    expect(out.stderr).toContain("refused");
    expect(out.stderr).toContain("not allowed at tier unprivileged");
    const latest = (await fleet.api.directives({ node: "reader", limit: 1 })).directives[0]!;
    expect(latest).toMatchObject({ status: "refused", errorCode: "tier_refused", sentAt: null });
  });

  it("lets an unprivileged node read inside its sandbox but refuses on the agent a symlink or '..' that leads outside", async () => {
    writeFileSync(join(reader.sandbox, "notes.txt"), "inside the sandbox\n");
    symlinkSync("/etc", join(reader.sandbox, "link"));

    const ok = await fleet.cortex.run(["read", "reader", join(reader.sandbox, "notes.txt")]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("inside the sandbox");

    // Both paths look inside the sandbox to the hub, which cannot see symlinks; only the agent can tell.
    for (const path of [`${reader.sandbox}/link/hostname`, `${reader.sandbox}/link/../etc/hostname`]) {
      const out = await fleet.cortex.run(["read", "reader", path]);
      expect(out.code, path).toBe(1);
      expect(out.stderr, path).toMatch(/refused.*outside the sandbox/);
      const latest = (await fleet.api.directives({ node: "reader", limit: 1 })).directives[0]!;
      expect(latest.params.path).toBe(path);
      expect(latest).toMatchObject({ status: "refused", errorCode: "tier_refused" });
      expect(out.stdout, `${path} printed nothing of /etc`).toBe("");
      expect(latest.sentAt, `${path} was sent to the agent`).not.toBeNull();
    }

    // A plain '..' out of the sandbox is visible to the hub, which refuses it before sending.
    const climb = `${reader.sandbox}/../../../etc/hostname`;
    const out = await fleet.cortex.run(["read", "reader", climb]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/refused.*outside the sandbox/);
    const latest = (await fleet.api.directives({ node: "reader", limit: 1 })).directives[0]!;
    expect(latest).toMatchObject({ status: "refused", sentAt: null });
  });
});
