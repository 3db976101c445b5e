import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { DeploymentEvent, DeploymentView, type TargetView } from "../../protocol/roost-api.ts";
import { countTargets } from "../../protocol/roost-counts.ts";
import { sendJson, startFakeHub, type FakeHub, type Recorded } from "./cli-fake-hub.ts";
import { runCli } from "./cli-run.ts";

const ID = "r-00000000-0000-4000-8000-000000000001";
let hub: FakeHub | null = null;
afterEach(async () => {
  await hub?.close();
  hub = null;
});

function target(nodeId: string, wave: TargetView["wave"], status: TargetView["status"], extra: Partial<TargetView> = {}): TargetView {
  return { nodeId, wave, status, directiveId: null, progress: null, error: null, startedAt: null, endedAt: null, ...extra };
}

function summary(view: DeploymentView): Omit<DeploymentView, "targets"> {
  const { targets: _targets, ...rest } = view;
  return rest;
}

function deployment(state: DeploymentView["state"], targets: TargetView[], reason: string | null = null): DeploymentView {
  return DeploymentView.parse({
    id: ID,
    kind: "deploy",
    roost: "web",
    version: 3,
    path: "/srv/web",
    canaryPercent: 50,
    promoteAtPercent: 90,
    abortAbovePercent: 25,
    concurrency: 50,
    keep: 3,
    after: null,
    catchUp: false,
    state,
    reason,
    requestedBy: "admin key",
    createdAt: Date.now(),
    updatedAt: Date.now(),
    counts: countTargets(targets),
    targets,
  });
}

/** Answers the deployment POST with these events, as server-sent events. */
function streams(events: DeploymentEvent[]) {
  return (_req: Recorded, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "x-cortex-deployment": ID });
    for (const e of events) res.write(`data: ${JSON.stringify(DeploymentEvent.parse(e))}\n\n`);
    res.end();
  };
}

function deploy(...args: string[]) {
  return runCli(["roost", "deploy", "web@3", "--path", "/srv/web", ...args], { env: { CORTEX_HUB: hub!.url, CORTEX_API_KEY: "k" } });
}

describe("cortex roost deploy", () => {
  it("sends the options as a deployment request and prints each machine's progress and outcome", async () => {
    const start = [target("a", "canary", "pending"), target("b", "rest", "pending")];
    const end = [target("a", "canary", "done"), target("b", "rest", "done")];
    hub = await startFakeHub({
      "POST /api/sites/default/roosts/web/deployments": streams([
        { event: "snapshot", deployment: deployment("canary", start) },
        { event: "target", deploymentId: ID, target: target("a", "canary", "running", { progress: { phase: "download", bytesDone: 0, bytesTotal: 4096, chunksDone: 0, chunksTotal: 1 } }) },
        { event: "target", deploymentId: ID, target: target("a", "canary", "running", { progress: { phase: "download", bytesDone: 4096, bytesTotal: 4096, chunksDone: 1, chunksTotal: 1 } }) },
        { event: "target", deploymentId: ID, target: target("a", "canary", "running", { progress: { phase: "switch", bytesDone: 0, bytesTotal: 0, chunksDone: 0, chunksTotal: 0 } }) },
        { event: "target", deploymentId: ID, target: target("a", "canary", "done") },
        { event: "state", deployment: summary(deployment("rolling", end)) },
        { event: "target", deploymentId: ID, target: target("b", "rest", "running") },
        { event: "target", deploymentId: ID, target: target("b", "rest", "done") },
        { event: "end", deployment: deployment("completed", end) },
      ]),
    });
    const out = await deploy("--to", "all", "--canary", "50%", "--abort-above", "10", "--keep", "2", "--after", "systemctl reload web", "--catch-up");
    expect(out.code, out.stderr).toBe(0);
    expect((await hub.waitFor("POST /api/sites/default/roosts/web/deployments")).body).toEqual({
      version: 3,
      target: { all: true },
      path: "/srv/web",
      canaryPercent: 50,
      abortAbovePercent: 10,
      keep: 2,
      after: "systemctl reload web",
      catchUp: true,
    });
    // A line per change of status or phase (not per progress report) when stderr is not a terminal.
    expect(out.stderr).toMatch(/a: running \(canary\)\na: switch\na: done\nrolling\nb: running\nb: done/);
    expect(out.stdout).toMatch(/completed: 2 done, 0 failed, 0 running of 2/);
  });

  it("exits 2 when the canary holds the deployment, saying how to promote or abort it", async () => {
    const held = [target("a", "canary", "failed", { error: "the after command failed: exit code 3" }), target("b", "rest", "pending")];
    hub = await startFakeHub({
      "POST /api/sites/default/roosts/web/deployments": streams([
        { event: "snapshot", deployment: deployment("canary", [target("a", "canary", "running"), target("b", "rest", "pending")]) },
        { event: "target", deploymentId: ID, target: held[0]! },
        { event: "state", deployment: summary(deployment("held", held, "the canary succeeded on 0 of 1")) },
      ]),
    });
    const out = await deploy("--nodes", "a,b");
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/a: failed: the after command failed: exit code 3/);
    expect(out.stderr).toContain(`cortex roost promote ${ID}`);
  });

  it("exits 1 when the deployment is aborted, and 1 when the stream ends before the deployment does", async () => {
    const aborted = [target("a", "canary", "failed", { error: "boom" }), target("b", "rest", "skipped")];
    hub = await startFakeHub({ "POST /api/sites/default/roosts/web/deployments": streams([{ event: "end", deployment: deployment("aborted", aborted, "1 of 1 failed") }]) });
    const out = await deploy("--group", "kiosks");
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/aborted: 0 done, 1 failed, 0 running, 1 skipped of 2 \(1 of 1 failed\)/);
    await hub.close();

    hub = await startFakeHub({ "POST /api/sites/default/roosts/web/deployments": streams([{ event: "snapshot", deployment: deployment("canary", aborted) }]) });
    const cut = await deploy("--to", "all");
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/ended the stream before the deployment ended/);
  });

  it("starts without following with --no-wait, and refuses unclear targets before sending anything", async () => {
    hub = await startFakeHub({ "POST /api/sites/default/roosts/web/deployments": (_req, res) => sendJson(res, 201, deployment("canary", [target("a", "canary", "running")])) });
    const out = await deploy("--nodes", "a", "--no-wait");
    expect(out).toMatchObject({ code: 0, stdout: `${ID}\n` });
    expect((await deploy("--to", "all", "--nodes", "a")).stderr).toMatch(/name the machines once/);
    expect((await deploy()).stderr).toMatch(/name the machines once/);
    expect((await deploy("--to", "everyone")).stderr).toMatch(/--to takes `all`/);
    expect((await deploy("--to", "all", "--canary", "150%")).code).not.toBe(0);
    expect(hub.requests).toHaveLength(1);
  });
});
