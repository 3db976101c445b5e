import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DirectiveExecutor } from "../../agent/directives/directive-executor.ts";
import { directive, executor, FakeHub, isolateHome, processAlive, cleanUp, run, tempDir, waitUntil } from "./executor-harness.ts";

isolateHome();
afterEach(cleanUp);

/** Starts `sleep 30` in the background of a bash directive and returns the sleep's pid once it is printed. */
async function startSleeper(agent: DirectiveExecutor, hub: FakeHub, extra = {}) {
  const message = directive("bash", { command: "sleep 30 & echo $!; wait" }, extra);
  agent.run(message, hub.send);
  await waitUntil(() => hub.chunks(message.id).length > 0, 10_000, "the sleeper's pid");
  const pid = Number(hub.chunks(message.id)[0]!.chunk.trim());
  expect(processAlive(pid)).toBe(true);
  return { message, pid };
}

describe("directive lifecycle", () => {
  it("acknowledges a directive when it starts and answers with exactly one result", async () => {
    const hub = new FakeHub();
    const message = directive("bash", { command: "exit 3" });
    const result = await run(executor(), hub, message);
    expect(hub.messages[0]).toEqual({ type: "directive_ack", directiveId: message.id });
    expect(result).toMatchObject({ success: false, exitCode: 3, error: "exit code 3" });
    expect(result.errorCode).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.results(message.id)).toHaveLength(1);
  });

  it("runs bash as a login shell by default and as a plain non-login shell when login is false", async () => {
    const hub = new FakeHub();
    const agent = executor();
    // A profile that announces itself proves the profile scripts ran, not only bash's own idea of a login shell.
    const profile = join(process.env.HOME!, ".bash_profile");
    writeFileSync(profile, "echo profile-ran\n");
    const probe = "if shopt -q login_shell; then echo login; else echo plain; fi";
    try {
      expect(await run(agent, hub, directive("bash", { command: probe }))).toMatchObject({ success: true, output: "profile-ran\nlogin\n" });
      expect(await run(agent, hub, directive("bash", { command: probe, login: true }))).toMatchObject({ success: true, output: "profile-ran\nlogin\n" });
      expect(await run(agent, hub, directive("bash", { command: probe, login: false }))).toMatchObject({ success: true, output: "plain\n" });
    } finally {
      rmSync(profile);
    }
  });

  it("refuses a login flag that is not a boolean", async () => {
    const hub = new FakeHub();
    const result = await run(executor(), hub, directive("bash", { command: "echo hi", login: "no" }));
    expect(result).toMatchObject({ success: false, errorCode: "invalid_params" });
    expect(result.output).toBe("");
    });

  it("reports the signal that killed a command, with no exit code, so callers can exit 128 + its number", async () => {
    const hub = new FakeHub();
    const result = await run(executor(), hub, directive("bash", { command: "kill -TERM $$" }));
    expect(result).toMatchObject({ success: false, exitCode: null, signal: "SIGTERM", error: "killed by SIGTERM" });
  });

  it("refuses invalid params with invalid_params and a message naming the problem", async () => {
    const hub = new FakeHub();
    const result = await run(executor(), hub, directive("read", { path: "relative/file" }));
    expect(result).toMatchObject({ success: false, errorCode: "invalid_params" });
    expect(result.error).toContain("path must be absolute");
  });

  it("cancel stops a running command and every process it started, within a second, as cancelled", async () => {
    const hub = new FakeHub();
    const agent = executor({ killGraceMs: 100 });
    const { message, pid } = await startSleeper(agent, hub);
    expect(agent.activeCount()).toBe(1);
    const started = Date.now();
    agent.cancel(message.id);
    const result = await hub.result(message.id);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(result).toMatchObject({ success: false, errorCode: "cancelled" });
    expect(result.output).toBe(`${pid}\n`);
    await waitUntil(() => !processAlive(pid), 1_000, "the background sleep to die");
    expect(agent.activeCount()).toBe(0);
  });

  it("times out with the bash timeoutMs, killing the process tree", async () => {
    const hub = new FakeHub();
    const agent = executor();
    const message = directive("bash", { command: "echo started; sleep 30 & echo $!; wait", timeoutMs: 400 });
    const result = await run(agent, hub, message);
    expect(result).toMatchObject({ success: false, errorCode: "timeout" });
    expect(result.error).toContain("400 ms");
    const pid = Number(result.output.split("\n")[1]);
    await waitUntil(() => !processAlive(pid), 1_000, "the background sleep to die");
  });

  it("uses the directive's timeoutMs when it is shorter than the bash one", async () => {
    const hub = new FakeHub();
    const result = await run(executor(), hub, directive("bash", { command: "sleep 30", timeoutMs: 60_000 }, { timeoutMs: 300 }));
    expect(result).toMatchObject({ errorCode: "timeout", error: "timed out after 300 ms" });
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it("shutdown stops everything in flight and reports it cancelled", async () => {
    const hub = new FakeHub();
    const agent = executor();
    const { message, pid } = await startSleeper(agent, hub);
    await agent.shutdown();
    expect(hub.results(message.id)[0]).toMatchObject({ errorCode: "cancelled", error: "the agent is shutting down" });
    await waitUntil(() => !processAlive(pid), 1_000, "the background sleep to die");
  });
});

describe("repeated directive ids", () => {
  it("acknowledges a repeat as a duplicate and re-sends the stored result without running it again", async () => {
    const hub = new FakeHub();
    const agent = executor();
    const counter = join(tempDir(), "count");
    const message = directive("bash", { command: `echo run >> ${counter}; echo done` });
    await run(agent, hub, message);
    agent.run(message, hub.send);
    await waitUntil(() => hub.results(message.id).length === 2, 2_000, "the stored result");
    expect(readFileSync(counter, "utf8")).toBe("run\n");
    expect(hub.messages.filter((m) => m.type === "directive_ack")).toEqual([
      { type: "directive_ack", directiveId: message.id },
      { type: "directive_ack", directiveId: message.id, duplicate: true },
    ]);
    expect(hub.results(message.id)[1]).toEqual(hub.results(message.id)[0]);
  });

  it("acknowledges a repeat of a directive still running without starting it again", async () => {
    const hub = new FakeHub();
    const agent = executor();
    const { message } = await startSleeper(agent, hub);
    agent.run(message, hub.send);
    expect(agent.activeCount()).toBe(1);
    expect(hub.messages.at(-1)).toEqual({ type: "directive_ack", directiveId: message.id, duplicate: true });
    agent.cancel(message.id);
    await hub.result(message.id);
    expect(hub.results(message.id)).toHaveLength(1);
  });

  it("remembers finished directives across a restart through the state dir", async () => {
    const stateDir = tempDir();
    const counter = join(tempDir(), "count");
    const message = directive("bash", { command: `echo run >> ${counter}; echo done` });
    await run(executor({ stateDir }), new FakeHub(), message);

    const hub = new FakeHub();
    const restarted = executor({ stateDir });
    restarted.run(message, hub.send);
    expect(hub.messages[0]).toEqual({ type: "directive_ack", directiveId: message.id, duplicate: true });
    expect(hub.results(message.id)[0]).toMatchObject({ success: true, output: "done\n" });
    expect(readFileSync(counter, "utf8")).toBe("run\n");
  });

  it("answers a repeat of a directive interrupted by a restart as lost, never re-running it", async () => {
    const stateDir = tempDir();
    const message = directive("bash", { command: "echo ran" });
    writeFileSync(join(stateDir, "directives.jsonl"), `${JSON.stringify({ id: message.id, startedAt: Date.now() })}\n{"torn`);
    const hub = new FakeHub();
    executor({ stateDir }).run(message, hub.send);
    expect(hub.results(message.id)).toEqual([expect.objectContaining({ success: false, errorCode: "lost" })]);
    expect(hub.chunks(message.id)).toHaveLength(0);
  });

});

describe("delivery while disconnected", () => {
  it("keeps a result that finished while offline and sends it on the next connection", async () => {
    const hub = new FakeHub();
    const agent = executor();
    const message = directive("bash", { command: "sleep 0.3; echo late" });
    agent.run(message, hub.send);
    hub.online = false;
    await waitUntil(() => agent.activeCount() === 0, 5_000, "the directive to finish");
    expect(hub.results(message.id)).toHaveLength(0);
    hub.online = true;
    agent.connected(hub.send);
    expect(hub.results(message.id)).toEqual([expect.objectContaining({ success: true, output: "late\n" })]);
    agent.connected(hub.send);
    expect(hub.results(message.id)).toHaveLength(1);
  });
});
